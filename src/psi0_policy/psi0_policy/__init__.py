"""psi0_policy: the Ψ0 model (Qwen3-VL backbone + MM-DiT flow-matching action expert), inference
engines, real-time chunking, the policy node, and the data and training pipelines."""
