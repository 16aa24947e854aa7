#!/usr/bin/env bash
# Reproduce the committed demo bundle (config/bundles/suite) from nothing, through the real stack:
#   1. record: the scripted experts solve every task of the suite in the simulated graph (sim + bridge + System-0),
#      each episode seeded — pick (red cube / green cube / blue can, alternating), walk_to_table, walk_and_pick
#      (walk, then pick the named object), raise_hand (left / right from random poses of both arms); every successful
#      episode is a rosbag (psi0 eval --expert --record; a failed one is set aside in <folder>.failed/)
#   2. convert: the bags of all tasks → one LeRobot v3.0 dataset (only the experts' chunks count as the demonstration;
#      each episode carries its instruction)
#   3. fine-tune: one `small` Ψ0 on all of it, with real-time-chunking delays (config/train/demo_suite.yaml)
#   4. export: the bundle the policy node loads
# On 2 CPU cores: recording about 50 minutes (the committed bundle's demonstrations were recorded as two graphs side by
# side in 50 minutes: 90/90 pick, 33/45 walk_to_table, 22/26 walk_and_pick, 16/16 raise_hand — the walking expert
# dithers at the goal when the simulator runs at 0.55× real time), converting 1.5 minutes (161 episodes, 47,113
# frames), training about 50 minutes (4.7 steps/s). Then `psi0 eval --task <t> --expert --chunking rtc
# sync --controls blind wrong_instruction --episodes 20 --bundle config/bundles/suite` measures it per task
# (benchmarks/results/eval_suite_<t>.json).
set -euo pipefail
cd "$(dirname "$0")/.."
set +u  # colcon's setup scripts read unset variables
source tools/env.sh
set -u
WORK=${WORK:-out/demo_bundle}
BUNDLE=${BUNDLE:-config/bundles/suite}
# demonstrations per task family (seeds 0…N−1; the evaluation uses seeds from 1000 on)
PICK=${PICK:-90}
WALK=${WALK:-45}
WALK_AND_PICK=${WALK_AND_PICK:-26}
RAISE=${RAISE:-16}
STEPS=${STEPS:-14000}
rm -rf "$WORK"
mkdir -p "$WORK"
bags=()
for spec in "pick $PICK" "walk_to_table $WALK" "walk_and_pick $WALK_AND_PICK" "raise_hand $RAISE"; do
  set -- $spec
  psi0 eval --task "$1" --expert --chunking --episodes "$2" --seed 0 --record "$WORK/bags_$1" --out "$WORK/record_$1"
  bags+=("$WORK/bags_$1")
done
psi0 data convert bag "${bags[@]}" -o "$WORK/dataset" --action-frame expert --workers 2 --no-progress
psi0 data check "$WORK/dataset"
psi0 train finetune --config config/train/demo_suite.yaml --set "datasets=[$WORK/dataset]" --set "out=$WORK/run" \
  --set "steps=$STEPS" --no-progress
psi0 export "$WORK/run" -o "$BUNDLE"
du -sh "$BUNDLE"
