"""The simulator's cameras render off the physics thread (psi0_sim/render_worker.py, loop.py).

Session 6's CI run failed because a frame rendered inside the physics step kept LowState silent for 100 ms (the bridge
stopped, S2). Fake cameras (a render that sleeps) stand in for Mesa here: what is tested is the hand-over, not GL."""

from __future__ import annotations

import os
import threading
import time

import mujoco
import numpy as np
import pytest

from psi0_sim.loop import SimLoop
from psi0_sim.model import Scene
from psi0_sim.physics import G1Physics
from psi0_sim.render_worker import RenderWorker

pytestmark = pytest.mark.sim

_XML = "<mujoco><worldbody><body><freejoint/><geom size='0.1'/></body></worldbody></mujoco>"


class SlowCamera:
    """Renders the snapshot's qpos[0] into a 1×1 image after `delay_s`; notes its thread's niceness."""

    def __init__(self, delay_s: float = 0.0, fail_at: int | None = None) -> None:
        self.delay_s, self.fail_at = delay_s, fail_at
        self.calls, self.closed, self.nice = 0, False, None

    def render(self, data: mujoco.MjData) -> np.ndarray:
        self.calls += 1
        self.nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("GL context lost")
        time.sleep(self.delay_s)
        return np.full((1, 1, 3), data.qpos[0])

    def close(self) -> None:
        self.closed = True


def _model() -> tuple[mujoco.MjModel, mujoco.MjData]:
    m = mujoco.MjModel.from_xml_string(_XML)
    return m, mujoco.MjData(m)


def _sink() -> tuple[list[tuple[float, float]], object]:
    got: list[tuple[float, float]] = []
    return got, lambda img, t: got.append((t, float(img[0, 0, 0])))


def test_lockstep_renders_every_frame_from_its_own_snapshot_in_order():
    m, d = _model()
    cam = SlowCamera(0.002)
    got, sink = _sink()
    w = RenderWorker(m, [(lambda: cam, sink)], wait_s=None)
    w.start()
    for k in range(20):
        d.qpos[0] = k
        w.submit(d, 0.1 * k, [0])
    time.sleep(0.2)
    w.stop()
    assert got == [(pytest.approx(0.1 * k), float(k)) for k in range(20)]  # image content = the state at its stamp
    assert w.dropped == 0 and w.rendered == [20] and cam.closed


def test_real_time_submit_waits_at_most_wait_s_and_keeps_the_newest_snapshot():
    m, d = _model()
    cam = SlowCamera(0.15)  # far slower than the frame rate
    got, sink = _sink()
    w = RenderWorker(m, [(lambda: cam, sink)], wait_s=0.02)
    w.start()
    worst = 0.0
    for k in range(12):
        d.qpos[0] = k
        t0 = time.monotonic()
        w.submit(d, float(k), [0])
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.01)
    time.sleep(0.4)
    w.stop()
    assert worst < 0.06  # the physics thread never waits for a whole render (0.15 s)
    assert w.dropped > 0 and len(got) + w.dropped == 12
    assert got[-1] == (11.0, 11.0)  # the last snapshot was rendered, not an older one
    assert all(t == v for t, v in got) and [t for t, _ in got] == sorted(t for t, _ in got)


def test_a_replaced_snapshot_hands_its_cameras_to_the_newer_one():
    """Head camera due at one instant, the third-person view at the next: if the first never started, the newer
    snapshot renders both (the video does not lose its frame)."""
    m, d = _model()
    head, view = SlowCamera(0.1), SlowCamera(0.0)
    got_head, sink_head = _sink()
    got_view, sink_view = _sink()
    w = RenderWorker(m, [(lambda: head, sink_head), (lambda: view, sink_view)], wait_s=0.0)
    w.start()
    d.qpos[0] = 1
    w.submit(d, 1.0, [0])  # taken at once: renders for 0.1 s
    time.sleep(0.02)
    d.qpos[0] = 2
    w.submit(d, 2.0, [1])  # waits
    d.qpos[0] = 3
    w.submit(d, 3.0, [0])  # replaces it, and takes over the view
    time.sleep(0.4)
    w.stop()
    assert got_head == [(1.0, 1.0), (3.0, 3.0)] and got_view == [(3.0, 3.0)] and w.dropped == 1


def test_the_worker_runs_below_the_physics_thread():
    m, _ = _model()
    cam = SlowCamera()
    w = RenderWorker(m, [(lambda: cam, lambda img, t: None)], nice=3)
    w.start()
    w.stop()
    assert cam.nice == os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 3  # and this thread kept its own


def test_a_failing_camera_surfaces_on_the_physics_thread():
    m, d = _model()
    w = RenderWorker(m, [(lambda: SlowCamera(fail_at=2), lambda img, t: None)], wait_s=None)
    w.start()  # the first (shader-compiling) render passes
    w.submit(d, 0.0, [0])
    time.sleep(0.1)
    with pytest.raises(RuntimeError, match="render worker failed") as e:
        w.submit(d, 0.1, [0])
    assert "GL context lost" in str(e.value.__cause__)
    w.stop()


def test_a_camera_that_cannot_be_created_fails_start():
    m, _ = _model()

    def broken() -> SlowCamera:
        raise OSError("no EGL display")

    with pytest.raises(OSError, match="no EGL display"):
        RenderWorker(m, [(broken, lambda img, t: None)]).start()


def test_a_slow_camera_does_not_silence_lowstate():
    """The regression test for the CI failure: a 60 ms render per frame (a loaded machine's Mesa) at 30 Hz. Rendered in
    the step, LowState went silent for ≥ 60 ms at every frame; off the step, the longest gap stays a few steps."""

    class NoDDS:
        def apply_commands(self) -> None: ...
        def publish_state(self) -> None: ...
        def reset_commands(self) -> None: ...

    physics = G1Physics(Scene(table_pos=(6.0, 0.0)), fixed_base=True)
    frames: list[float] = []
    loop = SimLoop(physics, NoDDS(), realtime=True, camera=lambda: SlowCamera(0.06),
                   on_frame=lambda img, t: frames.append(t))
    loop.run(duration_s=1.5)
    assert loop.stats.max_state_gap_s < 0.045, loop.stats
    assert len(frames) >= 8 and loop.stats.frames == len(frames)  # rendered as fast as the camera can (≤ 16 Hz)
    assert loop.stats.frames_dropped > 0
    dt = physics.dt  # stamped with the step at (or just after) a 1/30 s capture instant, not when the render ended
    assert all(0 <= t - np.floor(t * 30 + 1e-9) / 30 < dt + 1e-9 for t in frames), frames
