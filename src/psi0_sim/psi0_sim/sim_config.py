"""The simulator node's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require
from psi0_core.qos import IMAGE_RELIABILITY


@dataclass(frozen=True)
class SimConfig(NodeConfig, node="sim"):
    robot_domain: int = param(1, "DDS domain of the simulated robot interface", range=(0, 232))
    motion_mode: str = param("", "built-in motion mode the simulated robot reports to the motion switcher RPC (\"\": "
                             "released, as the bridge needs; e.g. \"ai\": a robot that booted into its own controller, to "
                             "rehearse `psi0 motion-mode --release`)")
    network_interface: str = param("lo", "network interface of the robot DDS")
    model: str = param("", "MJCF to load instead of the generated model (e.g. Unitree's, with meshes)")
    seed: int = param(0, "scene randomisation seed (object placement)", range=(0, 2**31 - 1))
    realtime: bool = param(True, "pace to the wall clock (false: as fast as possible, for use_sim_time)")
    rate_factor: float = param(1.0, "sim seconds per wall second in real-time mode", range=(0.05, 20.0))
    fixed_base: bool = param(False, "pelvis welded to the world (upper-body work)")
    elastic_band: bool = param(False, "spring-damper holding the pelvis up (permanently)")
    gantry_release_s: float = param(3.0, "hang the robot from a gantry until the body motors have been stiff this long "
                                    "(the start-up ramp), then lower it; 0 = start standing free", range=(0.0, 60.0))
    camera: bool = param(True, "render and publish the head camera")
    camera_rate_hz: float = param(30.0, "head camera rate (sim time)", range=(1.0, 60.0))
    width: int = param(640, "image width", range=(64, 1920))
    height: int = param(480, "image height", range=(48, 1080))
    image_reliability: str = param("reliable", "QoS reliability of the image and camera_info publishers (REP-2003: "
                                   "reliable; each subscriber chooses; psi0_core.qos)",
                                   choices=IMAGE_RELIABILITY)
    third_person_rate_hz: float = param(0.0, "publish the third-person view on camera/third_person/image_raw at this "
                                        "rate (0 = off; for videos)", range=(0.0, 60.0))
    publish_clock: bool = param(True, "publish /clock (rosgraph_msgs/Clock) at clock_rate_hz of sim time")
    clock_rate_hz: float = param(500.0, "/clock rate in sim time (500: every physics step). Every node on use_sim_time "
                                 "runs a Python callback per message (0.4 ms each on a small CPU): profiles for small "
                                 "machines publish less often; ROS time then advances in steps of 1/rate",
                                 range=(10.0, 500.0))
    base_pose_rate_hz: float = param(50.0, "publish the pelvis' ground-truth pose on sim/base_pose (geometry_msgs/"
                                     "PoseStamped, frame world; for evaluation: a real robot has no such topic; 0 = off)",
                                     range=(0.0, 500.0))
    ground_truth_bodies: tuple[str, ...] = param(
        ("pelvis", "torso_link", "left_shoulder_pitch_link", "right_shoulder_pitch_link", "left_wrist_yaw_link",
         "right_wrist_yaw_link", "red_cube", "green_cube", "blue_can", "table"),
        "bodies whose ground-truth poses go out on sim/bodies (psi0_msgs/BodyPoses) at base_pose_rate_hz, for "
        "evaluation (task success on the physical outcome); names missing from the model are an error")
    blank_head_camera: bool = param(False, "publish black head-camera frames (evaluation control: a policy that still "
                                    "succeeds does not use the image)")
    viewer: bool = param(False, "open MuJoCo's passive viewer (needs a display)")

    def check(self) -> None:
        require(not (self.fixed_base and self.elastic_band),
                "sim: fixed_base and elastic_band exclude each other (a welded pelvis needs no band)")
