#!/usr/bin/env bash
# From nothing to the results table for one model, with the recipe measured in README.md (Results):
#   bash scripts/reproduce_shelf_place.sh standard|modified [TASK]
#
# 1. 50 scripted demos over randomized initial states at 96 px;
# 2. ACT width 256 / feed-forward 1024, random shift ±4 px, lr 1e-4, a weight snapshot every 1000
#    steps (for scripts/learning_curve.py and the average below). The budget follows the device:
#    on a GPU two cameras (behindGripper on the hand + the fixed topview, which keeps the shelf in
#    sight while the hand carries the block), 12000 steps at batch 64, chunk 50, MetaWorld's expert
#    (the ~11-minute H200 runs behind the README's best figures); on a CPU the hand camera alone,
#    12000 steps at batch 8 under bfloat16 autocast with one thread where the CPU has native bf16
#    (AVX512-BF16 or AMX; else fp32), to fit the 2-hour budget of a 2-core machine, an L2 action
#    loss, no demos held out for the validation loss and, for modified, the CVAE encoder's image
#    tokens detached (ACTION_LOSS=l2 VAL_FRACTION=0, modified CVAE_DETACH=1), and on shelf-place-v3
#    chunks of 10 and demos whose grasp closes standing still (GRASP_DEPTH=0.015 GRASP_HOLD=10
#    CHUNK=10): each measured better, README Results; under L1 the CPU models never learned to
#    carry the block sideways; GRASP_DEPTH=0 GRASP_HOLD=0 CHUNK=50 ACTION_LOSS=l1 VAL_FRACTION=0.1
#    CVAE_DETACH=0 restores the earlier CPU recipe;
# 3. the evaluated weights: the mean of the last AVERAGE (5) snapshots, i.e. steps STEPS-4000 to
#    STEPS (scripts/average_checkpoints.py; never a checkpoint picked by validation loss);
# 4. evaluation on EPISODES held-out episodes, with chunk execution, then with temporal aggregation.
# Writes results/<task>__<model>__<tag>__<steps>steps__avg<first>-<last>__{chunk,ta}.json and
# prints the table. Every stage is resumable: rerunning the command skips a finished collection,
# continues an unfinished training run, skips an evaluation whose result file exists and continues
# an interrupted one from its journal (<result>.json.partial). Calls started side by side that need
# the same demo file (standard and modified, say) collect it once: the others wait on a lock.
# Environment overrides: DEVICE (auto), STEPS and BATCH (by device and task, above), EPISODES (100),
# TA_EPISODES (= EPISODES), NUM_ENVS (environments per evaluation: 10 on a GPU, 5 on a CPU; the
# results do not depend on it), SEED (0; another seed adds "__seed<k>" to the result
# names), AVERAGE (5; 1 evaluates last.pth alone, and
# the result names lose "__avg..."), SNAPSHOT_EVERY (1000); for ablations CAMERAS (by device, above),
# IMAGE_SIZE (96), SHIFT (4), STATE_INPUT (qpos; env_state = privileged upper bound),
# ACTION_NOISE (0; e.g. 0.3 collects DART-style demos: the env executes the expert's hand motion
# plus Gaussian noise of that std, the labels stay the clean expert actions), GRASP_DEPTH (0;
# shelf-place-v3: e.g. 0.015 makes the expert descend 1.5 cm further onto the block before lifting
# it, see collect_act_demos.py --grasp_depth; 0.015 on a CPU, see 2.), GRASP_HOLD (0; shelf-place-v3:
# e.g. 10 makes the expert descend with open fingers, close them standing still for 10 steps, then
# lift; 10 on a CPU, see 2.),
# CHUNK (50, 10 for
# shelf-place-v3 on a CPU: the actions predicted per query; chunk execution runs all of them
# open-loop), AMP (auto: bf16 on a
# CPU with native bf16, else off; bf16 trains under bfloat16 autocast: 1.5x faster per step with
# one thread on an AVX512-BF16 CPU, little gain with two, so a bf16 CPU run sets OMP_NUM_THREADS=1
# unless it is set already), EMA (0; e.g. 0.999 evaluates an exponential
# moving average of the weights instead of the last weights), LR_SCHEDULE (constant, ACT's; cosine
# decays both learning rates to a tenth by the last step, see train_act_proper.py --lr_schedule),
# CVAE_DETACH (0; 1 for modified on a CPU; 1 needs modified: its CVAE encoder
# sees the image tokens detached, so the KL term
# does not train the backbone, see train_act_proper.py --cvae_detach_images), VAL_FRACTION (0.1; 0 on
# a CPU: the share of the demos held out for the validation loss, which is logged
# but selects nothing; 0 trains on all of them and logs the training loss alone; a value other than
# 0.1 adds "-val<v>"), ACTION_LOSS (l1, ACT's; l2 on a CPU; l2 or huber: the
# reconstruction term, see train_act_proper.py --action_loss; other than l1 adds "-l2"/"-huber"), COMPILE (0; 1 passes
# --compile: torch.compile of the training forward pass, for GPUs; same batches, not in the names). Data files, run folders
# and result names carry these settings (e.g. "__behindGripper-96-shift4", "-b32" for batch 32),
# and a STEPS other than 4000 adds "__<STEPS>steps" to the result names. OUT_DIR (repository root)
# is where data/, runs/ and results/ go; NUM_DEMOS (50) and MAX_STEPS (500) exist for the smoke
# test tests/test_recipe.py.
set -euo pipefail
# The whole body is one brace group, read and parsed before any of it runs: bash otherwise reads a
# script as it goes, so editing or pulling this file during a 2-hour run would make the running
# call execute fragments of the new text.
{
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE

MODEL="${1:-}"
TASK="${2:-shelf-place-v3}"
if [[ "$MODEL" != "standard" && "$MODEL" != "modified" ]]; then
  echo "usage: $0 standard|modified [TASK]" >&2
  exit 2
fi
EPISODES="${EPISODES:-100}"
TA_EPISODES="${TA_EPISODES:-$EPISODES}"
IMAGE_SIZE="${IMAGE_SIZE:-96}"
SHIFT="${SHIFT:-4}"
STATE_INPUT="${STATE_INPUT:-qpos}"
ACTION_NOISE="${ACTION_NOISE:-0}"
AMP="${AMP:-auto}"
AVERAGE="${AVERAGE:-5}"
SNAPSHOT_EVERY="${SNAPSHOT_EVERY:-1000}"
EMA="${EMA:-0}"
LR_SCHEDULE="${LR_SCHEDULE:-constant}"
if [[ "$LR_SCHEDULE" != constant && "$LR_SCHEDULE" != cosine ]]; then
  echo "error: LR_SCHEDULE must be constant or cosine, got $LR_SCHEDULE" >&2
  exit 2
fi
COMPILE="${COMPILE:-0}"
if [[ "$COMPILE" != 0 && "$COMPILE" != 1 ]]; then
  echo "error: COMPILE must be 0 or 1, got $COMPILE" >&2
  exit 2
fi
COMPILE_FLAG=()
if [[ "$COMPILE" == 1 ]]; then COMPILE_FLAG=(--compile); fi
DEVICE="${DEVICE:-auto}"
if [[ "$DEVICE" == auto ]]; then
  DEVICE="$(python -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')"
fi
if [[ "$DEVICE" == cuda ]]; then
  CAMERAS="${CAMERAS:-behindGripper topview}"; STEPS="${STEPS:-12000}"; BATCH="${BATCH:-64}"; WORKERS=6; VAL_EVERY=2000
  NUM_ENVS="${NUM_ENVS:-10}"
else
  CAMERAS="${CAMERAS:-behindGripper}"; BATCH="${BATCH:-8}"; WORKERS=0; VAL_EVERY=500
  NUM_ENVS="${NUM_ENVS:-5}"
  # measured on the CPU budget (README, Results): L2 on all demos on four tasks, the detached
  # CVAE image tokens (modified) and the expert's grasp hold with chunks of 10 on shelf-place-v3
  ACTION_LOSS="${ACTION_LOSS:-l2}"; VAL_FRACTION="${VAL_FRACTION:-0}"
  if [[ "$MODEL" == modified ]]; then CVAE_DETACH="${CVAE_DETACH:-1}"; fi
  if [[ "$TASK" == shelf-place-v3 ]]; then
    GRASP_DEPTH="${GRASP_DEPTH:-0.015}"; GRASP_HOLD="${GRASP_HOLD:-10}"; CHUNK="${CHUNK:-10}"
  fi
  STEPS="${STEPS:-12000}"
fi
CVAE_DETACH="${CVAE_DETACH:-0}"
if [[ "$CVAE_DETACH" != 0 && "$CVAE_DETACH" != 1 ]]; then
  echo "error: CVAE_DETACH must be 0 or 1, got $CVAE_DETACH" >&2
  exit 2
fi
if [[ "$CVAE_DETACH" == 1 && "$MODEL" != modified ]]; then
  echo "error: CVAE_DETACH=1 needs the modified model (the standard model's CVAE encoder sees no images)" >&2
  exit 2
fi
VAL_FRACTION="${VAL_FRACTION:-0.1}"
if ! [[ "$VAL_FRACTION" =~ ^0(\.[0-9]+)?$ ]]; then
  echo "error: VAL_FRACTION must be a number in [0, 1), e.g. 0.1 or 0, got $VAL_FRACTION" >&2
  exit 2
fi
ACTION_LOSS="${ACTION_LOSS:-l1}"
if [[ "$ACTION_LOSS" != l1 && "$ACTION_LOSS" != l2 && "$ACTION_LOSS" != huber ]]; then
  echo "error: ACTION_LOSS must be l1, l2 or huber, got $ACTION_LOSS" >&2
  exit 2
fi
CHUNK="${CHUNK:-50}"
GRASP_DEPTH="${GRASP_DEPTH:-0}"
GRASP_HOLD="${GRASP_HOLD:-0}"
if [[ "$AMP" == auto ]]; then
  AMP=off
  if [[ "$DEVICE" == cpu ]] && grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then AMP=bf16; fi
fi
if [[ "$AMP" == bf16 && "$DEVICE" == cpu ]]; then export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"; fi
SEED="${SEED:-0}"
if ! [[ "$AVERAGE" =~ ^[1-9][0-9]*$ && "$SNAPSHOT_EVERY" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: AVERAGE and SNAPSHOT_EVERY must be positive integers, got $AVERAGE and $SNAPSHOT_EVERY" >&2
  exit 2
fi
if (( AVERAGE > 1 && (STEPS % SNAPSHOT_EVERY != 0 || (AVERAGE - 1) * SNAPSHOT_EVERY >= STEPS) )); then
  echo "error: averaging the last $AVERAGE snapshots needs STEPS ($STEPS) to be a multiple of SNAPSHOT_EVERY" \
    "($SNAPSHOT_EVERY) and more than $(( (AVERAGE - 1) * SNAPSHOT_EVERY )); set AVERAGE=1 to evaluate last.pth" >&2
  exit 2
fi
P="${OUT_DIR:+${OUT_DIR%/}/}"  # path prefix of data/, runs/, results/
NUM_DEMOS="${NUM_DEMOS:-50}"
MAX_STEPS="${MAX_STEPS:-500}"
read -r -a CAMERA_LIST <<< "$CAMERAS"
CAMERA_TAG="$(IFS=-; echo "${CAMERA_LIST[*]}")-${IMAGE_SIZE}"
DATA_TAG=""
if [[ "$ACTION_NOISE" != 0 ]]; then DATA_TAG="-noise${ACTION_NOISE}"; fi
if [[ "$GRASP_DEPTH" != 0 ]]; then DATA_TAG="${DATA_TAG}-deep${GRASP_DEPTH}"; fi
if [[ "$GRASP_HOLD" != 0 ]]; then DATA_TAG="${DATA_TAG}-hold${GRASP_HOLD}"; fi
DATA="${P}data/${TASK}__${CAMERA_TAG}${DATA_TAG}.hdf5"
TAG="__${CAMERA_TAG}${DATA_TAG}-shift${SHIFT}"
if [[ "$CHUNK" != 50 ]]; then TAG="${TAG}-chunk${CHUNK}"; fi
if [[ "$STATE_INPUT" != qpos ]]; then TAG="${TAG}-${STATE_INPUT}"; fi
if [[ "$BATCH" != 8 ]]; then TAG="${TAG}-b${BATCH}"; fi
if [[ "$AMP" != off ]]; then TAG="${TAG}-${AMP}"; fi
if [[ "$EMA" != 0 ]]; then TAG="${TAG}-ema${EMA}"; fi
if [[ "$LR_SCHEDULE" == cosine ]]; then TAG="${TAG}-cos"; fi
if [[ "$VAL_FRACTION" != 0.1 ]]; then TAG="${TAG}-val${VAL_FRACTION}"; fi
if [[ "$ACTION_LOSS" != l1 ]]; then TAG="${TAG}-${ACTION_LOSS}"; fi
DETACH_FLAG=()
if [[ "$CVAE_DETACH" == 1 ]]; then TAG="${TAG}-cvaedetach"; DETACH_FLAG=(--cvae_detach_images); fi
RUN="${P}runs/${TASK}__${MODEL}__recipe${TAG}__seed${SEED}"
RESULT="${P}results/${TASK}__${MODEL}${TAG}"
# another training seed writes beside seed 0's results, not over them
if [[ "$SEED" != 0 ]]; then RESULT="${RESULT}__seed${SEED}"; fi
# a run continued to more steps keeps its folder (and step_<k>.pth snapshots) but writes new
# result files, so the shorter run's results stay beside the longer run's
if [[ "$STEPS" != 4000 ]]; then RESULT="${RESULT}__${STEPS}steps"; fi
START=$(date +%s)

PRECISION="fp32"
if [[ "$AMP" == bf16 ]]; then PRECISION="bf16 autocast"; fi
echo "device $DEVICE: $STEPS steps at batch $BATCH, $PRECISION${OMP_NUM_THREADS:+, OMP_NUM_THREADS=$OMP_NUM_THREADS}"
echo "cameras $CAMERAS at $IMAGE_SIZE px, chunk $CHUNK, demos: grasp depth $GRASP_DEPTH, grasp hold $GRASP_HOLD (0 0: MetaWorld's expert)"
echo "== 1/4 demonstrations: $DATA"
# Several recipe calls may share one demo file (e.g. standard and modified started side by side):
# the first to take the lock collects it, the others wait for it and then skip collection.
mkdir -p "$(dirname "$DATA")"
exec 9>"$DATA.lock"  # the lock's descriptor, closed after collection (flock is util-linux; skipped where absent)
if command -v flock >/dev/null; then
  flock -n 9 || { echo "waiting for another call collecting $DATA"; flock 9; }
fi
if [[ ! -f "$DATA" ]]; then
  RESUME=()
  [[ -f "$DATA.partial" ]] && RESUME=(--resume)
  python scripts/collect_act_demos.py --task "$TASK" --num_demos "$NUM_DEMOS" --cameras "${CAMERA_LIST[@]}" \
    --image_size "$IMAGE_SIZE" --action_noise "$ACTION_NOISE" --grasp_depth "$GRASP_DEPTH" --grasp_hold "$GRASP_HOLD" --workers 2 --output "$DATA" \
    "${RESUME[@]}"
else
  echo "exists, skipping collection"
fi
exec 9>&-  # closing the descriptor releases the lock

echo "== 2/4 training: $RUN"
if [[ -f "$RUN/checkpoints/last.pth" ]]; then
  python scripts/train_act_proper.py --resume "$RUN" --model "$MODEL" --steps "$STEPS"
else
  python scripts/train_act_proper.py --model "$MODEL" --data "$DATA" --cameras "${CAMERA_LIST[@]}" \
    --steps "$STEPS" --batch_size "$BATCH" --lr 1e-4 --lr_backbone 1e-4 --chunk_size "$CHUNK" --hidden_dim 256 \
    --dim_feedforward 1024 --augment_shift "$SHIFT" --state_input "$STATE_INPUT" \
    --amp "$AMP" --ema_decay "$EMA" --lr_schedule "$LR_SCHEDULE" --val_fraction "$VAL_FRACTION" --action_loss "$ACTION_LOSS" --val_every "$VAL_EVERY" --save_every "$SNAPSHOT_EVERY" --seed "$SEED" \
    "${DETACH_FLAG[@]}" "${COMPILE_FLAG[@]}" --device "$DEVICE" --num_workers "$WORKERS" --output_dir "${P}runs" --run_name "$(basename "$RUN")"
fi

WEIGHTS="$RUN/checkpoints/last.pth"
if (( AVERAGE > 1 )); then
  FIRST=$(( STEPS - (AVERAGE - 1) * SNAPSHOT_EVERY ))
  echo "== 3/4 weights: the mean of the snapshots at steps $FIRST to $STEPS"
  WEIGHTS="$RUN/checkpoints/avg_${FIRST}-${STEPS}.pth"
  # shellcheck disable=SC2046  # one argument per step
  if [[ ! -f "$WEIGHTS" ]]; then
    python scripts/average_checkpoints.py --run "$RUN" --steps $(seq "$FIRST" "$SNAPSHOT_EVERY" "$STEPS") \
      --output "$WEIGHTS" > /dev/null
  fi
  RESULT="${RESULT}__avg${FIRST}-${STEPS}"
else
  echo "== 3/4 weights: last.pth"
fi

echo "== 4/4 evaluation on held-out episodes: $EPISODES chunk execution, $TA_EPISODES temporal aggregation"
mkdir -p "${P}results"
for MODE in chunk ta; do
  FLAGS=()
  N="$EPISODES"
  [[ "$MODE" == ta ]] && FLAGS=(--temporal_agg) && N="$TA_EPISODES"
  [[ "$N" == 0 ]] && continue
  if [[ -f "${RESULT}__${MODE}.json" ]]; then
    echo "${RESULT}__${MODE}.json exists, skipping this evaluation"
    continue
  fi
  [[ -f "${RESULT}__${MODE}.json.partial" ]] && FLAGS+=(--resume)
  python scripts/evaluate_act_proper.py --checkpoint "$WEIGHTS" --episodes "$N" \
    --num_envs "$NUM_ENVS" --max_steps "$MAX_STEPS" --device "$DEVICE" "${FLAGS[@]}" \
    --video_dir "$RUN/videos_$MODE" \
    --num_videos "$(( N < 3 ? N : 3 ))" --output "${RESULT}__${MODE}.json"
done
TABLE=()
for MODE in chunk ta; do
  if [[ -f "${RESULT}__${MODE}.json" ]]; then TABLE+=("${RESULT}__${MODE}.json"); fi
done
if (( ${#TABLE[@]} )); then
  python scripts/results_table.py "${TABLE[@]}"
else
  echo "no evaluation requested (EPISODES=0 and TA_EPISODES=0): trained only"
fi
echo "total wall time: $(( ($(date +%s) - START) / 60 )) min"
exit
}
