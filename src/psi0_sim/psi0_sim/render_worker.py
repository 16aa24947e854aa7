"""Camera rendering off the physics thread (no rclpy).

Why: a software-EGL frame takes 9 ms on an idle 2-core machine and 30–80 ms on a loaded one. Rendered inside the
physics step, those milliseconds are milliseconds without LowState: the bridge stops the robot when its state is
100 ms old (S2), and it did, in CI. Now the physics thread only copies the state (`mj_copyData`, ~10 µs) into the
worker's own MjData and steps on; the worker thread renders every camera due at that instant from the copy and hands
each image to its callback with the snapshot's sim time. MuJoCo releases the GIL while it renders, so physics runs
alongside.

Behaviour:
- while the worker renders one snapshot, one more may wait. When a third arrives, the physics thread waits for the
  waiting slot to free up for at most `wait_s` (real time: 20 ms, a fifth of the bridge's LowState deadline; the sim
  clock slows a little, as it did when frames were rendered in the step), then the newer snapshot replaces the
  waiting one (counted in `dropped`; the cameras either wanted are rendered from the newer one: newest frame first,
  as a camera driver's ring buffer). `wait_s=None` (lockstep, as fast as possible): it waits as long as it takes, so
  every frame is rendered;
- the worker runs `nice` steps below the thread that starts it (Mesa's rasteriser threads, created with the GL
  context, inherit that): with CPUs short, the physics (the robot) comes before its camera;
- cameras are created, used and closed in the worker thread (an EGL context is current in one thread only); `start`
  returns once they exist and have rendered once (the first render compiles shaders, ~0.3 s), or raises what
  creating them raised;
- an exception while rendering ends the worker; it is kept in `error`, and the next `submit` raises it (the physics
  thread then fails the loop, which fails the node).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import mujoco
import numpy as np

from psi0_sim.camera import Camera

CameraFactory = Callable[[], Camera]
FrameCallback = Callable[[np.ndarray, float], None]


class RenderWorker:
    def __init__(self, model: mujoco.MjModel, cameras: Sequence[tuple[CameraFactory, FrameCallback]],
                 wait_s: float | None = 0.02, nice: int = 3) -> None:
        self.model = model
        self.specs = list(cameras)
        self.wait_s, self.nice = wait_s, nice
        self.error: BaseException | None = None
        self.rendered = [0] * len(self.specs)  # frames handed to each camera's callback
        self.dropped = 0  # waiting snapshots replaced by a newer one before their render began
        self._waiting_data = mujoco.MjData(model)  # written by the physics thread (under the condition's lock)
        self._render_data = mujoco.MjData(model)  # read by the worker while it renders; the two swap on take
        self._waiting: tuple[float, frozenset[int]] | None = None
        self._cv = threading.Condition()
        self._stopping = False
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim_render", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self.error is not None:
            raise self.error

    def submit(self, data: mujoco.MjData, t: float, due: Sequence[int]) -> None:
        """Render cameras `due` (indices into `cameras`) as `data` is now, stamped `t`."""
        if self.error is not None:
            raise RuntimeError("the render worker failed") from self.error
        with self._cv:
            if self._waiting is not None and self.wait_s != 0:
                self._cv.wait_for(lambda: self._waiting is None or self.error is not None or self._stopping, self.wait_s)
                if self.error is not None:
                    raise RuntimeError("the render worker failed") from self.error
            wanted = frozenset(due)
            if self._waiting is not None:  # not yet started: the newer snapshot serves both
                self.dropped += 1
                wanted |= self._waiting[1]
            mujoco.mj_copyData(self._waiting_data, self.model, data)
            self._waiting = (t, wanted)
            self._cv.notify_all()

    def stop(self, timeout_s: float = 5.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        cameras: list[Camera] = []
        try:
            if self.nice:
                tid = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + self.nice)
            for factory, _ in self.specs:
                cameras.append(factory())
                cameras[-1].render(self._render_data)  # compile the shaders now, not in the first frame
        except BaseException as e:
            self.error = e
            for c in cameras:
                c.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                with self._cv:
                    self._cv.wait_for(lambda: self._waiting is not None or self._stopping)
                    if self._stopping:
                        return
                    assert self._waiting is not None
                    t, wanted = self._waiting
                    self._waiting = None
                    self._waiting_data, self._render_data = self._render_data, self._waiting_data
                    self._cv.notify_all()
                for i in sorted(wanted):  # the lock is free: physics steps (and fills the waiting slot) meanwhile
                    self.specs[i][1](cameras[i].render(self._render_data), t)
                    self.rendered[i] += 1
        except BaseException as e:
            self.error = e
            with self._cv:
                self._cv.notify_all()
        finally:
            for c in cameras:
                c.close()
