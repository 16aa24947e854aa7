"""The policy node's configuration."""

from __future__ import annotations

from dataclasses import dataclass

from psi0_core.params import NodeConfig, param, require
from psi0_core.qos import IMAGE_RELIABILITY


@dataclass(frozen=True)
class PolicyConfig(NodeConfig, node="policy"):
    bundle: str = param("", "exported bundle folder (psi0 export): weights, config, stats, tokenizer, ONNX")
    engine: str = param("torch", "inference engine", choices=("torch", "cuda_graph", "onnx", "tensorrt"))
    device: str = param("cpu", "torch device (cpu, cuda, cuda:1)")
    cpu_threads: int = param(1, "torch intra-op threads for CPU inference (leave cores to the bridge and DDS)",
                             range=(1, 256))
    dtype: str = param("fp32", "weights/activations type", choices=("fp32", "bf16"))
    conditioning: str = param("training", "RTC mode: training (prefix-conditioned checkpoint) or guidance",
                              choices=("training", "guidance"))
    image_topics: tuple[str, ...] = param(["camera/head/image_raw"], "camera topics, in the model's camera order")
    image_reliability: str = param("reliable", "QoS reliability of the image subscriptions (reliable: measured 29-30 "
                                   "frames/s on localhost where best-effort lost a quarter to a half; psi0_core.qos)",
                                   choices=IMAGE_RELIABILITY)
    instruction: str = param("", "instruction used until one arrives on the `instruction` topic")
    max_image_age_s: float = param(0.1, "refuse an observation whose image is older than this at inference start",
                                   range=(0.01, 2.0))
    tick_hz: float = param(100.0, "scheduler tick rate", range=(10.0, 1000.0))
    s_min: int = param(15, "start the next inference after this many steps of the current chunk", range=(1, 100))
    d_max: int = param(10, "largest committed prefix (steps)", range=(0, 50))
    chunking: str = param("rtc", "rtc (real-time chunking) or sync (baseline: wait for each chunk)",
                          choices=("rtc", "sync"))
    extra_latency_ms: float = param(0.0, "added to every inference (evaluation: a slower model); 0 in deployment",
                                    range=(0.0, 5000.0))
    seed: int = param(0, "noise seed: chunk k uses seed + k (deterministic replays)", range=(0, 2**31 - 1))
    configure_at_start: bool = param(True, "load the bundle at start-up (false: wait for a lifecycle configure, as "
                                     "a lifecycle manager expects)")
    autostart: bool = param(True, "activate right after configuring at start-up (otherwise policy/activate or a "
                            "lifecycle activate)")
    publish_trajectory: bool = param(False, "also publish trajectory_msgs/JointTrajectory on `joint_trajectory`")
    status_rate_hz: float = param(2.0, "PolicyStatus / diagnostics rate", range=(0.2, 50.0))

    def check(self) -> None:
        require(bool(self.image_topics), "policy: image_topics is empty (the model needs at least one camera)")
        require(len(set(self.image_topics)) == len(self.image_topics), "policy: image_topics lists a topic twice")
