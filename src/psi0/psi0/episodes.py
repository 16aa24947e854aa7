"""Episode harness for the simulated tasks, against a running `demo` graph (sim + bridge + policy).

Per episode (seeded): the episode's task (a suite alternates its tasks over the seeds) publishes its instruction (or,
as an evaluation control, another task's), parks the table out of reach (sim/place_scene), moves the task's joints to
the seeded start pose with scripted ActionChunks (the bridge executes them like any other chunks), puts the table and
objects where the task wants them (sim/place_scene with the task's scene(seed)), then either let the policy act
(policy/reset + policy/activate; the scripted hold continues until the policy's first chunk arrives, so the bridge
never runs dry) or play the scripted expert (a task with a `servo`, like pick, is a closed loop: ServoStream asks it
for the next rows from the newest ground truth every SERVO_EVERY rows) — optionally recording a rosbag of the
expert's demonstration (camera, joint_states, action_chunk, instruction) with psi0's Recorder. Measured: success and
time to success (the task's test on the simulator's ground truth, sim/bodies, sim time) — never a success if the
robot fell (base tilt over 15° on the bridge's imu topic, an S12 stop, or the pelvis below 0.5 m) —, the task's own
metrics, safety events (bridge stops, rejected chunks, states seen), what the bridge
executed (chunks replayed through the chunk contract, psi0_core.chunks) and the chunk-boundary jumps, inference latency.

All timing is on the simulator's clock (/clock): the harness, bridge and policy run with use_sim_time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psi0.chunk_metrics import boundary_jumps
from psi0.task_base import SMOOTH_S, World
from psi0.tasks import DT, Task, task_for
from psi0_core.chunks import Chunk, Received, replay
from psi0_core.g1_adapter import ARMS, VELOCITY, default_adapter
from psi0_core.qos import latched_qos

FALL_TILT_DEG = 15.0  # an episode in which the base tilted more than this (or an S12 stop) failed: the robot fell
FALL_PELVIS_M = 0.5  # … or the pelvis dropped below this (simulator ground truth)
SCRIPT_FRAME = "script"
EXPERT_FRAME = "expert"  # the demonstration's chunks (psi0 data convert bag --action-frame expert)
ROWS, EVERY, LEAD_S = 40, 30, 0.3  # scripted chunks: 40 rows published every 30 rows, 0.3 s ahead
UNTIL_EVERY_S = 0.02  # Harness.spin checks its condition at most this often (wall time)
SERVO_EVERY = 10  # a closed-loop expert's chunks go out every 10 rows (re-aimed three times a second)
PARK_M = 1.0  # between episodes the table waits this far ahead of the robot, out of reach of any arm motion


@dataclass
class EpisodeResult:
    seed: int
    actor: str  # policy | expert
    success: bool
    time_to_success_s: float | None
    stops: int
    chunks_rejected: int
    states: list[str]
    policy_chunks: int
    jumps: dict[str, float] = field(default_factory=dict)
    inference_ms: list[float] = field(default_factory=list)
    bag: str | None = None
    realtime_factor: float | None = None  # of the whole session (set by psi0.evaluate)
    max_tilt_deg: float | None = None  # base tilt from the bridge's imu topic, over the episode
    min_pelvis_m: float | None = None  # pelvis height, simulator ground truth (sim/base_pose)
    falls: int = 0  # S12 stops during the episode
    fell: bool = False  # tilt > FALL_TILT_DEG, an S12 stop or the pelvis below FALL_PELVIS_M: never a success
    task_success: bool = False  # what the task's test alone said
    task: str = ""  # the episode's task
    instruction: str = ""  # what the policy was told (another task's in the wrong-instruction control)
    metrics: dict[str, float] = field(default_factory=dict)  # the task's own measurements (e.g. pick: lift, reach)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("inference_ms")
        return d


def fallen(max_tilt_deg: float | None, min_pelvis_m: float | None, s12_stops: int) -> bool:
    """Did the robot fall during an episode? An S12 stop, a base tilt beyond FALL_TILT_DEG or the pelvis below
    FALL_PELVIS_M. No tilt measured at all is a fall too: an episode nobody saw standing is not a success."""
    return bool(s12_stops or max_tilt_deg is None or max_tilt_deg > FALL_TILT_DEG
                or (min_pelvis_m is not None and min_pelvis_m < FALL_PELVIS_M))


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """The frame with `text` written on a dark band along its top (the video shows what the policy was told)."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, img.width, 16), fill=(0, 0, 0))
    draw.text((6, 2), text, fill=(255, 255, 255))
    return np.asarray(img)


TREAD_MPS, TREAD_S = 0.02, 1.5  # the reset's tread: System-0 steps in place (≥ 0.01 m/s is walking to it) …
SETTLE_S = 1.0  # … then stands still this long


def tread(hold: np.ndarray) -> np.ndarray:
    """(N, 36) `hold` with System-0 treading in place for TREAD_S, then standing: re-plants the feet. A robot that stood
    through many episodes of reaching drifts into a crouched, splayed stance its feet slid into (pick expert through
    the graph: pelvis 0.70 m instead of 0.76 m in the failing episodes, success 5/21 falling off over a session,
    while walk_and_pick, which walks first, succeeded 20/20)."""
    rows = np.repeat(np.asarray(hold, float)[None], round((TREAD_S + SETTLE_S) / DT), axis=0)
    rows[: round(TREAD_S / DT), VELOCITY] = (TREAD_MPS, 0.0, 0.0)
    rows[round(TREAD_S / DT):, VELOCITY] = 0.0
    return rows


class ScriptStream:
    """Publishes a (N, 36) trajectory as overlapping chunks, then holds its last row until stopped. `frame`:
    the chunks' header.frame_id ("script" for resets and holds, "expert" for demonstrations)."""

    every = EVERY

    def __init__(self, traj: np.ndarray, t0: float, frame: str = SCRIPT_FRAME) -> None:
        self.traj, self.t0, self.k, self.frame = traj, t0, 0, frame

    def rows(self, k: int) -> np.ndarray:
        idx = np.minimum(np.arange(k, k + ROWS), len(self.traj) - 1)
        return self.traj[idx]

    def due(self, now: float) -> list[tuple[float, np.ndarray]]:
        out = []
        while self.t0 + self.k * DT - now < LEAD_S:
            out.append((self.t0 + self.k * DT, self.rows(self.k)))
            self.k += self.every
        return out

    def finished(self, now: float) -> bool:
        return now >= self.t0 + (len(self.traj) - 1) * DT


class ServoStream(ScriptStream):
    """A closed-loop expert's chunks: every SERVO_EVERY rows the servo gives the next ROWS rows from what the bridge
    will command then and the newest ground truth (the harness' world), for `seconds`; then its last rows hold."""

    every = SERVO_EVERY

    def __init__(self, servo, t0: float, seconds: float, harness: Harness) -> None:
        super().__init__(np.zeros((round(seconds / DT) + 1, 0)), t0, EXPERT_FRAME)
        self.servo, self.harness = servo, harness

    def rows(self, k: int) -> np.ndarray:
        t = self.t0 + k * DT
        return self.servo.rows(k * DT, ROWS, self.harness.command_at(t), self.harness.world())


class Harness:
    def __init__(self, tasks: tuple[Task, ...], video: Path | None = None, video_fps: float = 15.0) -> None:
        import rclpy
        from geometry_msgs.msg import PoseStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image, Imu, JointState
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        from psi0_core.qos import image_subscriber_qos
        from psi0_msgs.msg import ActionChunk, BodyPoses, BridgeStatus, PolicyStatus

        if not rclpy.ok():
            rclpy.init()
        self.tasks = tuple(tasks)
        self.task = self.tasks[0]
        self.node = Node("psi0_episodes", parameter_overrides=[Parameter("use_sim_time", value=True)])
        self.ex = SingleThreadedExecutor()
        self.ex.add_node(self.node)
        self.adapter = default_adapter()
        rel = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
        latched = latched_qos()
        self.pub_chunk = self.node.create_publisher(ActionChunk, "action_chunk", rel)
        self.pub_instr = self.node.create_publisher(String, "instruction", latched)
        self._instruction = ""
        self.set_instruction(self.task.instruction)
        # (sim time, name → (position, orientation w x y z)) from the simulator's ground truth
        self.bodies: list[tuple[float, dict[str, tuple[np.ndarray, np.ndarray]]]] = []
        self.received: list[tuple[Received, str, float]] = []  # (chunk, frame_id, inference_ms)
        self.joints: list[tuple[float, np.ndarray]] = []
        self.paths: list[dict[str, Any]] = []  # per episode with a table: the pelvis's path in the table's frame
        self.bridge: BridgeStatus | None = None
        self.policy: PolicyStatus | None = None
        self.states_seen: set[str] = set()
        self._idx: list[int] | None = None
        self.node.create_subscription(ActionChunk, "action_chunk", self._on_chunk, rel)
        self.node.create_subscription(JointState, "joint_states", self._on_joints, 50)
        self.tilts: list[tuple[float, float]] = []  # (sim time, base tilt deg) from the bridge's imu topic
        self.pelvis: list[tuple[float, float]] = []  # (sim time, pelvis height m) from the simulator's ground truth
        self.node.create_subscription(Imu, "imu", self._on_imu, 50)
        self.node.create_subscription(PoseStamped, "sim/base_pose", self._on_pose, 50)
        self.node.create_subscription(BodyPoses, "sim/bodies", self._on_bodies, 50)
        self.node.create_subscription(BridgeStatus, "bridge/status", self._on_bridge, latched)
        self.node.create_subscription(PolicyStatus, "policy/status", lambda m: setattr(self, "policy", m), latched)
        self.clients = {n: self.node.create_client(Trigger, f"policy/{n}") for n in ("activate", "pause", "reset")}
        self.chunk_id = 0
        self.published_t0 = -np.inf  # newest step-0 time we sent (our own chunks may not have come back yet)
        self.bridge_clients = {n: self.node.create_client(Trigger, f"bridge/{n}") for n in ("reset",)}
        self.sim_clients = {n: self.node.create_client(Trigger, f"sim/{n}") for n in ("reset",)}
        from psi0_msgs.srv import PlaceScene

        self.place_client = self.node.create_client(PlaceScene, "sim/place_scene")
        self.joint_positions: dict[str, float] = {}  # the newest joint_states, every joint
        self.sim_resets = 0  # falls the evaluation had to undo with sim/reset
        self.recoveries = 0
        self._ep_joint_index = 0
        self._ep_body_index = 0
        self._joint_names: list[str] = []
        self._clock_ref: tuple[float, float] | None = None  # (wall, sim) when the graph became ready
        self.video = None
        if video is not None:
            from psi0_policy.data.video import Writer

            self.video = Writer(video, video_fps)
            self._video_every = max(1, round(30 / video_fps))
            self._view: np.ndarray | None = None
            self._head_count = 0
            frames = image_subscriber_qos()  # reliable keep-last 1: best-effort loses frames here (psi0_core.qos)
            self.node.create_subscription(Image, "camera/head/image_raw", self._on_head, frames)
            self.node.create_subscription(Image, "camera/third_person/image_raw", self._on_view, frames)
        self.filming = False

    # ---- callbacks ---------------------------------------------------------------------------
    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _on_chunk(self, m) -> None:
        from psi0_core.rostime import to_sec

        rows = self.adapter.chunk_rows(m.names, m.horizon, m.dim, m.data)
        c = Chunk(int(m.chunk_id), to_sec(m.header.stamp), float(m.dt), rows, int(m.prefix_len))
        self.received.append((Received(self.now(), c), m.header.frame_id, float(m.inference_ms)))

    def set_instruction(self, text: str) -> None:
        from std_msgs.msg import String

        if text != self._instruction:
            self.pub_instr.publish(String(data=text))
            self._instruction = text

    def _on_joints(self, m) -> None:
        self.joint_positions = dict(zip(m.name, m.position, strict=True))
        if self._idx is None:
            self._joint_names = sorted({j for t in self.tasks for j in t.joints})
            self._idx = [list(m.name).index(j) for j in self._joint_names]
        self.joints.append((self.now(), np.array([m.position[i] for i in self._idx])))

    def _on_bodies(self, m) -> None:
        pos = np.asarray(m.positions).reshape(-1, 3)
        quat = np.asarray(m.orientations).reshape(-1, 4)
        self.bodies.append((self.now(), {n: (pos[k], quat[k]) for k, n in enumerate(m.names)}))

    def _on_imu(self, m) -> None:
        from psi0_bridge.core import base_tilt_deg

        o = m.orientation
        self.tilts.append((self.now(), base_tilt_deg(np.array([o.w, o.x, o.y, o.z]))))

    def _on_pose(self, m) -> None:
        self.pelvis.append((self.now(), float(m.pose.position.z)))

    def _on_bridge(self, m) -> None:
        self.bridge = m
        self.states_seen.add(m.state_name)

    def _on_view(self, m) -> None:
        from psi0_core.image_codec import image_to_numpy

        self._view = image_to_numpy(m, "rgb8")

    def _on_head(self, m) -> None:
        from psi0_core.image_codec import image_to_numpy

        self._head_count += 1
        if not self.filming or self._head_count % self._video_every:
            return
        head = image_to_numpy(m, "rgb8")
        view = self._view if self._view is not None and self._view.shape == head.shape else np.zeros_like(head)
        self.video.add(caption(np.concatenate([head, view], axis=1), f'"{self._instruction}"'))

    # ---- plumbing ----------------------------------------------------------------------------
    def spin(self, seconds: float, until=None, stream: ScriptStream | None = None) -> bool:
        """Spin for up to `seconds` of wall time; publishes the stream's due chunks; True once until() holds."""
        end = time.monotonic() + seconds
        checked = -np.inf
        while (now := time.monotonic()) < end:
            self.ex.spin_once(timeout_sec=0.01)
            if stream is not None:
                for t0, rows in stream.due(self.now()):
                    self.publish(t0, rows, stream.frame)
            # until() may be a success test over the whole episode: once per UNTIL_EVERY_S, not after every message
            # (≈ 700 a second: /clock, joint states, IMU, ground truth) — checked that often, a loaded machine fell
            # seconds behind its subscriptions and the expert steered on stale ground truth
            if until is not None and now - checked >= UNTIL_EVERY_S:
                checked = now
                if until():
                    return True
        return until is None or bool(until())

    def publish(self, t0: float, rows: np.ndarray, frame: str = SCRIPT_FRAME) -> None:
        from psi0_core.rostime import to_time_msg
        from psi0_msgs.msg import ActionChunk

        # ids continue after the newest on the topic (the bridge rejects an id that is not newer; the policy node
        # continues after ours the same way)
        self.chunk_id = max([self.chunk_id, *(r.chunk.chunk_id for r, _, _ in self.received[-50:])]) + 1
        m = ActionChunk(chunk_id=self.chunk_id, dt=float(np.float32(DT)), prefix_len=0, **self.adapter.chunk_fields(rows))
        m.header.stamp, m.header.frame_id = to_time_msg(t0), frame
        self.pub_chunk.publish(m)
        self.published_t0 = max(self.published_t0, t0)

    def call(self, name: str, timeout: float = 10.0, node: str = "policy") -> None:
        from std_srvs.srv import Trigger

        cli = {"policy": self.clients, "bridge": self.bridge_clients, "sim": self.sim_clients}[node][name]
        if not cli.wait_for_service(timeout_sec=timeout):
            raise RuntimeError(f"service {node}/{name} not available")
        fut = cli.call_async(Trigger.Request())
        if not self.spin(timeout, fut.done) or not fut.result().success:
            raise RuntimeError(f"{node}/{name} failed: {fut.result().message if fut.done() else 'timeout'}")

    def place_scene(self, seed: int, distance: float, bearing: float = 0.0, facing: float = 0.0,
                    stream: ScriptStream | None = None, timeout: float = 10.0) -> None:
        """sim/place_scene: the table `distance` m ahead of the robot, the objects at the seed's places on it (the
        stream, if any, keeps feeding the bridge meanwhile)."""
        from psi0_msgs.srv import PlaceScene

        ready = self.place_client.service_is_ready
        if not ready() and not self.spin(timeout, ready, stream):  # spinning: the stream keeps the bridge fed meanwhile
            raise RuntimeError("service sim/place_scene not available")
        req = PlaceScene.Request(seed=int(seed), distance=float(distance), bearing=float(bearing), facing=float(facing))
        fut = self.place_client.call_async(req)
        if not self.spin(timeout, fut.done, stream) or not fut.result().success:
            raise RuntimeError(f"sim/place_scene failed: {fut.result().message if fut.done() else 'timeout'}")

    def world(self) -> World:
        """The newest ground truth (sim/bodies) and joint angles, for a privileged expert."""
        poses = self.bodies[-1][1] if self.bodies else {}
        smoothed = {}
        if self.bodies:
            t_now = self.bodies[-1][0]
            recent = []
            for t, b in reversed(self.bodies):
                if t < t_now - SMOOTH_S:
                    break
                recent.append(b)
            smoothed = {n: np.mean([b[n][0] for b in recent], axis=0) for n in poses}
        return World({n: (np.asarray(p), np.asarray(q)) for n, (p, q) in poses.items()}, dict(self.joint_positions),
                     smoothed)

    def recover(self) -> None:
        """After a protective stop (counted in the episode's result): bridge/reset re-stiffens from the measured
        pose; wait until it executes again. The next episode starts from wherever the robot is."""
        self.recoveries += 1
        try:
            self.reset_bridge()
        except RuntimeError as e:  # a fallen robot is not re-stiffened where it lies: stand it up (the sim's reset)
            if "tilted" not in str(e):
                raise
            print(f"[harness] {e}; sim/reset stands the robot up on its gantry", flush=True)
            self.sim_resets += 1
            self.call("reset", node="sim")
            self.spin(5.0)  # the reset robot reports itself upright; the gantry holds it
            self.reset_bridge()
        if not self.spin(30, lambda: self.bridge is not None and self.bridge.state_name in ("ACTIVE", "HOLDING")):
            raise RuntimeError("the bridge did not come back after bridge/reset")
        t_end = self.now() + 2.0
        self.spin(20, lambda: self.now() >= t_end, self.hold_stream())

    def reset_bridge(self, attempts: int = 10, wait_s: float = 0.3) -> None:
        """bridge/reset, retried while the bridge refuses it for stale LowState: right after an S2 stop (a simulator
        that stalled while processes start) the state may not have resumed yet. Other refusals raise at once."""
        for k in range(attempts):
            try:
                self.call("reset", node="bridge")
                return
            except RuntimeError as e:
                if "stale" not in str(e) or k == attempts - 1:
                    raise
                self.spin(wait_s)

    def stream_start(self, lead: float = 0.1) -> float:
        """Step-0 time for a new scripted stream: ahead of now and after every chunk already sent (the bridge
        rejects a chunk whose step 0 is earlier than its predecessor's, S4)."""
        last = max(max((r.chunk.t0 for r, _, _ in self.received), default=-np.inf), self.published_t0)
        return max(self.now() + lead, last + DT)

    def hold_stream(self, lead: float = 0.1) -> ScriptStream:
        """Scripted chunks that hold what the bridge will command when they start."""
        t0 = self.stream_start(lead)
        return ScriptStream(np.repeat(self.command_at(t0)[None], 2, axis=0), t0)

    def command_at(self, t: float | None = None) -> np.ndarray:
        """What the bridge commands at t (default now), from every chunk received so far."""
        done = replay([r for r, _, _ in self.received], np.array([self.now() if t is None else t]),
                      self.adapter.default_action())
        return done.commands[0]

    def wait_ready(self, timeout: float = 90.0, settle_s: float = 4.0, startup_resets: int = 2,
                   policy: bool = False) -> None:
        """Bridge ACTIVE (after its start-up ramp), joint_states flowing, with `policy` the policy node up (its model
        loaded: loading takes most of a small machine's CPU, and an episode started meanwhile ran its scripted reset
        stream late, S3), then `settle_s` for the gantry release.

        While four processes start on a small machine the simulator can miss its LowState deadline for 100 ms; the
        bridge then stops (S2) in the middle of its ramp, correctly. Such a start-up stop is reset (what an operator
        does) up to `startup_resets` times, each one printed and counted in `self.startup_resets`; any other stop,
        or more of them, is an error."""
        deadline = time.monotonic() + timeout
        self.startup_resets = 0

        def ready() -> bool:
            return self.bridge is not None and self.bridge.state_name == "ACTIVE" and bool(self.joints)

        def stopped() -> bool:
            return self.bridge is not None and self.bridge.state_name in ("STOPPED", "ESTOP")

        while not self.spin(max(0.0, deadline - time.monotonic()), lambda: ready() or stopped()) or not ready():
            state = self.bridge.state_name if self.bridge else "unknown"
            reason = self.bridge.stop_reason if self.bridge else ""
            if stopped() and "(S2)" in reason and self.startup_resets < startup_resets:
                self.startup_resets += 1
                print(f"[harness] bridge stopped during start-up ({reason}); bridge/reset", flush=True)
                self.reset_bridge()
                self.spin(5.0, lambda: not stopped())  # the latched status until the next BridgeStatus
                continue
            raise RuntimeError(f"the bridge did not become ACTIVE within {timeout} s (state {state}"
                               f"{': ' + reason if reason else ''})")
        hold = self.hold_stream()
        if policy and not self.spin(max(1.0, deadline - time.monotonic()), self.clients["reset"].service_is_ready, hold):
            raise RuntimeError(f"the policy node did not come up within {timeout} s")
        t_end = self.now() + settle_s
        self.spin(settle_s * 4 + 10, lambda: self.now() >= t_end, hold)
        self._clock_ref = (time.monotonic(), self.now())

    def realtime_factor(self) -> float | None:
        """Simulated seconds per wall second since the graph became ready. The bridge executes chunks on the wall
        clock: well below 1 (an overloaded machine), chunks play faster than the policy schedules them."""
        if self._clock_ref is None:
            return None
        wall = time.monotonic() - self._clock_ref[0]
        return (self.now() - self._clock_ref[1]) / wall if wall > 0 else None

    # ---- episodes ----------------------------------------------------------------------------
    def reset_to(self, seed: int) -> ScriptStream:
        """The table parked out of reach, the task's joints to the seed's start pose (for a task with `replant`, then a
        tread in place: see tread), then the table and objects where the task wants them (the objects settle 0.5 s)."""
        self.place_scene(seed, PARK_M, stream=self.hold_stream())
        t0 = self.stream_start()
        traj = self.task.move(self.command_at(t0), self.task.start_pose(seed), hold_s=0.8)
        if getattr(self.task, "replant", False):
            traj = np.concatenate([traj, tread(traj[-1])])
        stream = ScriptStream(traj, t0)
        self.spin(60, lambda: stream.finished(self.now()), stream)
        stream = self.hold_stream()
        self.place_scene(*self.task.scene(seed), stream=stream)
        t_end = self.now() + 0.5
        self.spin(20, lambda: self.now() >= t_end, stream)
        return stream

    def run(self, seed: int, actor: str = "policy", record: Path | None = None,
            instruction: str | None = None) -> EpisodeResult:
        """One episode of the seed's task; `instruction` replaces the task's (the wrong-instruction control)."""
        if actor not in ("policy", "expert"):
            raise ValueError("actor: policy or expert")
        self.task = task_for(self.tasks, seed)
        told = instruction or self.task.instruction
        self.set_instruction(told)
        stops0 = self.bridge.stops if self.bridge else 0  # counted from before the reset: a stop there is this episode's
        falls0 = self.bridge.falls if self.bridge else 0
        rej0 = self.bridge.chunks_rejected if self.bridge else 0
        stream = self.reset_to(seed)
        if self.bridge is not None and self.bridge.state_name in ("STOPPED", "ESTOP"):  # never run on a damped robot
            self.recover()
            stream = self.reset_to(seed)
        self.states_seen = {self.bridge.state_name} if self.bridge else set()
        n_received = len(self.received)
        self._ep_joint_index = len(self.joints)
        self._ep_body_index = len(self.bodies)  # success is checked on this episode's samples only
        t_ep = self.now()
        limit = self.task.time_limit_s
        self.filming = self.video is not None
        recorder = None
        if actor == "policy":
            # stop extending the hold and let its newest chunk start (≥ 1 s of it remains), so the policy's first
            # chunk is never stamped before it (the bridge would reject that, S4)
            last = self.stream_start(0.0) - DT  # the newest step-0 time sent or seen
            self.spin(10, lambda: self.now() >= last + DT)
            self.call("reset")
            self.call("activate")
            first = lambda: any(f == "g1" for _, f, _ in self.received[n_received:])  # noqa: E731
            if not self.spin(30, first):
                raise RuntimeError("the policy published no chunk within 30 s of activation")
            self.spin(60, lambda: self.now() >= t_ep + limit or self._succeeded(t_ep))
            self.call("pause")
            self.spin(0.15)  # let the policy's last chunk reach us: the hold below must be stamped after it
        else:
            if record is not None:
                recorder = self._start_recorder(record)
                self.spin(1.0, None, stream)
            t0 = self.stream_start(LEAD_S)
            if hasattr(self.task, "servo"):  # a closed-loop expert: re-aimed from the ground truth at every chunk
                servo = self.task.servo(self.command_at(t0), self.world())
                stream = ServoStream(servo, t0, servo.duration + 1.0, self)
            else:
                stream = ScriptStream(self.task.expert(self.command_at(t0), world=self.world(), hold_s=1.0), t0,
                                      EXPERT_FRAME)
            # the whole path, then (holding the target) until the task's test passes or its time limit: the measured
            # arm lags the command, and the episode must not end inside the success test's hold window
            self.spin(60, lambda: stream.finished(self.now()) and (self.now() >= t_ep + limit or self._succeeded(t_ep)),
                      stream)
        t_end = self.now()
        self._keep_holding()  # before anything slow: the bridge must never run dry between episodes
        if recorder is not None:
            recorder.stop()
            recorder.node.destroy_node()
        self.filming = False
        got = self._episode_poses(t_ep)  # once: the success test, the metrics and the path read the same samples
        task_ok, t_ok = self._evaluate(t_ep, got)
        metrics = self.task.metrics(*got) if got is not None and hasattr(self.task, "metrics") else {}
        self._keep_path(got, task_ok)
        tilts = [a for t, a in self.tilts if t_ep <= t <= t_end]
        heights = [z for t, z in self.pelvis if t_ep <= t <= t_end]
        falls = (self.bridge.falls - falls0) if self.bridge else 0
        max_tilt = max(tilts) if tilts else None
        min_pelvis = min(heights) if heights else None
        fell = fallen(max_tilt, min_pelvis, falls)
        ok = task_ok and not fell
        new = self.received[n_received:]
        pol = [(r, ms) for r, f, ms in new if f == "g1"]
        jumps: dict[str, float] = {}
        if len(pol) >= 2:
            start = pol[0][0].chunk.t0
            grid = np.arange(start, t_end, DT)
            done = replay([r for r, _, _ in self.received[:n_received]] + [r for r, _ in pol], grid,
                          self.adapter.default_action())
            jumps = boundary_jumps(done.commands, done.switched, list(range(ARMS.start, ARMS.stop)))
        stops = (self.bridge.stops - stops0) if self.bridge else 0
        if self.bridge is not None and self.bridge.state_name in ("STOPPED", "ESTOP"):
            self.recover()
        return EpisodeResult(seed=seed, actor=actor, success=ok, time_to_success_s=t_ok, stops=stops,
                             chunks_rejected=(self.bridge.chunks_rejected - rej0) if self.bridge else 0,
                             states=sorted(self.states_seen), policy_chunks=len(pol), jumps=jumps,
                             inference_ms=[ms for _, ms in pol], bag=str(record) if record else None,
                             max_tilt_deg=max_tilt, min_pelvis_m=min_pelvis, falls=falls, fell=fell, task_success=task_ok,
                             task=self.task.name, instruction=told, metrics=metrics)

    def _keep_holding(self) -> None:
        """Between episodes the scripted hold keeps the bridge fed (a silent stream would end in a stop)."""
        self.spin(0.2, None, self.hold_stream(0.05))

    def _evaluate(self, t_ep: float, got: tuple[np.ndarray, dict] | None) -> tuple[bool, float | None]:
        """The task's test on this episode's ground-truth samples (sim/bodies, from _episode_poses)."""
        if got is None:
            return False, None
        t, poses = got
        return self.task.evaluate(np.r_[t_ep, t], {n: (np.r_[p[:1], p], np.r_[q[:1], q]) for n, (p, q) in poses.items()})

    def _episode_poses(self, t_ep: float) -> tuple[np.ndarray, dict] | None:
        samples = [(t, b) for t, b in self.bodies[self._ep_body_index:] if t >= t_ep]
        if not samples:
            return None
        t = np.array([s[0] for s in samples])
        return t, {n: (np.array([s[1][n][0] for s in samples]), np.array([s[1][n][1] for s in samples]))
                   for n in self.task.bodies}

    def _keep_path(self, got: tuple[np.ndarray, dict] | None, success: bool) -> None:
        """For a task with a table: the pelvis's path in the table's frame (ahead of its edge, sideways from its
        middle), for the top-view plot (plot_paths)."""
        if got is not None and {"pelvis", "table"} <= set(self.task.bodies):
            from psi0.task_walk import relative_to_table

            ahead, side, _ = relative_to_table(got[1])
            self.paths.append({"task": self.task.name, "ahead": ahead, "side": side, "success": success})

    def _succeeded(self, t_ep: float) -> bool:
        return self._evaluate(t_ep, self._episode_poses(t_ep))[0]

    def _start_recorder(self, path: Path):
        from rclpy.node import Node
        from rclpy.parameter import Parameter

        from psi0.bags.record import Recorder

        node = Node("psi0_demo_recorder", parameter_overrides=[Parameter("use_sim_time", value=True)])
        self.ex.add_node(node)
        rec = Recorder(node, path, ["camera/head/image_raw", "joint_states", "action_chunk", "instruction"])
        rec.start({"camera/head/image_raw": "sensor_msgs/msg/Image", "joint_states": "sensor_msgs/msg/JointState",
                   "action_chunk": "psi0_msgs/msg/ActionChunk", "instruction": "std_msgs/msg/String"})
        return rec

    def trajectories(self, t_from: float, t_to: float) -> dict[str, np.ndarray]:
        """Commanded (replayed) vs measured task joints and policy chunk switch times, for plots."""
        grid = np.arange(t_from, t_to, DT / 2)
        done = replay([r for r, _, _ in self.received], grid, self.adapter.default_action())
        meas = [(t, q) for t, q in self.joints if t_from <= t <= t_to]
        names = self.adapter.action_names
        return {"t_cmd": grid, "cmd": done.commands[:, [names.index(j) for j in self._joint_names]],
                "t_meas": np.array([m[0] for m in meas]), "meas": np.array([m[1] for m in meas]),
                "switches": grid[done.switched], "joints": list(self._joint_names)}

    def close(self) -> int:
        frames = self.video.close() if self.video is not None else 0
        self.ex.shutdown()
        self.node.destroy_node()
        return frames
