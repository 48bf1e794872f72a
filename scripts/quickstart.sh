#!/usr/bin/env bash
# The whole pipeline on an easy task, small enough for 2 CPU cores in a few minutes:
# 20 randomized drawer-close-v3 demos at 64 px (hand camera) -> Standard ACT (width 256, chunk 50,
# L2 action loss) trained 1000 steps at batch 8 -> 20 episodes on the test seeds (envs/seeds.py),
# chunk execution, with a video. The same settings reached 20/20 on validation seeds.
# Rerunning starts a new run folder; the demo file is reused when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
AMP=off
if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then
  AMP=bf16  # native bf16: one thread per step is as fast as two
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
fi
RUN_NAME="quickstart__drawer-close-v3__standard__$(date +%Y%m%d-%H%M%S)"
DATA=data/quickstart__drawer-close-v3__64px.hdf5
START=$(date +%s)

if [[ ! -f "$DATA" ]]; then
  python scripts/collect_act_demos.py --task drawer-close-v3 --num_demos 20 --image_size 64 \
    --output "$DATA" --workers 2 --quiet
fi
python scripts/train_act_proper.py --model standard --data "$DATA" --steps 1000 --batch_size 8 \
  --chunk_size 50 --hidden_dim 256 --dim_feedforward 1024 --action_loss l2 --val_fraction 0 --amp "$AMP" \
  --output_dir runs --run_name "$RUN_NAME"
python scripts/evaluate_act_proper.py --checkpoint "runs/$RUN_NAME/checkpoints/last.pth" --split test \
  --episodes 20 --num_envs 5 --video_dir "runs/$RUN_NAME/videos" --num_videos 1 \
  --output "runs/$RUN_NAME/results.json"
echo "Done in $(( $(date +%s) - START )) s: run folder runs/$RUN_NAME (config, metrics, loss plot, checkpoints, video, results.json)"
