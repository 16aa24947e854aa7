"""bridge_node: streams joint targets to the G1 (or psi0_sim) and is the last safety guard.

Threads:
- control thread: a 500 Hz loop paced on the monotonic clock (sleep, then a short spin to the
  deadline); each tick takes the newest LowState from its DDS reader (bad CRC dropped and counted),
  runs `BridgeCore.tick` and writes one freshly built LowCmd (CRC last), and every fifth tick the
  two Dex3 HandCmds. It never waits on the policy or on ROS callbacks.
  LowState is polled, not delivered by a listener, so S2 (stale LowState) measures the robot's
  silence and never the bridge's own: a state that arrived while this process was stalled (GIL,
  scheduling) is found by the first tick after the stall.
  Dex3 HandState is taken the same way. No Python runs on Cyclone's threads.
- Cyclone DDS threads: "recv" stores robot state in the readers (C, no GIL); it gets SCHED_FIFO
  just below the control thread.
- rclpy executor (main thread): action_chunk, estop heartbeat, services, status publishing.
One lock guards the core; every critical section is a few tens of microseconds.

Topics (relative names): sub `action_chunk` (psi0_msgs/ActionChunk, reliable, keep-last 1; a publisher with
incompatible QoS is reported in /diagnostics), `estop` (std_msgs/Bool heartbeat, True = motion allowed; reliable or
best-effort publishers both count); pub `joint_states` (29 body + 14 hand
joints), `imu`, `~/status` (psi0_msgs/BridgeStatus: at status_rate_hz and on every state transition), `/diagnostics`.
Services: `~/estop`, `~/reset`, `~/enable` (std_srvs/Trigger). `~/` is the node's own name (`bridge/status` under the
default name): a renamed bridge keeps its status and services together.
Start-up: refuses to start if another process writes rt/lowcmd (S1), checked for
`single_writer_check_s`; a writer appearing later triggers a protective stop. It also refuses while the robot's
motion switcher reports a built-in mode (psi0_core.motion_switcher; `psi0 motion-mode --release` first); no answer
within `motion_switcher_timeout_s` is a warning.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool
from std_srvs.srv import Trigger
from unitree_sdk2py.idl.unitree_hg.msg.dds_ import HandCmd_, HandState_, LowCmd_, LowState_

from psi0_bridge.bridge_config import BridgeConfig
from psi0_bridge.clock_rate import ClockRate
from psi0_bridge.core import BridgeCore, Output, State
from psi0_bridge.realtime import pin_threads, set_fifo, set_fifo_threads, sleep_until
from psi0_bridge.safety import LoopStats
from psi0_bridge.wbc import StandController, WholeBodyController
from psi0_core.lowlevel import crc_ok, hand_cmd, lowcmd_cdr, lowstate_from_cdr, pack_lowcmd
from psi0_core.motion_switcher import MotionSwitcherClient
from psi0_core.node_runner import run_node
from psi0_core.params import ConfigError
from psi0_core.qos import latched_qos
from psi0_core.robot import BODY_MOTORS, G1, HAND_MOTORS, load_g1
from psi0_core.robot_dds import Endpoint, take_serialized, write_serialized
from psi0_core.ros_params import declare_config
from psi0_core.rostime import to_sec
from psi0_msgs.msg import ActionChunk, BridgeStatus

LOWCMD, LOWSTATE = "rt/lowcmd", "rt/lowstate"
LOWSTATE_DEPTH = 4  # LowStates the reader keeps between two ticks: every frame's CRC is checked and counted at 500 Hz
HAND_CMD = {"left": "rt/dex3/left/cmd", "right": "rt/dex3/right/cmd"}
HAND_STATE = {"left": "rt/dex3/left/state", "right": "rt/dex3/right/state"}


def make_wbc(cfg: BridgeConfig, robot: G1) -> WholeBodyController:
    if cfg.wbc == "stand":
        return StandController(robot.body.default)
    from psi0_bridge.learned_wbc import LearnedController
    from psi0_bridge.wbc_layout import layout_file

    return LearnedController.load(layout_file(cfg.wbc), robot, cfg.wbc_rate_hz, cfg.wbc_policy_path)


class BridgeNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("bridge", **kwargs)
        cfg = self.cfg = declare_config(self, BridgeConfig)
        self.robot = load_g1(cfg.robot_description or None)
        gravity = None
        if cfg.arm_gravity_ff:
            from psi0_bridge.gravity import GravityModel

            gravity = GravityModel().torques
        self.core = BridgeCore(cfg, self.robot, make_wbc(cfg, self.robot), gravity=gravity)
        self.lock = threading.Lock()
        self.loop_stats = LoopStats(1.0 / cfg.control_rate_hz, cfg.loop_warn_ms, cfg.loop_error_ms)
        self.hand_q = {side: np.zeros(HAND_MOTORS) for side in HAND_STATE}
        self.hand_dq = {side: np.zeros(HAND_MOTORS) for side in HAND_STATE}
        self.frames_sent = 0
        self.damping_frames = 0
        self._state_frame: np.ndarray | None = None  # the newest LowState frame (torques, accelerometer: joint_states)

        # ---- robot DDS (Cyclone) -------------------------------------------------------------
        self.dds = Endpoint(cfg.robot_domain, cfg.network_interface)
        time.sleep(cfg.single_writer_check_s)  # S1: let discovery find any other rt/lowcmd writer
        others = self.dds.other_writers(LOWCMD)
        if others:
            raise ConfigError(f"another process already writes {LOWCMD} (writers {others}); refusing to start (S1)")
        if cfg.motion_switcher_check:
            self._check_motion_switcher()
        self.lowcmd_writer = self.dds.writer(LOWCMD, LowCmd_)
        self.hand_writers = {s: self.dds.writer(t, HandCmd_) for s, t in HAND_CMD.items()}
        self.lowstate_reader = self.dds.polled_reader(LOWSTATE, LowState_, depth=LOWSTATE_DEPTH)  # the loop takes it
        self.hand_readers = {side: self.dds.polled_reader(topic, HandState_) for side, topic in HAND_STATE.items()}
        self.hand_state_errors = 0

        # ---- ROS side ----------------------------------------------------------------------------
        reliable1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        best_effort1 = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.qos_problems: dict[str, str] = {}  # topic -> what is not matched (diagnostics, warning)
        self.create_subscription(ActionChunk, "action_chunk", self._on_chunk, reliable1,
                                 event_callbacks=SubscriptionEventCallbacks(
                                     incompatible_qos=lambda info: self._incompatible("action_chunk", info)))
        # The e-stop heartbeat is accepted whatever its publisher's reliability: a reliable publisher matches both
        # subscriptions (a duplicate beat is harmless), a best-effort one (an operator's button on sensor QoS) the second
        self.create_subscription(Bool, "estop", self._on_heartbeat, reliable1)
        self.create_subscription(Bool, "estop", self._on_heartbeat, best_effort1)
        self.pub_js = self.create_publisher(JointState, "joint_states", 10)
        self.pub_imu = self.create_publisher(Imu, "imu", 10)
        latched = latched_qos()
        self.pub_status = self.create_publisher(BridgeStatus, "~/status", latched)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(Trigger, "~/estop", self._srv_estop)
        self.create_service(Trigger, "~/reset", self._srv_reset)
        self.create_service(Trigger, "~/enable", self._srv_enable)
        self.create_timer(1.0 / cfg.status_rate_hz, self._publish_status)
        # every transition is published at once (the control thread triggers this), not at the next status tick
        self._transition = self.create_guard_condition(self._publish_status)
        self._loop_state = self.core.state
        self.create_timer(1.0 / cfg.joint_state_rate_hz, self._publish_joint_states)
        self.create_timer(0.5, self._check_writers)
        self._last_state = self.core.state
        self._stop_event = threading.Event()
        self._thread = threading.Thread(target=self._control_loop, name="bridge_control", daemon=True)
        self._thread.start()
        self.clock_rate = ClockRate(enabled=bool(self.get_parameter("use_sim_time").value))
        if self.clock_rate.enabled:  # simulated seconds per wall second, for playing chunks at the simulator's rate
            self.create_timer(0.25, self._update_clock_rate)
        self._make_realtime(offset=10)  # the ROS executor (this thread) below the DDS receive threads
        if cfg.realtime_priority > 5:  # Cyclone's receive threads (they fill the robot-state readers): below the loop
            _, error = set_fifo_threads(("recv", "dq.user"), cfg.realtime_priority - 5)
            if error:
                self.get_logger().warning(f"DDS receive threads run without real-time priority ({error})")
        if cfg.cpu_affinity:  # every thread that exists now (DDS, ROS, control); later ones inherit it
            pinned = pin_threads(cfg.cpu_affinity)
            self.get_logger().info(f"{len(pinned)} bridge threads pinned to CPUs {cfg.cpu_affinity}")
        self.get_logger().info(
            f"bridge up: robot DDS domain {cfg.robot_domain} on {cfg.network_interface}, "
            f"{cfg.control_rate_hz:.0f} Hz, wbc={cfg.wbc}, auto_enable={cfg.auto_enable}")

    def _check_motion_switcher(self) -> None:
        """S1: the robot's built-in controller must not own the motors (it need not appear as an rt/lowcmd writer)."""
        mode = MotionSwitcherClient(self.dds).active_mode(self.cfg.motion_switcher_timeout_s)
        if mode is None:
            self.get_logger().warning(
                f"no motion switcher answered within {self.cfg.motion_switcher_timeout_s} s: make sure the robot's "
                "built-in controller is released (psi0 motion-mode --release) before enabling")
        elif mode:
            raise ConfigError(
                f"the robot's built-in motion mode {mode!r} owns the motors; refusing to start (S1). Release it first: "
                f"psi0 motion-mode --release --network-interface {self.cfg.network_interface} "
                f"--robot-domain {self.cfg.robot_domain}")
        else:
            self.get_logger().info("motion switcher: no built-in mode active")

    # ---- clock ---------------------------------------------------------------------------------
    def _update_clock_rate(self) -> None:
        """Under use_sim_time: the simulator's rate, for chunk stamps and the whole-body controller's step rate."""
        self.core.time_scale = self.clock_rate.update(time.monotonic(), self.get_clock().now().nanoseconds * 1e-9)

    # The control loop, the watchdogs and the DDS listeners run on the monotonic clock: reading the ROS
    # clock from several threads at 500 Hz is not safe in rclpy (with use_sim_time it is updated by the
    # executor), and a wall-clock deadline must not depend on /clock arriving. Chunk stamps (ROS time,
    # sim time under use_sim_time) are converted once, at arrival, in the executor thread.
    def now(self) -> float:
        return time.monotonic()

    def ros_to_local(self, t_ros: float, dt: float = 0.0) -> tuple[float, float]:
        """A ROS-time stamp and step period on the bridge's monotonic clock (call from the executor thread); under
        use_sim_time at the simulator's measured rate (clock_rate.py)."""
        return self.clock_rate.to_local(t_ros, dt, time.monotonic(), self.get_clock().now().nanoseconds * 1e-9)

    # ---- robot inputs ----------------------------------------------------------------------------
    def _take_lowstate(self, now: float) -> None:
        """Control thread, lock held: the LowStates received since the last tick (up to LOWSTATE_DEPTH), oldest
        first; unparsable or bad-CRC frames are dropped and counted."""
        for data in take_serialized(self.lowstate_reader, LOWSTATE_DEPTH):
            try:
                f = lowstate_from_cdr(data)
            except ValueError:
                self.core.on_bad_lowstate()
                continue
            m, imu = f["motor"], f["imu"]
            self.core.on_lowstate(now, m["q"][:BODY_MOTORS], m["dq"][:BODY_MOTORS], imu["quaternion"], imu["gyroscope"],
                                  int(f["mode_machine"]), crc_ok=crc_ok(f))
            self._state_frame = f  # converted for joint_states at their rate, not here at 500 Hz

    def _take_hand_state(self) -> None:
        """Control thread, lock held: the newest Dex3 HandState of each hand, if one came (~0.07 ms each, 100 Hz)."""
        for side, reader in self.hand_readers.items():
            for data in take_serialized(reader, 1):
                try:
                    states = HandState_.deserialize(data).motor_state[:HAND_MOTORS]
                    q = np.array([s.q for s in states], dtype=float)
                    dq = np.array([s.dq for s in states], dtype=float)
                except Exception:  # the SDK deserialiser's errors on malformed input vary (struct.error, ...)
                    q = dq = np.zeros(0)
                if len(q) != HAND_MOTORS:  # not a Dex3 state: dropped, counted in /diagnostics
                    self.hand_state_errors += 1
                    continue
                self.hand_q[side], self.hand_dq[side] = q, dq
                self.core.on_hand_state(np.concatenate([self.hand_q["left"], self.hand_q["right"]]))

    # ---- ROS inputs (executor thread) --------------------------------------------------------
    def _on_chunk(self, msg: ActionChunk) -> None:
        stamp = to_sec(msg.header.stamp)
        t0, dt = self.ros_to_local(stamp, float(msg.dt))
        # how far ahead step 0 is, on the clock that stamped it (sim time under use_sim_time: a simulator at 0.3× real
        # time must not turn a chunk 0.3 s ahead into one 1 s ahead of the wall clock)
        ahead = stamp - self.get_clock().now().nanoseconds * 1e-9
        with self.lock:
            ok = self.core.on_chunk(self.now(), chunk_id=msg.chunk_id, t0=t0, dt=dt, horizon=msg.horizon,
                                    dim=msg.dim, names=msg.names, data=np.asarray(msg.data, dtype=np.float64),
                                    prefix_len=msg.prefix_len, ahead_s=ahead)
        if not ok:
            self.get_logger().warning(f"chunk rejected: {self.core.last_error}", throttle_duration_sec=1.0)

    def _on_heartbeat(self, msg: Bool) -> None:
        with self.lock:
            self.core.on_heartbeat(self.now(), msg.data)
            if not msg.data:
                self._send(self.core.tick(self.now()))  # first damping frame now, not at the next tick

    def _srv_estop(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        with self.lock:
            self.core.estop(self.now(), "e-stop service")
            self._send(self.core.tick(self.now()))
        res.success, res.message = True, "e-stop latched: damping; call bridge/reset to recover"
        self.get_logger().error("E-STOP (service)")
        return res

    def _srv_reset(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        with self.lock:
            res.success, res.message = self.core.reset(self.now())
        return res

    def _srv_enable(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        with self.lock:
            res.success, res.message = self.core.enable(self.now())
        return res

    def _incompatible(self, topic: str, info) -> None:
        """A publisher on `topic` whose QoS cannot match ours (e.g. best-effort chunks: they would never arrive)."""
        policy = info.last_policy_kind.name.removeprefix("RMW_QOS_POLICY_")
        self.qos_problems[topic] = (f"{info.total_count} publisher(s) with incompatible QoS ({policy}): "
                                    f"not received; publish {topic} reliable")
        self.get_logger().error(f"{topic}: {self.qos_problems[topic]}")

    def _check_writers(self) -> None:
        others = self.dds.other_writers(LOWCMD, self.lowcmd_writer)
        if others:
            with self.lock:
                self.core.other_writer_detected(self.now(), ", ".join(others))

    # ---- control loop ------------------------------------------------------------------------------
    def _send(self, out: Output) -> None:
        """Build and write the frames of one tick (called with the lock held)."""
        mm = self.core.measured.mode_machine
        if out.body is None or mm is None:
            return
        write_serialized(self.lowcmd_writer, lowcmd_cdr(pack_lowcmd(out.body, mode_machine=mm, mode_pr=0)))
        self.frames_sent += 1
        self.damping_frames += int(out.damping)
        if out.hands is not None:
            h = out.hands
            n = HAND_MOTORS
            self.hand_writers["left"].write(hand_cmd(h.q[:n], h.kp[:n], h.kd[:n]))
            self.hand_writers["right"].write(hand_cmd(h.q[n:], h.kp[n:], h.kd[n:]))

    def _make_realtime(self, offset: int = 0) -> None:
        """Give the calling thread a real-time priority (SCHED_FIFO, `realtime_priority - offset`).

        Every thread of this process that touches the GIL gets one (control loop highest, DDS
        listeners and the ROS executor just below): otherwise a normal-priority thread holding the
        GIL can be preempted by any other process while the control thread waits for it (priority
        inversion through the GIL). Needs CAP_SYS_NICE or an rtprio limit; without it the bridge
        runs at normal priority and says so once.
        """
        error = set_fifo(self.cfg.realtime_priority - offset)  # ≤ 0: normal scheduling, nothing to do
        if error and not getattr(self, "_rt_warned", False):
            self._rt_warned = True
            self.get_logger().warning(f"bridge threads run without real-time priority ({error}); expect more jitter")

    def _control_loop(self) -> None:
        sys.setswitchinterval(self.cfg.gil_switch_interval_ms * 1e-3)
        # Everything allocated during start-up is long-lived: keep it out of the collector, and let
        # young-generation collections (sub-millisecond) run often instead of rare full ones.
        gc.freeze()
        gc.set_threshold(5000, 50, 1000)
        self._make_realtime()
        period = 1.0 / self.cfg.control_rate_hz
        spin_s = self.cfg.loop_spin_us * 1e-6
        next_t = time.monotonic()
        last = None
        while not self._stop_event.is_set():
            next_t += period
            sleep_until(next_t, spin_s)
            start = time.monotonic()
            if last is not None:
                self.loop_stats.record(start - last)
            last = start
            try:
                with self.lock:
                    now = self.now()
                    self._take_lowstate(now)
                    self._take_hand_state()
                    self._send(self.core.tick(now))
                    changed = self.core.state != self._loop_state
                    self._loop_state = self.core.state
                if changed:
                    self._transition.trigger()
            except Exception as e:
                self.get_logger().error(f"control tick failed: {e!r}", throttle_duration_sec=1.0)
            if time.monotonic() - next_t > period:  # fell behind by a whole period: resynchronise
                next_t = time.monotonic()

    def stop(self) -> None:
        if hasattr(self, "_thread"):
            self._stop_event.set()
            self._thread.join(timeout=1.0)

    def damp_before_exit(self, seconds: float = 0.1) -> None:
        """On the way out (Ctrl-C, SIGTERM, a launcher that died): a latched protective stop and `seconds` of
        damping frames, so that when the commands end the robot was last told to go limp-damped, not to hold
        its last targets. Nothing is sent if the robot was never seen."""
        if not hasattr(self, "_thread") or not self._thread.is_alive():  # never started (refused at start-up)
            return
        with self.lock:
            if self.core.measured.mode_machine is None:
                return
            self.core.estop(self.now(), "bridge shutting down")
            self._send(self.core.tick(self.now()))
        self.get_logger().warning(f"shutting down: damping for {seconds:.1f} s")
        time.sleep(seconds)  # the control loop keeps sending damping frames meanwhile

    def destroy_node(self) -> None:
        self.damp_before_exit()
        self.stop()
        super().destroy_node()

    # ---- reporting -------------------------------------------------------------------------------
    def _publish_joint_states(self) -> None:
        with self.lock:
            m = self.core.measured
            if m.mode_machine is None:
                return
            q, dq = m.q.copy(), m.dq.copy()
            f = self._state_frame
            tau = f["motor"]["tau_est"][:BODY_MOTORS].astype(float) if f is not None else np.zeros(BODY_MOTORS)
            acc = f["imu"]["accelerometer"].astype(float) if f is not None else np.zeros(3)
            hq = np.concatenate([self.hand_q["left"], self.hand_q["right"]])
            hdq = np.concatenate([self.hand_dq["left"], self.hand_dq["right"]])
            quat, gyro = m.quat.copy(), m.gyro.copy()
        js = JointState()
        js.header.stamp = self.get_clock().now().to_msg()
        js.name = self.robot.joint_state_names()
        js.position = np.concatenate([q, hq]).tolist()
        js.velocity = np.concatenate([dq, hdq]).tolist()
        js.effort = np.concatenate([tau, np.zeros(len(hq))]).tolist()
        self.pub_js.publish(js)
        imu = Imu()
        imu.header.stamp, imu.header.frame_id = js.header.stamp, "imu_in_pelvis"  # a frame of the robot model
        imu.orientation.w, imu.orientation.x, imu.orientation.y, imu.orientation.z = (float(v) for v in quat)
        imu.angular_velocity.x, imu.angular_velocity.y, imu.angular_velocity.z = (float(v) for v in gyro)
        imu.linear_acceleration.x, imu.linear_acceleration.y, imu.linear_acceleration.z = (float(v) for v in acc)
        self.pub_imu.publish(imu)

    def _publish_status(self) -> None:
        now = self.now()
        with self.lock:
            st = self.core.status()
            lowstate_age = now - self.core.measured.stamp
            chunk = self.core.last_valid_chunk
        msg = BridgeStatus()
        msg.header.stamp = self.get_clock().now().to_msg()
        for k, v in st.items():
            setattr(msg, k, v)
        p50, p99 = self.loop_stats.percentiles((50.0, 99.0))  # once per status cycle
        msg.loop_period_error_p99_ms = p99
        msg.loop_overruns = self.loop_stats.overruns
        msg.lowstate_age_ms = float(min(lowstate_age, 1e6) * 1e3)
        msg.chunk_age_ms = float(min(now - chunk.t0, 1e6) * 1e3) if chunk else -1.0  # since its step 0
        self.pub_status.publish(msg)
        if self.core.state != self._last_state:
            text = f"state {self._last_state.name} -> {self.core.state.name} {st['stop_reason']}"
            if self.core.state in (State.STOPPED, State.ESTOP):
                self.get_logger().error(text)
            else:
                self.get_logger().info(text)
            self._last_state = self.core.state
        self._publish_diagnostics(st, p50, p99)

    def _publish_diagnostics(self, st: dict, p50: float, p99: float) -> None:
        arr = DiagnosticArray()
        arr.header.stamp = self.get_clock().now().to_msg()
        loop = DiagnosticStatus(name="psi0 bridge: control loop", hardware_id="g1")
        loop.level = bytes([self.loop_stats.level(p99)])
        loop.message = f"period error p99 {p99:.3f} ms"
        loop.values = [KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in {
            "period_error_p50_ms": p50, "period_error_p99_ms": p99,
            "period_error_max_ms": self.loop_stats.worst_ms, "overruns": self.loop_stats.overruns,
            "ticks": self.loop_stats.ticks, "frames_sent": self.frames_sent,
            "own_stall_waits": self.core.counters.own_stall_waits, "hand_state_errors": self.hand_state_errors}.items()]
        safety = DiagnosticStatus(name="psi0 bridge: safety", hardware_id="g1")
        bad = self.core.state in (State.STOPPED, State.ESTOP)
        safety.level = bytes([2 if bad else 1 if self.core.state == State.HOLDING else 0])
        safety.message = f"{st['state_name']}" + (f": {st['stop_reason']}" if st["stop_reason"] else "")
        safety.values = [KeyValue(key=k, value=str(v)) for k, v in st.items()]
        safety.values.extend(KeyValue(key=k, value=v) for k, v in self.core.wbc.diagnostics().items())
        safety.values.extend(KeyValue(key=f"qos_{t}", value=v) for t, v in self.qos_problems.items())
        if self.qos_problems and safety.level == bytes([0]):
            safety.level = bytes([1])
            safety.message += "; " + "; ".join(f"{t}: {v}" for t, v in self.qos_problems.items())
        arr.status = [loop, safety]
        self.pub_diag.publish(arr)


def main() -> int:
    return run_node(BridgeNode)


if __name__ == "__main__":
    sys.exit(main())
