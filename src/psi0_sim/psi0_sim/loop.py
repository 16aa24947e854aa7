"""The simulation loop: physics steps, robot DDS I/O, camera frames, pacing (no rclpy).

Modes:
- real time (`realtime=True`, demos and closed-loop tests with wall-clock nodes): sim time is
  paced to the wall clock times `rate_factor` (1.0 = real time). When physics + I/O cannot keep
  up, the loop runs as fast as it can and counts the lag.
- lockstep / as fast as possible (`realtime=False`, tests with use_sim_time): no sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from psi0_sim.camera import Camera
from psi0_sim.physics import G1Physics
from psi0_sim.robot_interface import SimRobotInterface


@dataclass
class LoopStats:
    steps: int = 0
    frames: int = 0
    wall_s: float = 0.0
    sim_s: float = 0.0
    late_steps: int = 0

    @property
    def realtime_factor(self) -> float:
        return self.sim_s / self.wall_s if self.wall_s > 0 else 0.0


class SimLoop:
    def __init__(self, physics: G1Physics, iface: SimRobotInterface, realtime: bool = True, rate_factor: float = 1.0,
                 camera: Callable[[], Camera] | None = None, camera_rate_hz: float = 30.0,
                 on_frame: Callable[[np.ndarray, float], None] | None = None,
                 on_step: Callable[[float], None] | None = None,
                 views: tuple[tuple[Callable[[], Camera], float, Callable[[np.ndarray, float], None]], ...] = ()) -> None:
        """`views`: extra cameras (factory, rate Hz, callback), e.g. the third-person view for videos."""
        self.physics, self.iface = physics, iface
        self.realtime, self.rate_factor = realtime, rate_factor
        # Cameras are created in the loop's own thread: an EGL context is current in one thread only.
        self.camera_factory, self.camera_period = camera, 1.0 / camera_rate_hz
        self.camera: Camera | None = None
        self.view_specs = views
        self.views: list[list] = []  # [camera, period, callback, next due time]
        self.error: BaseException | None = None
        self.on_frame, self.on_step = on_frame, on_step
        self.stats = LoopStats()
        self.lock = threading.Lock()  # held while stepping; reset/inspection take it too
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step_once(self) -> None:
        with self.lock:
            self.iface.apply_commands()
            self.physics.step()
            self.iface.publish_state()
            t = self.physics.time
            frame = None
            if self.camera is not None and t + 1e-9 >= self._next_frame:
                self._next_frame += self.camera_period
                frame = self.camera.render(self.physics.data)
            extra = []
            for v in self.views:
                if t + 1e-9 >= v[3]:
                    v[3] += v[1]
                    extra.append((v[2], v[0].render(self.physics.data)))
        self.stats.steps += 1
        for callback, img in extra:
            callback(img, t)
        if self.on_step is not None:
            self.on_step(t)
        if frame is not None:
            self.stats.frames += 1
            if self.on_frame is not None:
                self.on_frame(frame, t)

    def run(self, duration_s: float | None = None) -> None:
        """Run until stop() (or for `duration_s` of sim time). An exception is kept in `error` and re-raised."""
        try:
            self._run(duration_s)
        except BaseException as e:
            self.error = e
            raise
        finally:
            if self.camera is not None:
                self.camera.close()
                self.camera = None
            for v in self.views:
                v[0].close()
            self.views = []

    def _run(self, duration_s: float | None) -> None:
        if self.camera_factory is not None and self.camera is None:
            self.camera = self.camera_factory()
            self.camera.render(self.physics.data)  # the first render compiles shaders (~0.3 s): not mid-run
        self.views = [[factory(), 1.0 / rate, callback, self.physics.time] for factory, rate, callback in self.view_specs]
        self._next_frame = self.physics.time
        wall0, sim0 = time.monotonic(), self.physics.time
        end = None if duration_s is None else sim0 + duration_s
        while not self._stop.is_set() and (end is None or self.physics.time < end - 1e-9):
            self.step_once()
            sim_elapsed = self.physics.time - sim0
            self.stats.sim_s = sim_elapsed
            self.stats.wall_s = time.monotonic() - wall0
            if self.realtime:
                ahead = sim_elapsed / self.rate_factor - self.stats.wall_s
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
        with self.lock:
            self.physics.reset()
            self.iface.reset_commands()
