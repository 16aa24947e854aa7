"""The bridge's configuration: every safety threshold of the safety table with its default and the only range it
may be configured within, and the rules between them. Safety values are read-only at run time (S8)."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require
from psi0_core.robot import MODE_MACHINES_29DOF, NOMINAL_BASE_HEIGHT


@dataclass(frozen=True)
class BridgeConfig(NodeConfig, node="bridge"):
    # ---- robot I/O -----------------------------------------------------------------------
    robot_domain: int = param(1, "DDS domain of the robot interface (0 real robot, 1 simulator)", range=(0, 232))
    network_interface: str = param("lo", "network interface of the robot DDS (lo for the simulator, e.g. eth0)")
    mode_machine_allow: tuple[int, ...] = param(
        list(MODE_MACHINES_29DOF), "mode_machine values (G1 variants) the bridge accepts: 29-DoF G1s report 5 (waist "
        "unlocked) or 6 (waist locked); the robot's own value is echoed in every LowCmd", read_only=True)
    robot_description: str = param(
        "", "path of the robot facts YAML (empty: share/psi0_core/config/robot/g1.yaml)", read_only=True)
    # ---- loop ----------------------------------------------------------------------------
    control_rate_hz: float = param(500.0, "body command rate", range=(100.0, 1000.0), read_only=True)
    hand_rate_hz: float = param(100.0, "Dex3 command rate (decimated from the control loop)", range=(10.0, 500.0),
                                read_only=True)
    wbc_rate_hz: float = param(50.0, "whole-body controller rate", range=(10.0, 500.0), read_only=True)
    status_rate_hz: float = param(10.0, "BridgeStatus / diagnostics rate", range=(1.0, 50.0))
    joint_state_rate_hz: float = param(100.0, "joint_states / imu rate", range=(10.0, 500.0))
    realtime_priority: int = param(80, "SCHED_FIFO priority of the control thread (0: normal scheduling)", range=(0, 99))
    cpu_affinity: tuple[int, ...] = param(
        [], "CPUs every bridge thread runs on (empty: no pinning). Give the bridge a core the policy node and other load "
        "do not use (e.g. isolcpus on the robot PC)", range=(0, 1023), read_only=True)
    gil_switch_interval_ms: float = param(0.1, "Python thread switch interval: how long another thread may hold the GIL "
                                          "before the control thread gets it", range=(0.05, 5.0))
    loop_spin_us: float = param(500.0, "busy-wait this long before each tick's deadline (the kernel's wake-up latency is "
                                "larger than a 500 Hz loop tolerates); 0: sleep only, for a machine the bridge shares "
                                "with a simulator and a policy (the spin costs a quarter of a core)", range=(0.0, 2000.0))
    auto_enable: bool = param(False, "ramp and activate as soon as state and heartbeat are present (simulator)")
    # ---- whole-body controller -----------------------------------------------------------
    wbc: str = param("stand", "lower-body controller: `stand` (a fixed standing pose: for a robot on a gantry) or a "
                     "learned controller's layout, by name in config/wbc/ (holosoma_ppo, ...) or as a YAML path",
                     read_only=True)
    wbc_policy_path: str = param("", "learned controller's policy file (.onnx or TorchScript .pt); empty: the file "
                                 "the layout names", read_only=True)
    arm_gravity_ff: bool = param(
        False, "add the arms' gravity torque (nominal model) as feed-forward; tracks arm targets without sag, but moves "
        "the COM forward: with the plain `stand` controller use it with the robot supported (gantry, elastic band, "
        "fixed base)", read_only=True)
    ff_torque_fraction: float = param(0.3, "bound on |feed-forward torque| as a fraction of the motor torque limit",
                                      range=(0.0, 0.5), read_only=True)
    # ---- S2 state freshness --------------------------------------------------------------
    state_warn_s: float = param(0.010, "S2: warn when LowState is older than this", range=(0.002, 0.05), read_only=True)
    state_stop_s: float = param(0.100, "S2: protective stop when LowState is older than this", range=(0.01, 0.1),
                                read_only=True)
    # ---- S3 stale commands ---------------------------------------------------------------
    hold_after_s: float = param(0.100, "S3: HOLDING after this long with no due chunk step", range=(0.02, 0.1),
                                read_only=True)
    stop_after_s: float = param(0.500, "S3: protective stop after this long with no due chunk step", range=(0.1, 0.5),
                                read_only=True)
    # ---- S4 malformed chunks -------------------------------------------------------------
    reject_stop_count: int = param(3, "S4: protective stop after this many rejected chunks in a row", range=(1, 3),
                                   read_only=True)
    chunk_max_future_s: float = param(1.0, "S4: reject a chunk whose step 0 is further than this in the future",
                                      range=(0.05, 2.0), read_only=True)
    chunk_max_dt: float = param(0.5, "S4: largest accepted chunk step period (s)", range=(0.005, 0.5), read_only=True)
    chunk_value_margin: float = param(0.5, "S4: a joint value beyond its limits by more than this (rad) makes the chunk "
                                      "malformed (rejected) instead of clamped (S5)", range=(0.1, 1.0), read_only=True)
    # ---- S5 / S6 limits ------------------------------------------------------------------
    position_margin: float = param(0.05, "S5: clamp targets to joint limits minus this margin (rad)", range=(0.05, 0.3),
                                   read_only=True)
    arm_velocity_limit: float = param(6.0, "S6: arm target velocity clamp (rad/s)", range=(0.1, 6.0), read_only=True)
    hand_velocity_limit: float = param(50.0, "S6: hand target velocity clamp (rad/s)", range=(0.1, 50.0), read_only=True)
    leg_velocity_scale: float = param(1.0, "S6: legs/waist clamp as a fraction of the URDF velocity limit",
                                      range=(0.05, 1.0), read_only=True)
    # ---- S7 / S9 ramps, e-stop -----------------------------------------------------------
    ramp_s: float = param(2.0, "S7: start-up ramp from the measured pose (s)", range=(2.0, 20.0), read_only=True)
    restiffen_s: float = param(1.0, "S9: gain ramp after an e-stop/stop reset (s)", range=(1.0, 10.0), read_only=True)
    restiffen_max_tilt_deg: float = param(10.0, "reset after a damping stop is refused while the base tilts more than "
                                          "this (deg): stand the robot up first", range=(2.0, 20.0), read_only=True)
    require_heartbeat: bool = param(True, "S9: require the e-stop heartbeat topic", read_only=True)
    heartbeat_timeout_s: float = param(0.5, "S9: e-stop when the heartbeat is older than this", range=(0.05, 0.5),
                                       read_only=True)
    damping_kd: float = param(5.0, "protective stop / e-stop damping gain on body motors", range=(3.0, 8.0),
                              read_only=True)
    # ---- S1 single writer ----------------------------------------------------------------
    single_writer_check_s: float = param(0.2, "S1: look for another rt/lowcmd writer this long before start",
                                         range=(0.2, 5.0), read_only=True)
    motion_switcher_check: bool = param(
        True, "S1: at start-up ask the robot's motion switcher which built-in mode owns the motors and refuse to start "
        "while one does (release it first: psi0 motion-mode --release)", read_only=True)
    motion_switcher_timeout_s: float = param(
        1.0, "S1: wait this long for the motion switcher's answer; none: a warning, and the start goes on (the "
        "simulator answers; a robot whose firmware has no such service does not)", range=(0.1, 10.0), read_only=True)
    # ---- S8 gains ------------------------------------------------------------------------
    kp_legs: tuple[float, ...] = param([165.0, 165.0, 165.0, 330.0, 160.0, 40.0],
                                       "S8: leg kp per joint (hip p/r/y, knee, ankle p/r)", range=(0.0, 400.0), length=6,
                                       read_only=True)
    kd_legs: tuple[float, ...] = param([2.0, 2.0, 2.0, 4.0, 2.0, 1.0], "S8: leg kd per joint", range=(0.0, 10.0),
                                       length=6, read_only=True)
    kp_waist: float = param(440.0, "S8: waist kp", range=(0.0, 500.0), read_only=True)
    kd_waist: float = param(15.0, "S8: waist kd", range=(0.0, 20.0), read_only=True)
    kp_arms: tuple[float, ...] = param([50.0, 50.0, 50.0, 50.0, 30.0, 30.0, 30.0],
                                       "S8: arm kp per joint (shoulder p/r/y, elbow, wrist r/p/y)", range=(0.0, 100.0),
                                       length=7, read_only=True)
    kd_arms: tuple[float, ...] = param([7.5, 7.5, 7.5, 7.5, 6.0, 6.0, 6.0], "S8: arm kd per joint", range=(0.0, 10.0),
                                       length=7, read_only=True)
    kp_hands: float = param(1.5, "S8: Dex3 kp", range=(0.0, 5.0), read_only=True)
    kd_hands: float = param(0.2, "S8: Dex3 kd", range=(0.0, 1.0), read_only=True)
    # ---- S10 locomotion command bounds ---------------------------------------------------
    vx_max: float = param(0.5, "S10: |vx| bound (m/s)", range=(0.0, 1.0), read_only=True)
    vy_max: float = param(0.3, "S10: |vy| bound (m/s)", range=(0.0, 0.5), read_only=True)
    yaw_rate_max: float = param(0.5, "S10: |yaw rate| bound (rad/s)", range=(0.0, 1.0), read_only=True)
    height_min: float = param(0.55, "S10: lowest base height (m)", range=(0.45, NOMINAL_BASE_HEIGHT), read_only=True)
    height_max: float = param(0.80, "S10: highest base height (m)", range=(0.7, 0.85), read_only=True)
    torso_roll_max: float = param(0.3, "S10: |torso roll| bound (rad)", range=(0.0, 0.52), read_only=True)
    torso_pitch_max: float = param(0.45, "S10: |torso pitch| bound (rad)", range=(0.0, 0.52), read_only=True)
    torso_yaw_max: float = param(0.8, "S10: |torso yaw| bound (rad)", range=(0.0, 2.6), read_only=True)
    velocity_quantisation: str = param(
        "none", "vx/vy handed to the whole-body controller: as commanded (none) or quantised like the official Ψ0 "
        "client (psi0_official: vx 0.35 when > 0.25 else 0, vy ±0.5 when |vy| ≥ 0.3 else 0; S10 bounds after)",
        choices=("none", "psi0_official"), read_only=True)
    # ---- S12 falls ---------------------------------------------------------------------------
    tilt_warn_deg: float = param(20.0, "S12: count a warning while the base tilts more than this (deg)",
                                 range=(5.0, 30.0), read_only=True)
    tilt_stop_deg: float = param(35.0, "S12: protective stop (damping) when the base tilts more than this: a fall (deg)",
                                 range=(10.0, 45.0), read_only=True)
    # ---- S11 loop health -----------------------------------------------------------------
    loop_warn_ms: float = param(1.0, "S11: period error that raises a warning", range=(0.1, 5.0))
    loop_error_ms: float = param(2.0, "S11: period error that counts as an overrun / error", range=(0.2, 10.0))

    def check(self) -> None:
        n = self.NODE
        require(self.state_warn_s < self.state_stop_s, f"{n}: state_warn_s ({self.state_warn_s}) must be below "
                f"state_stop_s ({self.state_stop_s}) (S2)")
        require(self.hold_after_s < self.stop_after_s, f"{n}: hold_after_s ({self.hold_after_s}) must be below "
                f"stop_after_s ({self.stop_after_s}) (S3)")
        require(self.height_min < self.height_max, f"{n}: height_min ({self.height_min}) must be below height_max "
                f"({self.height_max}) (S10)")
        require(self.loop_warn_ms < self.loop_error_ms, f"{n}: loop_warn_ms ({self.loop_warn_ms}) must be below "
                f"loop_error_ms ({self.loop_error_ms}) (S11)")
        for name in ("hand_rate_hz", "wbc_rate_hz", "joint_state_rate_hz"):
            require(getattr(self, name) <= self.control_rate_hz,
                    f"{n}: {name} ({getattr(self, name)}) cannot exceed control_rate_hz ({self.control_rate_hz})")
        require(self.tilt_warn_deg < self.tilt_stop_deg, f"{n}: tilt_warn_deg ({self.tilt_warn_deg}) must be below "
                f"tilt_stop_deg ({self.tilt_stop_deg}) (S12)")
        require(bool(self.mode_machine_allow), f"{n}: mode_machine_allow is empty: no robot could ever be commanded")
        require(bool(self.wbc.strip()), f"{n}: wbc is empty (stand, or a layout name / path)")
