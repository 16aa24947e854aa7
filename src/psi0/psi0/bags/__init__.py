"""rosbag2 recording and replay with the `rosbags` library (no rosbag2_py exists for this Python)."""
