"""sim_node: the MuJoCo G1 on the robot's own DDS interface, plus ROS-side camera, clock and reset.

Robot side (Cyclone DDS, unitree_hg types): see robot_interface.py — `rt/lowstate` at 500 Hz,
`rt/lowcmd`, Dex3 state/cmd. ROS side: `camera/head/image_raw` (rgb8, 640×480, 30 Hz, stamped with
the sim time of capture, best-effort keep-last 2) and `camera/head/camera_info`, optionally
`camera/third_person/image_raw` (`third_person_rate_hz`), `/clock`
(rosgraph_msgs/Clock, every step, when `publish_clock`), and the `sim/reset` service (std_srvs/Trigger:
robot back to its standing pose, objects back to their seeded places). The physics runs in its own
thread; the executor only serves the reset service.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from psi0.image_codec import numpy_to_image, pinhole_info
from psi0.params import Param, Schema
from psi0.ros_params import declare_schema, run_node
from psi0.rostime import to_time_msg
from psi0_sim.loop import SimLoop
from psi0_sim.model import Scene
from psi0_sim.physics import G1Physics
from psi0_sim.robot_interface import SimRobotInterface

SCHEMA = Schema(
    "sim",
    (
        Param("robot_domain", "int", 1, "DDS domain of the simulated robot interface", range=(0, 232)),
        Param("network_interface", "str", "lo", "network interface of the robot DDS"),
        Param("model", "str", "", "MJCF to load instead of the generated model (e.g. Unitree's, with meshes)"),
        Param("seed", "int", 0, "scene randomisation seed (object placement)", range=(0, 2**31 - 1)),
        Param("realtime", "bool", True, "pace to the wall clock (false: as fast as possible, for use_sim_time)"),
        Param("rate_factor", "float", 1.0, "sim seconds per wall second in real-time mode", range=(0.05, 20.0)),
        Param("fixed_base", "bool", False, "pelvis welded to the world (upper-body work)"),
        Param("elastic_band", "bool", False, "spring-damper holding the pelvis up (permanently)"),
        Param("gantry_release_s", "float", 3.0, "hang the robot from a gantry until the body motors have been stiff "
              "this long (the start-up ramp), then lower it; 0 = start standing free", range=(0.0, 60.0)),
        Param("camera", "bool", True, "render and publish the head camera"),
        Param("camera_rate_hz", "float", 30.0, "head camera rate (sim time)", range=(1.0, 60.0)),
        Param("width", "int", 640, "image width", range=(64, 1920)),
        Param("height", "int", 480, "image height", range=(48, 1080)),
        Param("third_person_rate_hz", "float", 0.0, "publish the third-person view on camera/third_person/image_raw "
              "at this rate (0 = off; for videos)", range=(0.0, 60.0)),
        Param("publish_clock", "bool", True, "publish /clock every physics step"),
        Param("viewer", "bool", False, "open MuJoCo's passive viewer (needs a display)"),
    ),
)


class SimNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim", automatically_declare_parameters_from_overrides=True, **kwargs)
        cfg = self.cfg = declare_schema(self, SCHEMA)
        self.physics = G1Physics(Scene.random(cfg["seed"]), fixed_base=cfg["fixed_base"],
                                 elastic_band=cfg["elastic_band"], model_path=cfg["model"] or None,
                                 gantry_release_s=cfg["gantry_release_s"] or None)
        self.iface = SimRobotInterface(self.physics, cfg["robot_domain"], cfg["network_interface"])
        camera = None
        if cfg["camera"]:
            from psi0_sim.camera import Camera, intrinsics

            model = self.physics.model
            camera = lambda: Camera(model, "head_camera", cfg["width"], cfg["height"])  # noqa: E731
            self.K = intrinsics(float(model.cam_fovy[model.camera("head_camera").id]), cfg["width"], cfg["height"])
        sensor = QoSProfile(depth=2, reliability=ReliabilityPolicy.BEST_EFFORT)
        self.pub_img = self.create_publisher(Image, "camera/head/image_raw", sensor)
        self.pub_info = self.create_publisher(CameraInfo, "camera/head/camera_info", sensor)
        self.pub_clock = self.create_publisher(Clock, "/clock", 10) if cfg["publish_clock"] else None
        views = ()
        if cfg["third_person_rate_hz"] > 0:
            from psi0_sim.camera import Camera

            self.pub_view = self.create_publisher(Image, "camera/third_person/image_raw", sensor)
            views = ((lambda: Camera(self.physics.model, "third_person", cfg["width"], cfg["height"]),
                      cfg["third_person_rate_hz"], self._on_view),)
        self.create_service(Trigger, "sim/reset", self._srv_reset)
        self.loop = SimLoop(self.physics, self.iface, realtime=cfg["realtime"], rate_factor=cfg["rate_factor"],
                            camera=camera, camera_rate_hz=cfg["camera_rate_hz"], on_frame=self._on_frame,
                            on_step=self._on_step if self.pub_clock else None, views=views)
        self.viewer = None
        if cfg["viewer"] and os.environ.get("DISPLAY"):
            import mujoco.viewer

            self.viewer = mujoco.viewer.launch_passive(self.physics.model, self.physics.data)
            self.create_timer(1 / 30, lambda: self.viewer.sync() if self.viewer.is_running() else None)
        elif cfg["viewer"]:
            self.get_logger().warning("viewer requested but no DISPLAY; running headless")
        self.loop.start()
        self.create_timer(0.5, self._check_loop)
        self.get_logger().info(f"sim up: robot DDS domain {cfg['robot_domain']} on {cfg['network_interface']}, "
                               f"camera {'on' if camera else 'off'}, realtime={cfg['realtime']}")

    def _check_loop(self) -> None:
        if self.loop.error is not None:  # the physics thread died: fail loudly (the launcher sees the exit code)
            raise RuntimeError(f"simulation loop failed: {self.loop.error!r}")

    def _publish(self, pub, msg) -> None:
        """Publish from the physics thread; after shutdown began (context invalid) drop silently."""
        try:
            pub.publish(msg)
        except Exception:
            if self.context.ok():
                raise

    def _on_step(self, t: float) -> None:
        self._publish(self.pub_clock, Clock(clock=to_time_msg(t)))

    def _on_frame(self, rgb: np.ndarray, t: float) -> None:
        img = numpy_to_image(rgb, "rgb8")
        img.header.stamp, img.header.frame_id = to_time_msg(t), "head_camera"
        self._publish(self.pub_img, img)
        info = pinhole_info(img.width, img.height, float(self.K[0, 0]), float(self.K[1, 1]))
        info.header = img.header
        self._publish(self.pub_info, info)

    def _on_view(self, rgb: np.ndarray, t: float) -> None:
        img = numpy_to_image(rgb, "rgb8")
        img.header.stamp, img.header.frame_id = to_time_msg(t), "third_person"
        self._publish(self.pub_view, img)

    def _srv_reset(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        self.loop.reset()
        res.success, res.message = True, f"reset at sim time {self.physics.time:.3f}"
        return res

    def destroy_node(self) -> None:
        self.loop.stop()
        if self.viewer is not None:
            self.viewer.close()
        self.iface.close()
        super().destroy_node()


def main() -> int:
    return run_node(SimNode)


if __name__ == "__main__":
    sys.exit(main())
