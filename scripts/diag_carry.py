#!/usr/bin/env python
"""Has a checkpoint learned where to carry the block? Its x action, phase by phase, on demo frames.

For every frame of a demonstration file where the expert moves the hand sideways at speed
(|x action| > 0.5), predicts the policy's first action from that frame (its cameras and qpos, z = 0,
as at evaluation; runs no environment) and splits the frames by phase, read from the expert's
gripper command:

- ``approach``: the expert's gripper command is open (≤ 0): the hand moving over the object,
  where the direction is read from where the object is;
- ``carry``: the expert commands the fingers closed (> 0): the hand taking the grasped object
  sideways to the goal, where the direction is read from where the goal is.

Per phase it reports the frames, the mean of predicted x times the sign of the expert's
(``signed_x``: 1 = full speed the right way, 0 = standing still, −1 = full speed the wrong way), the
share of frames predicted still (|x| < 0.2) and the share predicted the wrong way (x < −0.2 times
the sign). A policy that cannot see where the goal is stands still in the carry phase while it
approaches well. Several checkpoints (e.g. the snapshots of one run) give the phases' learning
curves. Prints JSON.

    python scripts/diag_carry.py --data data/shelf-place-v3__behindGripper-96-deep0.015-hold10.hdf5 \\
        --checkpoint runs/<run>/checkpoints/step_010000.pth runs/<run>/checkpoints/avg_16000-20000.pth
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser

MOVING = 0.5  # |expert x action| above which a frame counts as moving sideways at speed
STILL = 0.2  # |predicted x| below which the policy counts as standing still


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, nargs="+", help="checkpoint files or run folders")
    parser.add_argument("--data", required=True, help="demonstration HDF5 file with the checkpoints' cameras")
    return parser.parse_args(argv)


def sideways_frames(data: dict) -> tuple[list[int], list[str]]:
    """Steps of one episode where the expert moves sideways at speed, and the phase of each."""
    import numpy as np

    actions = data["actions"]  # (T, 4)
    steps = np.flatnonzero(np.abs(actions[:, 0]) > MOVING).tolist()
    return steps, ["carry" if actions[step, 3] > 0 else "approach" for step in steps]


def phase_report(predicted, expert) -> dict:
    """Summary of (K,) predicted against (K,) expert x actions of one phase."""
    import numpy as np

    if len(expert) == 0:
        return {"frames": 0}
    toward = predicted * np.sign(expert)  # (K,) the predicted speed the expert's way
    return {
        "frames": len(expert),
        "signed_x": round(float(toward.mean()), 4),
        "share_still": round(float((np.abs(predicted) < STILL).mean()), 4),
        "share_wrong_way": round(float((toward < -STILL).mean()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from envs.hdf5_demos import read_episode, validate_demo_file
    from training.checkpoint import CheckpointError
    from training.policy import ACTPolicy

    try:
        info = validate_demo_file(args.data)
        policies = [ACTPolicy.from_checkpoint(checkpoint) for checkpoint in args.checkpoint]
    except (CheckpointError, ValueError, OSError) as error:  # ValueError: DemoFileError
        print(f"error: {error}", file=sys.stderr)
        return 2
    for checkpoint, policy in zip(args.checkpoint, policies, strict=True):
        missing = [camera for camera in policy.cameras if camera not in info.cameras]
        if missing:
            print(f"error: {args.data} has no camera {', '.join(missing)} ({checkpoint})", file=sys.stderr)
            return 2
    predicted: list[list[np.ndarray]] = [[] for _ in policies]
    expert, phases = [], []
    for episode in range(info.num_episodes):
        data = read_episode(args.data, episode)
        steps, episode_phases = sideways_frames(data)
        if not steps:
            continue
        for index, policy in enumerate(policies):
            qpos = data["qpos"][steps].astype(np.float32)  # (K, Q)
            images = np.stack([data["images"][camera][steps] for camera in policy.cameras], axis=1)  # (K, N, H, W, 3)
            predicted[index].append(policy.predict_chunks(qpos, images)[:, 0, 0])  # (K,)
        expert.append(data["actions"][steps, 0])
        phases.extend(episode_phases)
    expert_x = np.concatenate(expert) if expert else np.zeros(0)
    phase_of = np.asarray(phases)
    report: dict = {"data": args.data, "episodes": info.num_episodes, "checkpoints": []}
    for checkpoint, values in zip(args.checkpoint, predicted, strict=True):
        predicted_x = np.concatenate(values) if values else np.zeros(0)
        report["checkpoints"].append({
            "checkpoint": checkpoint,
            **{phase: phase_report(predicted_x[phase_of == phase], expert_x[phase_of == phase])
               for phase in ("approach", "carry")},
        })
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
