"""The bridge's parameter schema: every safety threshold of DESIGN.md §8 with its default and the
only range it may be configured within. Safety values are read-only at run time (S8)."""

from __future__ import annotations

from psi0.params import Param, Schema

P = Param
SCHEMA = Schema(
    "bridge",
    (
        # ---- robot I/O -----------------------------------------------------------------------
        P("robot_domain", "int", 1, "DDS domain of the robot interface (0 real robot, 1 simulator)", range=(0, 232)),
        P("network_interface", "str", "lo", "network interface of the robot DDS (lo for the simulator, e.g. eth0)"),
        P("mode_machine_allow", "int_list", [5], "mode_machine values (G1 variants) the bridge accepts; 5 = G1 29-DoF",
          read_only=True),
        P("robot_description", "str", "", "path of the robot facts YAML (empty: share/psi0/config/robot/g1.yaml)",
          read_only=True),
        # ---- loop ----------------------------------------------------------------------------
        P("control_rate_hz", "float", 500.0, "body command rate", range=(100.0, 1000.0), read_only=True),
        P("hand_rate_hz", "float", 100.0, "Dex3 command rate (decimated from the control loop)", range=(10.0, 500.0),
          read_only=True),
        P("wbc_rate_hz", "float", 50.0, "whole-body controller rate", range=(10.0, 500.0), read_only=True),
        P("status_rate_hz", "float", 10.0, "BridgeStatus / diagnostics rate", range=(1.0, 50.0)),
        P("joint_state_rate_hz", "float", 100.0, "joint_states / imu rate", range=(10.0, 500.0)),
        P("realtime_priority", "int", 80, "SCHED_FIFO priority of the control thread (0: normal scheduling)",
          range=(0, 99)),
        P("cpu_affinity", "int_list", [], "CPUs every bridge thread runs on (empty: no pinning). Give the bridge a "
          "core the policy node and other load do not use (e.g. isolcpus on the robot PC)", range=(0, 1023),
          read_only=True),
        P("gil_switch_interval_ms", "float", 0.1, "Python thread switch interval: how long another thread may hold "
          "the GIL before the control thread gets it", range=(0.05, 5.0)),
        P("auto_enable", "bool", False, "ramp and activate as soon as state and heartbeat are present (simulator)"),
        # ---- whole-body controller -----------------------------------------------------------
        P("wbc", "str", "stand", "lower-body controller", choices=("stand", "learned"), read_only=True),
        P("wbc_policy_path", "str", "", "learned lower-body policy file (.onnx or TorchScript .pt)", read_only=True),
        P("wbc_layout_path", "str", "", "YAML declaring the learned policy's observation/action layout", read_only=True),
        P("arm_gravity_ff", "bool", False, "add the arms' gravity torque (nominal model) as feed-forward; "
          "tracks arm targets without sag, but moves the COM forward: with the plain `stand` controller use it "
          "with the robot supported (gantry, elastic band, fixed base)", read_only=True),
        P("ff_torque_fraction", "float", 0.3, "bound on |feed-forward torque| as a fraction of the motor torque limit",
          range=(0.0, 0.5), read_only=True),
        # ---- S2 state freshness --------------------------------------------------------------
        P("state_warn_s", "float", 0.010, "S2: warn when LowState is older than this", range=(0.002, 0.05), read_only=True),
        P("state_stop_s", "float", 0.100, "S2: protective stop when LowState is older than this", range=(0.01, 0.1),
          read_only=True),
        # ---- S3 stale commands ---------------------------------------------------------------
        P("hold_after_s", "float", 0.100, "S3: HOLDING after this long with no due chunk step", range=(0.02, 0.1),
          read_only=True),
        P("stop_after_s", "float", 0.500, "S3: protective stop after this long with no due chunk step",
          range=(0.1, 0.5), read_only=True),
        # ---- S4 malformed chunks -------------------------------------------------------------
        P("reject_stop_count", "int", 3, "S4: protective stop after this many rejected chunks in a row", range=(1, 3),
          read_only=True),
        P("chunk_max_future_s", "float", 1.0, "S4: reject a chunk whose step 0 is further than this in the future",
          range=(0.05, 2.0), read_only=True),
        P("chunk_max_dt", "float", 0.5, "S4: largest accepted chunk step period (s)", range=(0.005, 0.5), read_only=True),
        # ---- S5 / S6 limits ------------------------------------------------------------------
        P("position_margin", "float", 0.05, "S5: clamp targets to joint limits minus this margin (rad)",
          range=(0.05, 0.3), read_only=True),
        P("arm_velocity_limit", "float", 6.0, "S6: arm target velocity clamp (rad/s)", range=(0.1, 6.0), read_only=True),
        P("hand_velocity_limit", "float", 50.0, "S6: hand target velocity clamp (rad/s)", range=(0.1, 50.0),
          read_only=True),
        P("leg_velocity_scale", "float", 1.0, "S6: legs/waist clamp as a fraction of the URDF velocity limit",
          range=(0.05, 1.0), read_only=True),
        # ---- S7 / S9 ramps, e-stop -----------------------------------------------------------
        P("ramp_s", "float", 2.0, "S7: start-up ramp from the measured pose (s)", range=(2.0, 20.0), read_only=True),
        P("restiffen_s", "float", 1.0, "S9: gain ramp after an e-stop/stop reset (s)", range=(1.0, 10.0), read_only=True),
        P("require_heartbeat", "bool", True, "S9: require the e-stop heartbeat topic", read_only=True),
        P("heartbeat_timeout_s", "float", 0.5, "S9: e-stop when the heartbeat is older than this", range=(0.05, 0.5),
          read_only=True),
        P("damping_kd", "float", 5.0, "protective stop / e-stop damping gain on body motors", range=(3.0, 8.0),
          read_only=True),
        # ---- S1 single writer ----------------------------------------------------------------
        P("single_writer_check_s", "float", 0.2, "S1: look for another rt/lowcmd writer this long before start",
          range=(0.2, 5.0), read_only=True),
        # ---- S8 gains (DESIGN.md §5) -----------------------------------------------------------
        P("kp_legs", "float_list", [165.0, 165.0, 165.0, 330.0, 160.0, 40.0], "S8: leg kp per joint (hip p/r/y, knee, ankle p/r)",
          range=(0.0, 400.0), length=6, read_only=True),
        P("kd_legs", "float_list", [2.0, 2.0, 2.0, 4.0, 2.0, 1.0], "S8: leg kd per joint", range=(0.0, 10.0), length=6,
          read_only=True),
        P("kp_waist", "float", 440.0, "S8: waist kp", range=(0.0, 500.0), read_only=True),
        P("kd_waist", "float", 15.0, "S8: waist kd", range=(0.0, 20.0), read_only=True),
        P("kp_arms", "float_list", [50.0, 50.0, 50.0, 50.0, 30.0, 30.0, 30.0],
          "S8: arm kp per joint (shoulder p/r/y, elbow, wrist r/p/y)",
          range=(0.0, 100.0), length=7, read_only=True),
        P("kd_arms", "float_list", [7.5, 7.5, 7.5, 7.5, 6.0, 6.0, 6.0], "S8: arm kd per joint", range=(0.0, 10.0), length=7,
          read_only=True),
        P("kp_hands", "float", 1.5, "S8: Dex3 kp", range=(0.0, 5.0), read_only=True),
        P("kd_hands", "float", 0.2, "S8: Dex3 kd", range=(0.0, 1.0), read_only=True),
        # ---- S10 locomotion command bounds -------------------------------------------------------
        P("vx_max", "float", 0.5, "S10: |vx| bound (m/s)", range=(0.0, 1.0), read_only=True),
        P("vy_max", "float", 0.3, "S10: |vy| bound (m/s)", range=(0.0, 0.5), read_only=True),
        P("yaw_rate_max", "float", 0.5, "S10: |yaw rate| bound (rad/s)", range=(0.0, 1.0), read_only=True),
        P("height_min", "float", 0.55, "S10: lowest base height (m)", range=(0.45, 0.75), read_only=True),
        P("height_max", "float", 0.80, "S10: highest base height (m)", range=(0.7, 0.85), read_only=True),
        P("torso_roll_max", "float", 0.3, "S10: |torso roll| bound (rad)", range=(0.0, 0.52), read_only=True),
        P("torso_pitch_max", "float", 0.45, "S10: |torso pitch| bound (rad)", range=(0.0, 0.52), read_only=True),
        P("torso_yaw_max", "float", 0.8, "S10: |torso yaw| bound (rad)", range=(0.0, 2.6), read_only=True),
        # ---- S11 loop health ---------------------------------------------------------------------
        P("loop_warn_ms", "float", 1.0, "S11: period error that raises a warning", range=(0.1, 5.0)),
        P("loop_error_ms", "float", 2.0, "S11: period error that counts as an overrun / error", range=(0.2, 10.0)),
    ),
)
