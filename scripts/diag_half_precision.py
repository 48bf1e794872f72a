#!/usr/bin/env python
"""How far a checkpoint's predicted actions move when its weights are rounded to fp16.

Weights that travel in half precision (a file-size limit between machines, say) and are cast back
to fp32 make a slightly different policy; this measures the difference on real frames of a
demonstration file (every 5th episode, steps 0, 30 and 60). Prints JSON.

    python scripts/diag_half_precision.py --checkpoint runs/<run>/checkpoints/step_015000.pth \\
        --data data/shelf-place-v3__behindGripper-96.hdf5
"""

from __future__ import annotations

import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file")
    parser.add_argument("--data", required=True, help="demonstration HDF5 file with the checkpoint's cameras")
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from envs.hdf5_demos import DemoFileError, read_episode, validate_demo_file
    from training.checkpoint import CheckpointError, load_checkpoint
    from training.policy import ACTPolicy

    try:
        checkpoint = load_checkpoint(args.checkpoint)
        info = validate_demo_file(args.data)
    except (CheckpointError, DemoFileError) as error:
        parser.error(str(error))
    full = ACTPolicy.from_checkpoint(checkpoint)
    missing = [camera for camera in full.cameras if camera not in info.cameras]
    if missing:
        parser.error(f"{args.data} has no camera {missing}; the checkpoint needs {list(full.cameras)}")
    checkpoint["model_state"] = {
        name: tensor.half().float() if tensor.is_floating_point() else tensor
        for name, tensor in checkpoint["model_state"].items()
    }
    half = ACTPolicy.from_checkpoint(checkpoint)
    qpos, images = [], []
    for index in range(0, info.num_episodes, 5):
        episode = read_episode(args.data, index)
        for step in (0, 30, 60):
            step = min(step, len(episode["actions"]) - 1)
            qpos.append(episode[full.state_input][step])
            images.append(np.stack([episode["images"][camera][step] for camera in full.cameras]))
    qpos_batch = np.stack(qpos).astype(np.float32)  # (B, Q)
    image_batch = np.stack(images)  # (B, N, H, W, 3)
    with torch.inference_mode():
        chunks_full = full.predict_chunks(qpos_batch, image_batch)  # (B, S, A)
        chunks_half = half.predict_chunks(qpos_batch, image_batch)
    difference = np.abs(chunks_full - chunks_half)
    report = {
        "checkpoint": args.checkpoint,
        "frames": len(qpos),
        "max_abs_action_difference": float(difference.max()),
        "max_abs_first_action_difference": float(difference[:, 0].max()),
        "mean_abs_action": float(np.abs(chunks_full).mean()),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
