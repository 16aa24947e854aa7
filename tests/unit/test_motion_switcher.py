"""The motion switcher RPC's service state (psi0_core.motion_switcher), without DDS."""

import json

import pytest

from psi0_core.motion_switcher import (
    API_ID_VERSION,
    API_VERSION,
    CHECK_MODE,
    ERR_API_NOT_IMPLEMENTED,
    ERR_BAD_PARAMETER,
    OK,
    RELEASE_MODE,
    SELECT_MODE,
    MotionSwitcherState,
    request,
)

pytestmark = pytest.mark.unit


def test_check_release_select_as_a_g1_answers():
    state = MotionSwitcherState("ai")
    req = request(CHECK_MODE)
    r = state.handle(req)
    assert r.header.identity.id == req.header.identity.id and r.header.identity.api_id == CHECK_MODE  # matched on both
    assert r.header.status.code == OK and json.loads(r.data)["name"] == "ai"
    assert state.handle(request(RELEASE_MODE)).header.status.code == OK
    assert json.loads(state.handle(request(CHECK_MODE)).data)["name"] == ""
    assert state.handle(request(SELECT_MODE, json.dumps({"name": "normal"}))).header.status.code == OK
    assert state.mode == "normal"


def test_bad_requests_get_error_codes_and_change_nothing():
    state = MotionSwitcherState("ai")
    assert state.handle(request(SELECT_MODE, "not json")).header.status.code == ERR_BAD_PARAMETER
    assert state.handle(request(4242)).header.status.code == ERR_API_NOT_IMPLEMENTED
    assert state.mode == "ai"
    assert state.handle(request(API_ID_VERSION)).data == API_VERSION


def test_request_ids_are_unique():
    assert len({request(CHECK_MODE).header.identity.id for _ in range(100)}) == 100
