"""The policy node's parameter schema."""

from __future__ import annotations

from psi0.params import Param, Schema

SCHEMA = Schema(
    "policy",
    (
        Param("bundle", "str", "", "exported bundle folder (psi0 export): weights, config, stats, tokenizer, ONNX"),
        Param("engine", "str", "torch", "inference engine", choices=("torch", "cuda_graph", "onnx", "tensorrt")),
        Param("device", "str", "cpu", "torch device (cpu, cuda, cuda:1)"),
        Param("cpu_threads", "int", 1, "torch intra-op threads for CPU inference (leave cores to the bridge and DDS)",
              range=(1, 256)),
        Param("dtype", "str", "fp32", "weights/activations type", choices=("fp32", "bf16")),
        Param("conditioning", "str", "training", "RTC mode: training (prefix-conditioned checkpoint) or guidance",
              choices=("training", "guidance")),
        Param("image_topics", "str_list", ["camera/head/image_raw"], "camera topics, in the model's camera order"),
        Param("instruction", "str", "", "instruction used until one arrives on the `instruction` topic"),
        Param("max_image_age_s", "float", 0.1, "refuse an observation whose image is older than this at inference start",
              range=(0.01, 2.0)),
        Param("tick_hz", "float", 100.0, "scheduler tick rate", range=(10.0, 1000.0)),
        Param("s_min", "int", 15, "start the next inference after this many steps of the current chunk", range=(1, 100)),
        Param("d_max", "int", 10, "largest committed prefix (steps)", range=(0, 50)),
        Param("chunking", "str", "rtc", "rtc (real-time chunking, DESIGN.md §7) or sync (baseline: wait for each chunk)",
              choices=("rtc", "sync")),
        Param("extra_latency_ms", "float", 0.0, "added to every inference (evaluation: a slower model); 0 in deployment",
              range=(0.0, 5000.0)),
        Param("seed", "int", 0, "noise seed: chunk k uses seed + k (deterministic replays)", range=(0, 2**31 - 1)),
        Param("autostart", "bool", True, "activate right after loading (otherwise call policy/activate)"),
        Param("publish_trajectory", "bool", False, "also publish trajectory_msgs/JointTrajectory on `joint_trajectory`"),
        Param("status_rate_hz", "float", 2.0, "PolicyStatus / diagnostics rate", range=(0.2, 50.0)),
    ),
)
