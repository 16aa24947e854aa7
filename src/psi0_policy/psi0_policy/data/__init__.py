"""Data pipeline: readers (EgoDex, G1 teleoperation, psi0 rosbags) → LeRobot v3.0 datasets, streaming
statistics, the FAST action tokenizer. Pure Python (no rclpy; the bag reader uses rosbags' typestore)."""
