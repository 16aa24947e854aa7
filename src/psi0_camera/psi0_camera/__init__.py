"""psi0_camera: the head-camera node (device or file frames → sensor_msgs/Image + CameraInfo, stamped at capture)."""
