#!/usr/bin/env bash
# Evaluate a trained model end to end: held-out episodes with temporal aggregation and with plain
# chunk execution, videos of the first episodes, and a results table.
#
#   scripts/test_model.sh standard|modified [RUN_DIR or CHECKPOINT]
#
# Without a second argument the newest runs/*__<model>__* folder is used (its checkpoints/best.pth).
# Writes results/<task>__<model>__{ta,chunk}.json and results/videos/<task>__<model>__{ta,chunk}/.
# Environment overrides: EPISODES (50), NUM_ENVS (4), MAX_STEPS (500), NUM_VIDEOS (3), DEVICE (auto),
# RESULTS_DIR (results), RUNS_DIR (runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE

MODEL="${1:-}"
if [[ "$MODEL" != "standard" && "$MODEL" != "modified" ]]; then
  echo "usage: $0 standard|modified [RUN_DIR or CHECKPOINT]" >&2
  exit 2
fi
TARGET="${2:-}"
if [[ -z "$TARGET" ]]; then
  TARGET="$(ls -dt "${RUNS_DIR:-runs}"/*__"${MODEL}"__* 2>/dev/null | head -n 1 || true)"
  if [[ -z "$TARGET" ]]; then
    echo "error: no ${RUNS_DIR:-runs}/*__${MODEL}__* run folder; pass a run folder or checkpoint" >&2
    exit 2
  fi
fi
if [[ -d "$TARGET" ]]; then
  for candidate in "$TARGET/checkpoints/best.pth" "$TARGET/best.pth" "$TARGET/checkpoints/last.pth"; do
    if [[ -f "$candidate" ]]; then TARGET="$candidate"; break; fi
  done
fi
if [[ ! -f "$TARGET" ]]; then
  echo "error: no checkpoint at $TARGET" >&2
  exit 2
fi

RESULTS_DIR="${RESULTS_DIR:-results}"
COMMON=(--checkpoint "$TARGET" --episodes "${EPISODES:-50}" --num_envs "${NUM_ENVS:-4}"
        --max_steps "${MAX_STEPS:-500}" --num_videos "${NUM_VIDEOS:-3}" --device "${DEVICE:-auto}")
echo "== $MODEL ACT, checkpoint $TARGET"
echo "== temporal aggregation"
python scripts/evaluate_act_proper.py "${COMMON[@]}" --temporal_agg \
  --video_dir "$RESULTS_DIR/videos/{task}__{model}__ta" --output "$RESULTS_DIR/{task}__{model}__ta.json"
echo "== chunk execution"
python scripts/evaluate_act_proper.py "${COMMON[@]}" \
  --video_dir "$RESULTS_DIR/videos/{task}__{model}__chunk" --output "$RESULTS_DIR/{task}__{model}__chunk.json"
echo
python scripts/results_table.py "$RESULTS_DIR"/*__"${MODEL}"__ta.json "$RESULTS_DIR"/*__"${MODEL}"__chunk.json
