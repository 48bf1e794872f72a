#!/usr/bin/env bash
# The whole pipeline at a small default size (about 5 minutes on 2 CPU cores):
# 5 randomized shelf-place demos at 64 px -> a small Modified ACT trained 300 steps -> 5 held-out
# evaluation episodes with one video. Far too small to succeed at the task; it shows every step works.
# The real recipe: scripts/reproduce_shelf_place.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
RUN_NAME="quickstart__$(date +%Y%m%d-%H%M%S)"

python scripts/collect_act_demos.py --task shelf-place-v3 --num_demos 5 --image_size 64 \
  --output data/quickstart.hdf5 --overwrite --workers 2
python scripts/train_act_proper.py --model modified --data data/quickstart.hdf5 --steps 300 \
  --chunk_size 20 --hidden_dim 64 --dim_feedforward 128 --n_heads 2 --enc_layers 1 --cvae_enc_layers 1 \
  --latent_dim 8 --val_every 100 --output_dir runs --run_name "$RUN_NAME"
python scripts/evaluate_act_proper.py --checkpoint "runs/$RUN_NAME/checkpoints/last.pth" --episodes 5 \
  --max_steps 150 --num_envs 5 --temporal_agg --video_dir "runs/$RUN_NAME/videos" --num_videos 1 \
  --output "runs/$RUN_NAME/results.json"
echo "Done: run folder runs/$RUN_NAME (config, metrics, loss plot, checkpoints, video, results.json)"
