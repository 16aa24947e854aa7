"""The simulation loop: physics steps, robot DDS I/O, camera frames, pacing (no rclpy).

Modes:
- real time (`realtime=True`, demos and closed-loop tests with wall-clock nodes): sim time is
  paced to the wall clock times `rate_factor` (1.0 = real time). When physics + I/O cannot keep
  up, the loop runs as fast as it can and counts the lag.
- lockstep / as fast as possible (`realtime=False`, tests with use_sim_time): no sleeping.

Cameras render in a RenderWorker thread from a snapshot of the step they are due at (render_worker.py): the step
itself never waits for a frame in real-time mode, so LowState keeps its 500 Hz while a frame is drawn. `stats`
has the longest wall gap between two LowState publishes and the camera instants skipped because the renderer was
still busy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from psi0_sim.camera import Camera
from psi0_sim.physics import G1Physics
from psi0_sim.render_worker import RenderWorker
from psi0_sim.robot_interface import SimRobotInterface

RENDER_WAIT_S = 0.02  # the longest the physics thread waits for a free render slot (a fifth of the S2 deadline)


@dataclass
class LoopStats:
    steps: int = 0
    frames: int = 0
    wall_s: float = 0.0
    sim_s: float = 0.0
    late_steps: int = 0
    frames_dropped: int = 0  # camera instants skipped because the renderer was still busy (real-time mode)
    max_state_gap_s: float = 0.0  # the longest wall time between two LowState publishes

    @property
    def realtime_factor(self) -> float:
        return self.sim_s / self.wall_s if self.wall_s > 0 else 0.0


class SimLoop:
    def __init__(self, physics: G1Physics, iface: SimRobotInterface, realtime: bool = True, rate_factor: float = 1.0,
                 camera: Callable[[], Camera] | None = None, camera_rate_hz: float = 30.0,
                 on_frame: Callable[[np.ndarray, float], None] | None = None,
                 on_step: Callable[[float], None] | None = None,
                 views: tuple[tuple[Callable[[], Camera], float, Callable[[np.ndarray, float], None]], ...] = ()) -> None:
        """`camera` (the head camera, `on_frame` gets its images) and `views` (extra cameras: factory, rate Hz,
        callback, e.g. the third-person view for videos) render in a RenderWorker thread, never in the step."""
        self.physics, self.iface = physics, iface
        self.realtime, self.rate_factor = realtime, rate_factor
        self.on_frame, self.on_step = on_frame, on_step
        # (factory, period s, callback); the head camera first, when there is one
        self._streams = ([(camera, 1.0 / camera_rate_hz, self._head_frame)] if camera is not None else []) + [
            (factory, 1.0 / rate, callback) for factory, rate, callback in views]
        self._due = [0.0] * len(self._streams)  # the sim time each stream's next frame is due
        self.renderer: RenderWorker | None = None
        self.error: BaseException | None = None
        self.stats = LoopStats()
        self.lock = threading.Lock()  # held while stepping; reset/inspection take it too
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rebase = False  # set by reset(): re-anchor real-time pacing and the camera schedule at the new sim time

    def _head_frame(self, rgb: np.ndarray, t: float) -> None:
        self.stats.frames += 1
        if self.on_frame is not None:
            self.on_frame(rgb, t)

    def step_once(self) -> None:
        with self.lock:
            self.iface.apply_commands()
            self.physics.step()
            self.iface.publish_state()
            t = self.physics.time
            due = [i for i, when in enumerate(self._due) if t + 1e-9 >= when]
            for i in due:
                self._due[i] += self._streams[i][1]
            if due and self.renderer is not None:
                self.renderer.submit(self.physics.data, t, due)
                self.stats.frames_dropped = self.renderer.dropped
        self.stats.steps += 1
        if self.on_step is not None:
            self.on_step(t)

    def run(self, duration_s: float | None = None) -> None:
        """Run until stop() (or for `duration_s` of sim time). An exception is kept in `error` and re-raised."""
        try:
            self._run(duration_s)
        except BaseException as e:
            self.error = e
            raise
        finally:
            if self.renderer is not None:
                self.renderer.stop()
                self.renderer = None

    def _run(self, duration_s: float | None) -> None:
        if self._streams and self.renderer is None:
            cameras = [(factory, callback) for factory, _, callback in self._streams]
            self.renderer = RenderWorker(self.physics.model, cameras, wait_s=RENDER_WAIT_S if self.realtime else None)
            self.renderer.start()
        self._due = [self.physics.time] * len(self._streams)
        wall_start = wall0 = last = time.monotonic()  # last: when the previous step (and its LowState) ended
        sim0 = self.physics.time
        stepped = 0.0  # sim seconds run (a reset sets the clock back, not this)
        end = None if duration_s is None else sim0 + duration_s
        while not self._stop.is_set() and (end is None or self.physics.time < end - 1e-9):
            if self._rebase:  # after sim/reset: physics time jumped back; pace (and film) from here
                with self.lock:
                    self._rebase = False
                    wall0, sim0 = time.monotonic(), self.physics.time
                    self._due = [sim0] * len(self._streams)
                    end = None if duration_s is None else sim0 + duration_s
            self.step_once()
            stepped += self.physics.dt
            self.stats.sim_s = stepped
            now = time.monotonic()
            self.stats.max_state_gap_s = max(self.stats.max_state_gap_s, now - last)
            last = now
            self.stats.wall_s = now - wall_start
            if self.realtime:
                ahead = (self.physics.time - sim0) / self.rate_factor - (now - wall0)
                if ahead > 0:
                    time.sleep(ahead)
                elif ahead < -0.02:
                    self.stats.late_steps += 1

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="sim_loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        """Robot back to its standing pose (on the gantry, if it has one), objects back to their places. The sim clock
        keeps running: a graph on use_sim_time must never see /clock jump back. Real-time pacing and the camera
        schedule are re-anchored all the same."""
        with self.lock:
            t = self.physics.time
            self.physics.reset()
            self.physics.data.time = t
            self.iface.reset_commands()
            self._rebase = True
