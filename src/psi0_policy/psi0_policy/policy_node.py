"""policy_node: camera image(s) + joint_states + instruction → psi0_msgs/ActionChunk, with real-time chunking.

Topics (relative): sub `camera/head/image_raw` (or `image_topics`; keep-last 1, reliable unless `image_reliability`
is best_effort: see psi0_core.qos; a camera whose QoS cannot match is named in the rejection reason), `joint_states`,
`instruction` (std_msgs/String, reliable + transient-local), `action_chunk` and `bridge/status` (only to continue
chunk ids after the newest seen or accepted: the bridge rejects ids that are not newer);
pub `action_chunk` (reliable, keep-last 1),
`~/status` (psi0_msgs/PolicyStatus), `~/input` (psi0_msgs/PolicyInput, for replays), `/diagnostics`, optionally
`joint_trajectory`. A managed (lifecycle) node: `ros2 lifecycle set /policy configure|activate|deactivate|cleanup`
and lifecycle managers drive it through `~/change_state`; the std_srvs/Trigger services stay as shortcuts:
`~/activate` (configure first when unconfigured; resume when paused), `~/deactivate` (stop publishing), `~/pause`
(active but publishing nothing), `~/reset` (forget the current chunk and latency history; chunk ids keep
increasing). `~/` is the node's own name (`policy/status` under the default name).

Behaviour:
- Lifecycle: unconfigured → configure (load the bundle, build the scheduler) → inactive → activate → active
  (chunks published) → deactivate → inactive → cleanup (drop the model) → unconfigured. With
  `configure_at_start` the node configures itself at start-up (a bundle that fails to load then stops the
  process with a configuration error); with `autostart` it also activates. Through the lifecycle services a
  failed configure answers failure and leaves the node unconfigured (PolicyStatus ERROR, last_error says why).
- A timer (tick_hz) runs the ChunkScheduler; inference runs in a worker thread, so callbacks stay
  responsive and the executor never waits for the model. A result that arrives after a deactivate is dropped.
- At inference start the newest image of every camera must be younger than max_image_age_s and
  joint_states must have arrived; otherwise the observation is rejected (counted, reported in
  diagnostics), nothing is published, and the next tick retries. The bridge meanwhile executes the
  tail of the current chunk and then holds (its own watchdogs decide when to stop).
- A failed inference (exception) is counted and reported; the node keeps running.
- Chunk k uses noise seed `seed + k`: replaying the same observations reproduces the same chunks.
"""

from __future__ import annotations

import enum
import queue
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from psi0_core.g1_adapter import G1Adapter
from psi0_core.image_codec import image_to_numpy
from psi0_core.node_runner import run_node
from psi0_core.params import ConfigError
from psi0_core.qos import image_subscriber_qos, latched_qos
from psi0_core.robot import load_g1
from psi0_core.ros_lifecycle import ReleasingLifecycleNode
from psi0_core.ros_params import declare_config
from psi0_core.rostime import to_duration_msg, to_sec, to_time_msg
from psi0_msgs.msg import ActionChunk, BridgeStatus, PolicyInput, PolicyStatus
from psi0_policy.observation import StateBuilder
from psi0_policy.policy_config import PolicyConfig
from psi0_policy.rtc import ChunkScheduler, Request, ScheduledChunk, SchedulerConfig


class Mode(enum.IntEnum):  # values match PolicyStatus
    UNCONFIGURED = 0
    INACTIVE = 1
    ACTIVE = 2
    PAUSED = 3
    ERROR = 4


@dataclass(frozen=True)
class Inputs:
    """What one inference is computed from (also published on policy/input for replays)."""

    images: list[np.ndarray]
    instruction: str
    state: np.ndarray  # (36,)
    obs_stamp: float  # capture time of the oldest image
    prefix_len: int
    seed: int


@dataclass(frozen=True)
class Job:
    """A request for the inference worker."""

    request: Request
    inputs: Inputs
    started: float  # monotonic


@dataclass(frozen=True)
class Outcome:
    """The inference worker's answer: the chunk, or the error."""

    job: Job
    chunk: np.ndarray | None
    ms: float
    error: Exception | None = None


class PolicyNode(ReleasingLifecycleNode):
    def __init__(self, policy=None, **kwargs) -> None:
        super().__init__("policy", **kwargs)
        cfg = self.cfg = declare_config(self, PolicyConfig)
        self.last_error = ""
        self.adapter = G1Adapter(load_g1())
        self.state = StateBuilder(self.adapter)
        self.images: dict[str, tuple[float, np.ndarray]] = {}
        self.instruction = cfg.instruction
        self.counters = {"chunks": 0, "rejected": 0, "failures": 0}
        self.latencies_ms: deque[float] = deque(maxlen=200)
        self.last_reject = ""
        self.qos_problems: dict[str, str] = {}  # image topic -> why its publisher cannot match

        self.policy = None  # loaded at configure
        self.scheduler: ChunkScheduler | None = None
        self._given_policy = policy  # tests and tools hand the node a loaded policy
        self._paused = False
        self._configure_failed = False
        self._newest_id = -1  # newest chunk id seen on the topic or accepted by the bridge

        for topic in cfg.image_topics:
            self.create_subscription(Image, topic, lambda m, t=topic: self._on_image(t, m),
                                     image_subscriber_qos(cfg.image_reliability),
                                     event_callbacks=SubscriptionEventCallbacks(
                                         incompatible_qos=lambda info, t=topic: self._incompatible(t, info)))
        self.create_subscription(JointState, "joint_states", self._on_joints, 10)
        latched = latched_qos()
        self.create_subscription(String, "instruction", self._on_instruction, latched)
        self.pub_chunk = self.create_publisher(ActionChunk, "action_chunk",
                                               QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        # chunk ids continue after the newest the bridge accepted (latched, so known before our first chunk even when
        # the other sources' chunks were published before this node's subscription matched them)
        self.create_subscription(BridgeStatus, "bridge/status",
                                 lambda m: self._continue_ids(int(m.last_chunk_id)), latched)
        self.create_subscription(ActionChunk, "action_chunk", self._on_chunk_seen,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.pub_traj = self.create_publisher(JointTrajectory, "joint_trajectory", 1) if cfg.publish_trajectory else None
        self.pub_status = self.create_publisher(PolicyStatus, "~/status", latched)
        self.pub_input = self.create_publisher(PolicyInput, "~/input",
                                               QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        for name, fn in (("activate", self._srv_activate), ("deactivate", self._srv_deactivate),
                         ("pause", self._srv_pause), ("reset", self._srv_reset)):
            self.create_service(Trigger, f"~/{name}", fn)

        self._requests: queue.Queue[Job] = queue.Queue(maxsize=1)
        self._results: queue.Queue[Outcome] = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="policy_inference", daemon=True)
        self._worker.start()
        self.create_timer(1.0 / cfg.tick_hz, self._tick)
        self.create_timer(1.0 / cfg.status_rate_hz, self._publish_status)
        if cfg.configure_at_start:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ConfigError(f"policy: configure failed: {self.last_error}")
            if cfg.autostart:
                self.trigger_activate()
        self.get_logger().info(f"policy up: engine {cfg.engine}, cameras {cfg.image_topics}, mode {self.mode.name}")

    # ---- lifecycle ------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        label = self._state_machine.current_state[1]
        if label == "active":
            return Mode.PAUSED if self._paused else Mode.ACTIVE
        if label == "inactive":
            return Mode.INACTIVE
        return Mode.ERROR if self._configure_failed else Mode.UNCONFIGURED

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._load()
        except Exception as e:  # a missing or broken bundle: say why, stay unconfigured
            self._configure_failed, self.last_error = True, f"configure: {e}"
            self.get_logger().error(self.last_error)
            return TransitionCallbackReturn.FAILURE
        self._configure_failed = False
        return super().on_configure(state)

    def _load(self) -> None:
        cfg, policy = self.cfg, self._given_policy
        import torch

        torch.set_num_threads(cfg.cpu_threads)
        if policy is None:
            if not cfg.bundle:
                raise ConfigError("policy.bundle is empty: point it at an exported bundle folder (psi0 export)")
            from psi0_policy.policy import Policy

            kw = {"device": cfg.device, "dtype": cfg.dtype, "conditioning": cfg.conditioning} \
                if cfg.engine == "torch" else {}
            policy = Policy.load(cfg.bundle, engine=cfg.engine, **kw)
        mcfg = policy.cfg
        scheduler = ChunkScheduler(SchedulerConfig(horizon=mcfg.horizon, dt=1.0 / 30.0, s_min=min(cfg.s_min, mcfg.horizon),
                                                   d_max=min(cfg.d_max, mcfg.horizon - 1),
                                                   synchronous=cfg.chunking == "sync"))
        if cfg.chunking == "rtc" and scheduler.cfg.d_max > mcfg.rtc_max_delay:
            # kept rather than capped: a prefix shorter than the real delay leaves executed steps unconstrained
            # (at 200 ms injected latency d_max 7 vs 10 changed the boundary jump p99 0.47 → 0.41 rad only,
            # benchmarks/results/eval_raise_hand_200ms.json)
            self.get_logger().warning(f"d_max {scheduler.cfg.d_max} exceeds the bundle's trained RTC delay "
                                      f"range 0..{mcfg.rtc_max_delay}: long prefixes are out of distribution")
        scheduler.next_id = self._newest_id + 1
        self.policy, self.scheduler = policy, scheduler

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._paused = False
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._paused = False
        return super().on_deactivate(state)

    def _release(self) -> None:
        self.policy = self.scheduler = None  # an inference in flight finds no scheduler and is dropped

    # ---- inputs --------------------------------------------------------------------------------
    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_image(self, topic: str, msg: Image) -> None:
        try:
            self.images[topic] = (to_sec(msg.header.stamp), image_to_numpy(msg, "rgb8"))
        except ValueError as e:
            self.last_reject = f"{topic}: {e}"
            self.counters["rejected"] += 1

    def _incompatible(self, topic: str, info) -> None:
        """A camera publisher whose QoS cannot match the subscription (a best-effort driver): its frames never arrive."""
        policy = info.last_policy_kind.name.removeprefix("RMW_QOS_POLICY_")
        self.qos_problems[topic] = (f"{info.total_count} publisher(s) with incompatible QoS ({policy}): frames not "
                                    f"received; publish images reliable (REP-2003) or set image_reliability: best_effort")
        self.last_reject = f"no image yet on {topic}: {self.qos_problems[topic]}"
        self.get_logger().error(self.last_reject)

    def _on_joints(self, msg: JointState) -> None:
        self.state.update_joints(msg.name, msg.position, to_sec(msg.header.stamp))

    def _on_chunk_seen(self, msg: ActionChunk) -> None:
        """Chunk ids continue after the newest id on the topic (ours, a restarted predecessor's, a scripted or
        teleoperation source's) and the newest the bridge accepted: the bridge rejects ids that are not newer (S4)."""
        self._continue_ids(int(msg.chunk_id))

    def _continue_ids(self, newest: int) -> None:
        self._newest_id = max(self._newest_id, newest)
        if self.scheduler is not None:
            self.scheduler.next_id = max(self.scheduler.next_id, newest + 1)

    def _on_instruction(self, msg: String) -> None:
        if msg.data != self.instruction:
            self.get_logger().info(f"instruction: {msg.data!r}")
        self.instruction = msg.data

    # ---- scheduling (executor thread) --------------------------------------------------------------
    def _observation_problem(self, now: float) -> str:
        for topic in self.cfg.image_topics:
            if topic not in self.images:
                return f"no image yet on {topic}" + (f": {self.qos_problems[topic]}" if topic in self.qos_problems else "")
            age = now - self.images[topic][0]
            if age > self.cfg.max_image_age_s:
                return f"image on {topic} is {age * 1e3:.0f} ms old (> {self.cfg.max_image_age_s * 1e3:.0f} ms)"
        if self.state.stamp is None:
            return "no joint_states yet"
        missing = self.state.missing()
        if missing:
            return f"joint_states lacks {missing[:3]}"
        if not self.instruction:
            return "no instruction yet"
        return ""

    def _tick(self) -> None:
        self._collect()
        if self.mode != Mode.ACTIVE or self.scheduler is None or not self.scheduler.should_start(self.now()):
            return
        now = self.now()
        problem = self._observation_problem(now)
        if problem:
            if problem != self.last_reject:
                self.get_logger().warning(f"observation rejected: {problem}", throttle_duration_sec=2.0)
            self.last_reject = problem
            self.counters["rejected"] += 1
            return
        req = self.scheduler.begin(now)
        obs_stamp = min(self.images[t][0] for t in self.cfg.image_topics)
        inputs = Inputs(images=[self.images[t][1] for t in self.cfg.image_topics], instruction=self.instruction,
                        state=self.state.state(at=obs_stamp), obs_stamp=obs_stamp,
                        prefix_len=req.prefix_len, seed=self.cfg.seed + self.scheduler.next_id)
        self._requests.put(Job(req, inputs, time.monotonic()))

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._requests.get(timeout=0.1)
            except queue.Empty:
                continue
            x, req, policy = job.inputs, job.request, self.policy
            try:
                if policy is None:
                    raise RuntimeError("the model was unloaded (lifecycle cleanup) during inference")
                chunk = policy.infer(x.images, x.instruction, x.state, req.prefix, req.prefix_len, seed=x.seed)
                if self.cfg.extra_latency_ms > 0:  # evaluation: emulate a slower model
                    time.sleep(self.cfg.extra_latency_ms / 1e3)
                self._results.put(Outcome(job, chunk, (time.monotonic() - job.started) * 1e3))
            except Exception as e:
                self._results.put(Outcome(job, None, (time.monotonic() - job.started) * 1e3, e))

    def _collect(self) -> None:
        while True:
            try:
                out = self._results.get_nowait()
            except queue.Empty:
                return
            now = self.now()
            if self.scheduler is None:  # cleaned up while inferring
                continue
            if out.error is not None or out.chunk is None or not np.all(np.isfinite(out.chunk)):
                self.scheduler.fail(now)
                self.counters["failures"] += 1
                self.last_error = repr(out.error) if out.error is not None else "non-finite chunk"
                self.get_logger().error(f"inference failed: {self.last_error}", throttle_duration_sec=2.0)
                continue
            if self.mode != Mode.ACTIVE:  # deactivated while inferring: drop the result
                self.scheduler.fail(now)
                continue
            sc = self.scheduler.complete(now, out.chunk)
            self.latencies_ms.append(out.ms)
            self._publish(sc, out.job.inputs, out.ms)

    def _publish(self, sc: ScheduledChunk, inputs: Inputs, ms: float) -> None:
        m = ActionChunk(chunk_id=sc.chunk_id, obs_stamp=to_time_msg(inputs.obs_stamp), dt=float(sc.dt),
                        prefix_len=sc.prefix_len, inference_ms=float(ms), **self.adapter.chunk_fields(sc.actions))
        m.header.stamp = to_time_msg(sc.t0)
        m.header.frame_id = "g1"
        self.pub_chunk.publish(m)
        pi = PolicyInput(chunk_id=sc.chunk_id, obs_stamp=m.obs_stamp, image_topics=list(self.cfg.image_topics),
                         state=inputs.state.tolist(), prefix_len=inputs.prefix_len, seed=inputs.seed,
                         instruction=inputs.instruction)
        pi.header = m.header
        self.pub_input.publish(pi)
        self.counters["chunks"] += 1
        self.state.update_chunk(sc.t0, sc.dt, sc.actions)
        if self.pub_traj is not None:
            self._publish_trajectory(sc)

    def _publish_trajectory(self, sc: ScheduledChunk) -> None:
        """The chunk's hand and arm columns as a JointTrajectory (for ros2_control consumers)."""
        parts = self.adapter.split(sc.actions)
        traj = JointTrajectory()
        traj.header.stamp = to_time_msg(sc.t0)
        traj.joint_names = list(self.adapter.state_joint_names)  # hands then arms: the action's first columns
        for i, (hands, arms) in enumerate(zip(parts.hands, parts.arms, strict=True)):
            traj.points.append(JointTrajectoryPoint(positions=np.r_[hands, arms].tolist(),
                                                    time_from_start=to_duration_msg(i * sc.dt)))
        self.pub_traj.publish(traj)

    # ---- services --------------------------------------------------------------------------------
    def _srv_activate(self, _req, res):
        if self.mode in (Mode.UNCONFIGURED, Mode.ERROR) and self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            res.success, res.message = False, self.last_error
            return res
        if self.mode == Mode.INACTIVE:
            self.trigger_activate()
        self._paused = False
        res.success, res.message = self.mode == Mode.ACTIVE, self.mode.name.lower()
        return res

    def _srv_deactivate(self, _req, res):
        if self.mode in (Mode.ACTIVE, Mode.PAUSED):
            self.trigger_deactivate()
        res.success = self.mode == Mode.INACTIVE
        res.message = "inactive: no chunks are published (the bridge holds, then stops)" if res.success else \
            f"not configured ({self.mode.name})"
        return res

    def _srv_pause(self, _req, res):
        if self.mode not in (Mode.ACTIVE, Mode.PAUSED):
            res.success, res.message = False, f"only an active policy pauses (state {self.mode.name})"
            return res
        self._paused = True
        res.success, res.message = True, "paused"
        return res

    def _srv_reset(self, _req, res):
        if self.scheduler is None:
            res.success, res.message = False, f"not configured ({self.mode.name})"
            return res
        next_id = self.scheduler.next_id
        self.scheduler = ChunkScheduler(self.scheduler.cfg)
        self.scheduler.next_id = next_id  # ids never go back: the bridge rejects a chunk id that is not newer
        res.success, res.message = True, "scheduler reset"
        return res

    # ---- reporting --------------------------------------------------------------------------------
    def _publish_status(self) -> None:
        lat = np.fromiter(self.latencies_ms, float) if self.latencies_ms else np.zeros(1)
        st = PolicyStatus(state=int(self.mode), state_name=self.mode.name, last_error=self.last_error,
                          engine=self.cfg.engine, instruction=self.instruction,
                          chunks_published=self.counters["chunks"], observations_rejected=self.counters["rejected"],
                          inference_failures=self.counters["failures"],
                          degraded_events=self.scheduler.degraded_events if self.scheduler else 0,
                          latency_p50_ms=float(np.percentile(lat, 50)), latency_p99_ms=float(np.percentile(lat, 99)),
                          delay_steps=float(self.scheduler.delay_steps()) if self.scheduler else 0.0)
        st.header.stamp = self.get_clock().now().to_msg()
        self.pub_status.publish(st)
        d = DiagnosticStatus(name="psi0 policy", hardware_id="policy", message=self.mode.name)
        d.level = bytes([2 if self.counters["failures"] and self.last_error else 1 if self.last_reject else 0])
        d.values = [KeyValue(key=k, value=str(v)) for k, v in {
            "latency_p50_ms": f"{st.latency_p50_ms:.1f}", "latency_p99_ms": f"{st.latency_p99_ms:.1f}",
            "delay_steps": st.delay_steps, "rejected_observations": self.counters["rejected"],
            "last_rejection": self.last_reject, "chunks": self.counters["chunks"]}.items()]
        self.pub_diag.publish(DiagnosticArray(header=st.header, status=[d]))

    def destroy_node(self) -> None:
        self._stop.set()
        self._worker.join(timeout=2.0)
        super().destroy_node()


def main() -> int:
    return run_node(PolicyNode)


if __name__ == "__main__":
    sys.exit(main())
