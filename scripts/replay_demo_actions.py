#!/usr/bin/env python
"""How well a checkpoint reproduces the expert on recorded frames (a training-fit diagnostic).

Feeds every recorded frame (joint state + images) of some demonstration episodes to the policy
and compares the first action of each predicted chunk (z = 0) with the expert's recorded action.
Prints JSON: mean |error| per action dimension (x, y, z, gripper), and how often the policy gets
the direction wrong (or predicts exactly 0) where the expert moves decisively (|action| >= 0.5)
along x, y or z, in all and split by phase: "reaching" while the expert's gripper command is open
(<= 0), "carrying" once it closes (> 0). On shelf-place the carrying x moves go to the shelf, so
this tells "does not see the block" from "does not see the shelf".

    python scripts/replay_demo_actions.py --checkpoint runs/<run>/checkpoints/last.pth \\
        --data data/shelf-place-v3__behindGripper-96.hdf5 --split train --episodes 5
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_int, positive_int

DECISIVE = 0.5  # |expert action| from which a wrong sign counts as a wrong direction
AXES = ("x", "y", "z", "gripper")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    parser.add_argument("--data", required=True, help="the demonstration HDF5 file the checkpoint was trained on")
    parser.add_argument("--split", choices=["train", "val"], default="train", help="which of its episodes to replay")
    parser.add_argument("--episodes", type=positive_int, default=5, help="episodes to replay (first of the split)")
    parser.add_argument("--skip", type=non_negative_int, default=0, help="skip this many episodes of the split")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from envs.hdf5_demos import DemoFileError, read_episode, validate_demo_file
    from training.checkpoint import CheckpointError, load_checkpoint
    from training.policy import ACTPolicy

    try:
        checkpoint = load_checkpoint(args.checkpoint)
        policy = ACTPolicy.from_checkpoint(checkpoint)
        info = validate_demo_file(args.data)
    except (CheckpointError, DemoFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = [camera for camera in policy.cameras if camera not in info.cameras]
    if missing or info.image_size != policy.image_size:
        print(f"error: {args.data} does not hold the checkpoint's cameras {list(policy.cameras)} at "
              f"{policy.image_size} px", file=sys.stderr)
        return 2
    split = list(checkpoint[f"{args.split}_episodes"])[args.skip : args.skip + args.episodes]
    if not split:
        print(f"error: the checkpoint has no {args.split} episodes past --skip {args.skip}", file=sys.stderr)
        return 2
    errors, per_episode = [], []
    phases = ("reaching", "carrying")
    wrong, decisive = {p: np.zeros(3) for p in phases}, {p: np.zeros(3) for p in phases}
    for index in split:
        episode = read_episode(args.data, index)
        state = episode[policy.state_input].astype(np.float32)  # (T, Q)
        images = np.stack([episode["images"][camera] for camera in policy.cameras], axis=1)  # (T, N, H, W, 3)
        first = policy.predict_chunks(state, images)[:, 0]  # (T, A): the action each chunk starts with
        expert = episode["actions"]  # (T, A)
        error = np.abs(first - expert).astype(np.float64)
        errors.append(error)
        strong = np.abs(expert[:, :3]) >= DECISIVE  # (T, 3)
        misses = strong & (np.sign(first[:, :3]) != np.sign(expert[:, :3]))  # (T, 3)
        carrying = expert[:, 3] > 0  # (T,)
        for phase, in_phase in zip(phases, (~carrying, carrying), strict=True):
            decisive[phase] += strong[in_phase].sum(0)
            wrong[phase] += misses[in_phase].sum(0)
        per_episode.append({
            "episode": int(index), "seed": int(episode["seed"]), "length": len(expert),
            "object_init_pos": np.round(episode["object_init_pos"], 4).tolist(),
            "mean_abs_error": dict(zip(AXES, np.round(error.mean(0), 4).tolist(), strict=True)),
        })
    all_errors = np.concatenate(errors)
    report = {
        "checkpoint": str(checkpoint.get("path")),
        "step": checkpoint.get("step"),
        "data": args.data,
        "split": args.split,
        "frames": len(all_errors),
        "mean_abs_error": dict(zip(AXES, np.round(all_errors.mean(0), 4).tolist(), strict=True)),
        "wrong_or_no_direction_where_expert_decisive": {
            axis: {"wrong": int(w), "of": int(d)}
            for axis, w, d in zip(AXES[:3], sum(wrong.values()), sum(decisive.values()), strict=True)
        },
        "by_phase": {
            phase: {
                axis: {"wrong": int(w), "of": int(d)}
                for axis, w, d in zip(AXES[:3], wrong[phase], decisive[phase], strict=True)
            }
            for phase in phases
        },
        "per_episode": per_episode,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
