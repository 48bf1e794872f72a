#!/usr/bin/env bash
# From nothing to the results table for one model, with the recipe measured in README.md (Results):
#   bash scripts/reproduce_shelf_place.sh standard|modified [TASK]
#
# 1. 50 scripted demos over randomized initial states (cameras behindGripper + topview, 128 px);
# 2. ACT width 256 / feed-forward 1024 / chunk 50, random shift ±6 px, STEPS optimiser steps at
#    batch 8, a weight snapshot every 1000 steps (for scripts/learning_curve.py);
# 3. evaluation of the final weights (last.pth, not a checkpoint picked by validation loss) on
#    EPISODES held-out episodes, with chunk execution, then with temporal aggregation (slow on a CPU).
# Writes results/<task>__<model>__{ta,chunk}.json and prints the table. Every stage is resumable:
# rerunning the command skips a finished collection and continues an unfinished training run.
# Environment overrides: STEPS (4000), EPISODES (100), NUM_ENVS (5), DEVICE (auto), SEED (0).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE

MODEL="${1:-}"
TASK="${2:-shelf-place-v3}"
if [[ "$MODEL" != "standard" && "$MODEL" != "modified" ]]; then
  echo "usage: $0 standard|modified [TASK]" >&2
  exit 2
fi
STEPS="${STEPS:-4000}"
EPISODES="${EPISODES:-100}"
NUM_ENVS="${NUM_ENVS:-5}"
DEVICE="${DEVICE:-auto}"
SEED="${SEED:-0}"
DATA="data/${TASK}__behindGripper-topview-128.hdf5"
RUN="runs/${TASK}__${MODEL}__recipe__seed${SEED}"
START=$(date +%s)

echo "== 1/3 demonstrations: $DATA"
if [[ ! -f "$DATA" ]]; then
  RESUME=()
  [[ -f "$DATA.partial" ]] && RESUME=(--resume)
  python scripts/collect_act_demos.py --task "$TASK" --num_demos 50 --cameras behindGripper topview \
    --image_size 128 --workers 2 --output "$DATA" "${RESUME[@]}"
else
  echo "exists, skipping collection"
fi

echo "== 2/3 training: $RUN"
if [[ -f "$RUN/checkpoints/last.pth" ]]; then
  python scripts/train_act_proper.py --resume "$RUN" --model "$MODEL" --steps "$STEPS"
else
  python scripts/train_act_proper.py --model "$MODEL" --data "$DATA" --cameras behindGripper topview \
    --steps "$STEPS" --batch_size 8 --lr 1e-4 --lr_backbone 1e-4 --chunk_size 50 --hidden_dim 256 \
    --dim_feedforward 1024 --augment_shift 6 --val_every 500 --save_every 1000 --seed "$SEED" \
    --device "$DEVICE" --output_dir runs --run_name "$(basename "$RUN")"
fi

echo "== 3/3 evaluation on $EPISODES held-out episodes"
mkdir -p results
for MODE in chunk ta; do
  FLAGS=()
  [[ "$MODE" == ta ]] && FLAGS=(--temporal_agg)
  python scripts/evaluate_act_proper.py --checkpoint "$RUN/checkpoints/last.pth" --episodes "$EPISODES" \
    --num_envs "$NUM_ENVS" --device "$DEVICE" "${FLAGS[@]}" --video_dir "runs/$(basename "$RUN")/videos_$MODE" \
    --num_videos 3 --output "results/${TASK}__${MODEL}__${MODE}.json"
done
python scripts/results_table.py "results/${TASK}__${MODEL}__ta.json" "results/${TASK}__${MODEL}__chunk.json"
echo "total wall time: $(( ($(date +%s) - START) / 60 )) min"
