"""sim_node: the MuJoCo G1 on the robot's own DDS interface, plus ROS-side camera, clock and reset.

Robot side (Cyclone DDS, unitree_hg types): see robot_interface.py — `rt/lowstate` at 500 Hz,
`rt/lowcmd`, Dex3 state/cmd. ROS side: `camera/head/image_raw` (rgb8, 640×480, 30 Hz, stamped with
the sim time of capture, reliable keep-last 2 after REP-2003: `image_reliability`) and `camera/head/camera_info`, optionally
`camera/third_person/image_raw` (`third_person_rate_hz`), `~/base_pose` (the pelvis' ground-truth pose,
geometry_msgs/PoseStamped in frame world, `base_pose_rate_hz`: evaluation only, a robot has no such topic),
`~/bodies` (psi0_msgs/BodyPoses of `ground_truth_bodies`: wrists, shoulders, objects; evaluation only), `/clock`
(rosgraph_msgs/Clock, at `clock_rate_hz` of sim time, when `publish_clock`), and the `~/reset` service (std_srvs/Trigger:
robot back to its standing pose, on the gantry, the table and objects back to their start-up places; the sim clock keeps
running) and `~/place_scene` (psi0_msgs/PlaceScene: the table moved in front of the robot wherever it stands, the
objects at rest at a seed's places on it; a request that would put the table over the robot is refused). `~/` is the
node's own name (`sim/reset` under the default name). The physics runs in its own thread; the executor only serves
the two services.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from psi0_core.g1_kinematics import matrix_to_rpy, quat_to_matrix
from psi0_core.image_codec import numpy_to_image, pinhole_info
from psi0_core.node_runner import run_node
from psi0_core.qos import image_publisher_qos
from psi0_core.ros_params import declare_config
from psi0_core.rostime import to_time_msg
from psi0_msgs.msg import BodyPoses
from psi0_msgs.srv import PlaceScene
from psi0_sim.loop import SimLoop
from psi0_sim.model import Scene, table_in_front
from psi0_sim.physics import G1Physics
from psi0_sim.robot_interface import SimRobotInterface
from psi0_sim.sim_config import SimConfig

STATE_GAP_WARN_S = 0.05  # half the bridge's LowState deadline (S2): worth a line in the log


class SimNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("sim", **kwargs)
        cfg = self.cfg = declare_config(self, SimConfig)
        self.physics = G1Physics(Scene.random(cfg.seed), fixed_base=cfg.fixed_base,
                                 elastic_band=cfg.elastic_band, model_path=cfg.model or None,
                                 gantry_release_s=cfg.gantry_release_s or None)
        self.iface = SimRobotInterface(self.physics, cfg.robot_domain, cfg.network_interface, motion_mode=cfg.motion_mode)
        camera = None
        if cfg.camera:
            from psi0_sim.camera import Camera, intrinsics

            model = self.physics.model
            camera = lambda: Camera(model, "head_camera", cfg.width, cfg.height)  # noqa: E731
            self.K = intrinsics(float(model.cam_fovy[model.camera("head_camera").id]), cfg.width, cfg.height)
        sensor = image_publisher_qos(cfg.image_reliability)  # REP-2003: reliable publisher, consumers choose
        self.pub_img = self.create_publisher(Image, "camera/head/image_raw", sensor)
        self.pub_info = self.create_publisher(CameraInfo, "camera/head/camera_info", sensor)
        self.pub_clock = self.create_publisher(Clock, "/clock", 10) if cfg.publish_clock else None
        self.pub_pose = self.create_publisher(PoseStamped, "~/base_pose", 10) if cfg.base_pose_rate_hz > 0 else None
        self.pub_bodies = self.create_publisher(BodyPoses, "~/bodies", 10) if cfg.base_pose_rate_hz > 0 else None
        self._body_ids = [self.physics.model.body(n).id for n in cfg.ground_truth_bodies]  # KeyError names an unknown body
        self._pose_every = max(1, round(1.0 / (cfg.base_pose_rate_hz * self.physics.dt))) if self.pub_pose else 0
        self._clock_every = max(1, round(1.0 / (cfg.clock_rate_hz * self.physics.dt)))
        self._steps = 0
        views = ()
        if cfg.third_person_rate_hz > 0:
            from psi0_sim.camera import Camera

            self.pub_view = self.create_publisher(Image, "camera/third_person/image_raw", sensor)
            views = ((lambda: Camera(self.physics.model, "third_person", cfg.width, cfg.height),
                      cfg.third_person_rate_hz, self._on_view),)
        self.create_service(Trigger, "~/reset", self._srv_reset)
        self.create_service(PlaceScene, "~/place_scene", self._srv_place_scene)
        self.loop = SimLoop(self.physics, self.iface, realtime=cfg.realtime, rate_factor=cfg.rate_factor,
                            camera=camera, camera_rate_hz=cfg.camera_rate_hz, on_frame=self._on_frame,
                            on_step=self._on_step if (self.pub_clock or self.pub_pose) else None, views=views)
        self.viewer = None
        if cfg.viewer and os.environ.get("DISPLAY"):
            import mujoco.viewer

            self.viewer = mujoco.viewer.launch_passive(self.physics.model, self.physics.data)
            self.create_timer(1 / 30, lambda: self.viewer.sync() if self.viewer.is_running() else None)
        elif cfg.viewer:
            self.get_logger().warning("viewer requested but no DISPLAY; running headless")
        self.loop.start()
        self._gap_reported = 0.0
        self.create_timer(0.5, self._check_loop)
        self.get_logger().info(f"sim up: robot DDS domain {cfg.robot_domain} on {cfg.network_interface}, "
                               f"camera {'on' if camera else 'off'}, realtime={cfg.realtime}")

    def _check_loop(self) -> None:
        if self.loop.error is not None:  # the physics thread died: fail loudly (the launcher sees the exit code)
            raise RuntimeError(f"simulation loop failed: {self.loop.error!r}")
        gap = self.loop.stats.max_state_gap_s
        if gap > STATE_GAP_WARN_S and gap > self._gap_reported * 1.25:  # each new worst gap, not every tick
            self._gap_reported = gap
            self.get_logger().warning(
                f"the physics thread went {gap * 1e3:.0f} ms without publishing LowState (a bridge stops at 100 ms, "
                f"S2): the machine is overloaded; camera frames skipped so far: {self.loop.stats.frames_dropped}")

    def _publish(self, pub, msg) -> None:
        """Publish from the physics thread; after shutdown began (context invalid) drop silently."""
        try:
            pub.publish(msg)
        except Exception:
            if self.context.ok():
                raise

    def _on_step(self, t: float) -> None:
        """Physics thread, after each step."""
        self._steps += 1
        if self.pub_clock is not None and (self._steps - 1) % self._clock_every == 0:
            self._publish(self.pub_clock, Clock(clock=to_time_msg(t)))
        if self.pub_pose is not None and self._steps % self._pose_every == 0:
            q = self.physics.data.qpos
            m = PoseStamped()
            m.header.stamp, m.header.frame_id = to_time_msg(t), "world"
            m.pose.position.x, m.pose.position.y, m.pose.position.z = (float(v) for v in q[:3])
            m.pose.orientation.w, m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z = (float(v) for v in q[3:7])
            self._publish(self.pub_pose, m)
            d = self.physics.data
            ids = self._body_ids
            b = BodyPoses(names=list(self.cfg.ground_truth_bodies), positions=d.xpos[ids].ravel().tolist(),
                          orientations=d.xquat[ids].ravel().tolist())
            b.header = m.header
            self._publish(self.pub_bodies, b)

    def _on_frame(self, rgb: np.ndarray, t: float) -> None:
        img = numpy_to_image(np.zeros_like(rgb) if self.cfg.blank_head_camera else rgb, "rgb8")
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

    def _srv_place_scene(self, req: PlaceScene.Request, res: PlaceScene.Response) -> PlaceScene.Response:
        res.success, res.message = place_scene(self.loop, int(req.seed), float(req.distance), float(req.bearing),
                                               float(req.facing))
        if not res.success:
            self.get_logger().warning(f"place_scene refused: {res.message}")
        return res

    def destroy_node(self) -> None:
        self.loop.stop()
        st = self.loop.stats
        self.get_logger().info(f"sim ran {st.sim_s:.1f} s in {st.wall_s:.1f} s of wall time ({st.realtime_factor:.2f}x), "
                               f"head frames {st.frames}, camera instants skipped {st.frames_dropped}, longest LowState "
                               f"gap {st.max_state_gap_s * 1e3:.0f} ms")
        if self.viewer is not None:
            self.viewer.close()
        self.iface.close()
        super().destroy_node()


MIN_TABLE_DISTANCE_M = 0.2  # the table's front edge no nearer to the pelvis than this (it would stand in the robot)


def place_scene(loop: SimLoop, seed: int, distance: float, bearing: float, facing: float) -> tuple[bool, str]:
    """The table `distance` m ahead of the robot's pelvis as it stands now (`table_in_front`), objects at the seed's
    places on it; (False, why) for a request that is not finite, too near or too far."""
    values = np.array([distance, bearing, facing])
    if not np.all(np.isfinite(values)):
        return False, f"distance, bearing and facing must be finite, not {values.tolist()}"
    if not MIN_TABLE_DISTANCE_M <= distance <= 5.0:
        return False, f"distance {distance:.2f} m outside [{MIN_TABLE_DISTANCE_M}, 5.0]"
    if seed < 0:
        return False, f"seed {seed} must be ≥ 0"
    physics = loop.physics
    with loop.lock:
        pelvis = physics.data.body("pelvis")
        yaw = matrix_to_rpy(quat_to_matrix(pelvis.xquat))[2]
        tx, ty, tyaw = table_in_front((float(pelvis.xpos[0]), float(pelvis.xpos[1])), yaw, distance, bearing, facing)
        base = physics.start_scene
        scene = Scene((tx, ty), base.table_size, base.objects, tyaw).with_objects(seed)
        physics.place_scene(scene)
    names = ", ".join(f"{o.name} ({o.pos[0]:.3f}, {o.pos[1]:.3f})" for o in scene.objects)
    return True, f"table at ({tx:.3f}, {ty:.3f}) yaw {tyaw:.3f} rad; {names}"


def main() -> int:
    return run_node(SimNode)


if __name__ == "__main__":
    sys.exit(main())

