#!/usr/bin/env bash
# Reproduce the committed demo bundle (config/bundles/raise_hand) from nothing, through the real stack:
#   1. record: the scripted expert solves the raise_hand suite ("raise your right hand" / "raise your left hand",
#      alternating) in the simulated graph (sim + bridge), each episode from seeded random poses of both arms;
#      every successful episode is a rosbag (psi0 eval --expert --record; a failed one is set aside)
#   2. convert: bags → LeRobot v3.0 dataset (only the expert's chunks count as the demonstration)
#   3. fine-tune: `tiny` Ψ0 with real-time-chunking delays (config/train/demo_raise_hand.yaml)
#   4. export: the bundle the policy node loads
# Then `psi0 eval --expert --chunking rtc sync --controls blind wrong_instruction --episodes 20` measures it
# (benchmarks/results/eval_raise_hand.json).
set -euo pipefail
cd "$(dirname "$0")/.."
set +u  # colcon's setup scripts read unset variables
source tools/env.sh
set -u
WORK=${WORK:-out/demo_bundle}
EPISODES=${EPISODES:-40}
BUNDLE=${BUNDLE:-config/bundles/raise_hand}
rm -rf "$WORK"
mkdir -p "$WORK"
psi0 eval --expert --chunking --episodes "$EPISODES" --seed 0 --record "$WORK/bags" --out "$WORK/record"
psi0 data convert bag "$WORK/bags" -o "$WORK/dataset" --action-frame expert --workers 2 --no-progress
psi0 data check "$WORK/dataset"
psi0 train finetune --config config/train/demo_raise_hand.yaml --set "datasets=[$WORK/dataset]" --set "out=$WORK/run" --no-progress
psi0 export "$WORK/run" -o "$BUNDLE"
du -sh "$BUNDLE"
