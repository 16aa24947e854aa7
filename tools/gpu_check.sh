#!/usr/bin/env bash
# The checks that need a CUDA GPU, as one script for the device tool (docs/engines.md):
#   run(command="bash tools/gpu_check.sh", timeout_s=480)
# The device machine has Python 3.12 with torch + CUDA and transformers but no ROS and no venv of ours: the
# project's pure packages go on PYTHONPATH. Writes $OUT/gpu_tests.log and $OUT/model_latency_gpu.json.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/out/gpu_check}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT/src/psi0_policy:$ROOT/src/psi0_core:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
  | tee -a "$OUT/gpu.txt"
# 1. parity: cuda_graph (backbone + expert captured) vs eager, fp32, tiny; the static backbone vs the stock one
#    under the device's transformers version; the TensorRT test skips without TensorRT
timeout 240 python -m pytest -q -p no:cacheprovider -o addopts="" tests/policy/test_engines.py \
  tests/policy/test_static_context.py tests/policy/test_cuda_graph_engine.py 2>&1 | tee "$OUT/gpu_tests.log"
tests_rc=${PIPESTATUS[0]}
# 2. full-size latency: eager, expert-only capture, whole-chunk capture (bf16, random weights)
timeout 300 python benchmarks/model_latency.py --gpu --iters 30 --out "$OUT" 2>&1 | tail -3
bench_rc=${PIPESTATUS[0]}
echo "tests rc=$tests_rc benchmark rc=$bench_rc"
exit $(( tests_rc != 0 || bench_rc != 0 ))
