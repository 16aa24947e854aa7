"""Does the committed bundle read the words of its instruction? Open loop (no graph): the head-camera frame of a pick
scene rendered by the simulator's model, the pick task's start pose as the state, fixed flow noise; the first chunk's
arm joints (mean |Δ|, rad) for instructions that must differ. benchmarks/instruction_probe.py measures the same at
length (benchmarks/results/instruction_probe_suite.json)."""

import numpy as np
import pytest

from psi0.evaluate import default_bundle
from psi0.tasks import get_task
from psi0_core.g1_adapter import default_action

pytestmark = [pytest.mark.sim, pytest.mark.slow, pytest.mark.timeout(120)]
WORDS_APART_RAD = 0.05  # two instructions asking for different motions: their first chunks' arms this far apart at least


@pytest.fixture(scope="module")
def first_chunk():
    from psi0_policy.policy import Policy
    from psi0_sim.camera import Camera
    from psi0_sim.model import Scene, table_in_front
    from psi0_sim.physics import G1Physics

    policy = Policy.load(default_bundle())
    pick = get_task("pick_red_cube")
    state = default_action().astype(np.float64)
    state[pick.columns[: len(pick.start_pose(0))]] = pick.start_pose(0)
    x, y, yaw = table_in_front((0.0, 0.0), 0.0, 0.30)
    physics = G1Physics(scene=Scene(table_pos=(x, y), table_yaw=yaw).with_objects(1000))
    camera = Camera(physics.model)
    image = camera.render(physics.data)
    camera.close()

    def chunk(text: str) -> np.ndarray:  # (noise seeds, H, 14 arm joints)
        return np.array([policy.infer([image], text, state, seed=k)[:, pick.columns[:14]] for k in range(3)])

    return chunk


def apart(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def test_the_committed_bundle_tells_the_tasks_apart_by_length_at_least(first_chunk):
    """What the bundle does follow: a raise, a walk and a pick of different lengths give different motions."""
    pick, right, walk = (first_chunk(t) for t in ("pick up the red cube", "raise your right hand", "walk to the table"))
    assert apart(pick, right) > WORDS_APART_RAD and apart(pick, walk) > WORDS_APART_RAD


@pytest.mark.xfail(strict=True, reason="the committed suite bundle keys its tasks on the instruction's length, not its "
                   "words (instruction_probe_suite.json: 'raise your left hand' vs 'pick up the red cube' 0.0006 rad); "
                   "retrain with instruction_jitter (config/train/demo_suite.yaml) and drop this mark")
def test_the_committed_bundle_tells_raise_left_from_pick(first_chunk):
    pick, left, nonsense = (first_chunk(t) for t in ("pick up the red cube", "raise your left hand", "q" * 20))
    assert apart(pick, left) > WORDS_APART_RAD  # same length (20 characters), different words
    assert apart(pick, nonsense) > WORDS_APART_RAD  # words vs 20 characters of nothing
