"""The G1's motion switcher: the robot's service that says which built-in controller owns the motors.

A G1 boots into Unitree's built-in controller. A second process writing rt/lowcmd then fights it for
the motors, and the S1 single-writer check may not see it (the built-in controller need not appear as
an rt/lowcmd writer). Unitree's low-level examples therefore ask the motion switcher which mode is
active (CheckMode: JSON data with `name`, empty once released) and release it (ReleaseMode) before
they command the motors.

This module speaks that RPC in unitree_sdk2py's wire format (unitree_api Request_ / Response_ on
`rt/api/motion_switcher/request` and `/response`; a reply echoes the request's identity id and api
id; JSON parameters and data), over psi0_core.robot_dds endpoints: the bridge asks without the SDK's
process-wide ChannelFactory, and the simulator and test robots answer as a G1 does. `psi0 motion-mode`
uses the SDK's own MotionSwitcherClient (one process, one domain), which the tests run against this
module's service: both ends of the wire format are checked.
"""

from __future__ import annotations

import itertools
import json
import time

from unitree_sdk2py.idl.unitree_api.msg.dds_ import (
    Request_,
    RequestHeader_,
    RequestIdentity_,
    RequestLease_,
    RequestPolicy_,
    Response_,
    ResponseHeader_,
    ResponseStatus_,
)

from psi0_core.robot_dds import Endpoint, take

SERVICE = "motion_switcher"
REQUEST_TOPIC, RESPONSE_TOPIC = f"rt/api/{SERVICE}/request", f"rt/api/{SERVICE}/response"
API_VERSION = "1.0.0.1"
# api ids (unitree_sdk2py comm/motion_switcher/motion_switcher_api.py; 1 is the RPC layer's own version query)
API_ID_VERSION, CHECK_MODE, SELECT_MODE, RELEASE_MODE = 1, 1001, 1002, 1003
OK, ERR_API_NOT_IMPLEMENTED, ERR_BAD_PARAMETER = 0, 3203, 3204  # unitree_sdk2py rpc/internal.py

_ids = itertools.count(time.monotonic_ns())


def request(api_id: int, parameter: str = "{}") -> Request_:
    """A request with a fresh identity id (replies are matched on it)."""
    header = RequestHeader_(RequestIdentity_(next(_ids), api_id), RequestLease_(0), RequestPolicy_(0, False))
    return Request_(header, parameter, [])


def reply(req: Request_, code: int, data: str = "") -> Response_:
    return Response_(ResponseHeader_(req.header.identity, ResponseStatus_(code)), data, [])


class MotionSwitcherState:
    """What a robot's motion switcher holds: the active mode's name ("" = released). Pure; the simulator and test
    robots serve it."""

    def __init__(self, mode: str = "") -> None:
        self.mode = mode

    def handle(self, req: Request_) -> Response_:
        api = req.header.identity.api_id
        if api == CHECK_MODE:
            return reply(req, OK, json.dumps({"form": "0", "name": self.mode}))
        if api == RELEASE_MODE:
            self.mode = ""
            return reply(req, OK)
        if api == SELECT_MODE:
            try:
                self.mode = str(json.loads(req.parameter)["name"])
            except (ValueError, KeyError, TypeError):
                return reply(req, ERR_BAD_PARAMETER)
            return reply(req, OK)
        if api == API_ID_VERSION:
            return reply(req, OK, API_VERSION)
        return reply(req, ERR_API_NOT_IMPLEMENTED)


class MotionSwitcherService:
    """Serves a MotionSwitcherState on an endpoint. Polled: the owner calls `poll()` from its own loop (no Python on
    Cyclone's threads)."""

    def __init__(self, endpoint: Endpoint, mode: str = "") -> None:
        self.state = MotionSwitcherState(mode)
        self._requests = endpoint.polled_reader(REQUEST_TOPIC, Request_, depth=8)
        self._replies = endpoint.writer(RESPONSE_TOPIC, Response_)
        self.handled = 0

    def poll(self) -> None:
        for req in take(self._requests, 8):
            response = self.state.handle(req)
            self.handled += 1
            if not req.header.policy.noreply:
                self._replies.write(response)


class MotionSwitcherClient:
    """Asks a robot's motion switcher over an endpoint (the bridge's, at start-up)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._requests = endpoint.writer(REQUEST_TOPIC, Request_)
        self._replies = endpoint.polled_reader(RESPONSE_TOPIC, Response_, depth=8)

    def call(self, api_id: int, timeout_s: float, parameter: str = "{}", resend_s: float = 0.1) -> Response_ | None:
        """The reply to one request, or None when none came within `timeout_s`. The request is sent again every
        `resend_s` until a reply comes (the service may not be discovered yet; the calls used here are idempotent)."""
        req = request(api_id, parameter)
        deadline, next_send = time.monotonic() + timeout_s, 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_send:
                self._requests.write(req)
                next_send = now + resend_s
            for r in take(self._replies, 8):
                if r.header.identity.id == req.header.identity.id and r.header.identity.api_id == api_id:
                    return r
            time.sleep(0.01)
        return None

    def active_mode(self, timeout_s: float) -> str | None:
        """The active built-in mode's name ("" when released), or None when no motion switcher answered."""
        r = self.call(CHECK_MODE, timeout_s)
        if r is None or r.header.status.code != OK:
            return None
        try:
            return str(json.loads(r.data or "{}").get("name", ""))
        except ValueError:
            return None
