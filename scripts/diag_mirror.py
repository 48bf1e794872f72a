#!/usr/bin/env python
"""Does a checkpoint predict the expert's x action, and does it mirror it? (runs no environment)

For windows drawn from a demonstration file, compares the policy's first predicted action with the
expert's, on the recorded frame and on its mirror across x = 0 (every camera image flipped
left-right, the hand's x negated): a policy that has learned the task's symmetry predicts the
negated x action on the mirror. Reports, in action units: the mean |predicted − expert| x on the
recorded frames and on the mirrored ones (against −expert x), the correlation of predicted and
expert x on both, and the share of windows where the predicted x is within 0.05 of 0 while the expert
moves (|x| > 0.5). Prints JSON.

    python scripts/diag_mirror.py --checkpoint runs/<run>/checkpoints/avg_8000-12000.pth \\
        --data data/shelf-place-v3__behindGripper-96-deep0.015-hold10.hdf5 --windows 200
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    parser.add_argument("--data", required=True, help="demonstration HDF5 file with the checkpoint's cameras")
    parser.add_argument("--windows", type=positive_int, default=200, help="frames drawn (uniformly over all steps)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the draw of frames")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from envs.hdf5_demos import read_episode, validate_demo_file
    from training.checkpoint import CheckpointError
    from training.policy import ACTPolicy

    try:
        policy = ACTPolicy.from_checkpoint(args.checkpoint)
        info = validate_demo_file(args.data)
    except (CheckpointError, ValueError, OSError) as error:  # ValueError: DemoFileError
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = [camera for camera in policy.cameras if camera not in info.cameras]
    if missing:
        print(f"error: {args.data} has no camera {', '.join(missing)}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    lengths = np.array(info.episode_lengths)
    flat = rng.choice(int(lengths.sum()), size=min(args.windows, int(lengths.sum())), replace=False)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    episode_of = np.searchsorted(starts, flat, side="right") - 1  # (W,) the episode of each drawn frame
    predicted, mirrored, expert = [], [], []
    for episode in np.unique(episode_of).tolist():
        data = read_episode(args.data, episode)
        steps = (flat[episode_of == episode] - starts[episode]).tolist()
        qpos = data["qpos"][steps].astype(np.float32)  # (K, Q)
        images = np.stack([data["images"][camera][steps] for camera in policy.cameras], axis=1)  # (K, N, H, W, 3)
        mirror_qpos = qpos.copy()
        mirror_qpos[:, 0] *= -1.0
        predicted.append(policy.predict_chunks(qpos, images)[:, 0, 0])  # (K,)
        mirrored.append(policy.predict_chunks(mirror_qpos, images[..., ::-1, :].copy())[:, 0, 0])  # (K,)
        expert.append(data["actions"][steps, 0])
    predicted, mirrored, expert = (np.concatenate(values) for values in (predicted, mirrored, expert))
    moving = np.abs(expert) > 0.5
    report = {
        "checkpoint": args.checkpoint,
        "windows": len(expert),
        "mean_abs_error_x": round(float(np.abs(predicted - expert).mean()), 4),
        "mean_abs_error_x_mirrored": round(float(np.abs(mirrored + expert).mean()), 4),
        "corr_predicted_expert_x": _correlation(predicted, expert),
        "corr_predicted_expert_x_mirrored": _correlation(mirrored, -expert),
        "expert_moving_windows": int(moving.sum()),
        "share_predicted_still_while_expert_moves": round(float((np.abs(predicted[moving]) < 0.05).mean()), 4)
        if moving.any() else None,
    }
    print(json.dumps(report, indent=2))
    return 0


def _correlation(a, b) -> float:
    """Pearson correlation of two (K,) arrays rounded to 4 places; 0 where either is constant."""
    import numpy as np

    return round(float(np.corrcoef(a, b)[0, 1]), 4) if a.std() > 0 and b.std() > 0 else 0.0


if __name__ == "__main__":
    sys.exit(main())
