"""The Ψ0 model in pure PyTorch (no rclpy): Qwen3-VL backbone, MM-DiT flow-matching action expert."""
