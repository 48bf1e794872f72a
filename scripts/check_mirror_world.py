#!/usr/bin/env python
"""Is the world mirrored across x = 0 really the mirror of the world? (shelf-place-v3, no model)

For each seed, runs the task's scripted expert (the recipe's grasp settings) from the seed's
initial state and from its mirror (block x and shelf x negated), and compares the two episodes:
success and steps to success in each, the largest difference of the hand's path (x negated in the
mirror) over the first `--compare_steps` steps, and the first frame of each camera: the mean
absolute pixel difference between the recorded frame and the mirror world's frame flipped
left-right, next to the same difference without the flip (what an unrelated scene differs by).
A mirrored demonstration (``--augment_mirror``) is only a valid one where both are small. Prints
JSON, one line per seed, then a summary.

    python scripts/check_mirror_world.py --seeds 0 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--cameras", nargs="+", default=["behindGripper", "topview"])
    parser.add_argument("--image_size", type=positive_int, default=96)
    parser.add_argument("--grasp_depth", type=float, default=0.015)
    parser.add_argument("--grasp_hold", type=int, default=10)
    parser.add_argument("--compare_steps", type=positive_int, default=60, help="steps of hand path compared")
    parser.add_argument("--max_steps", type=positive_int, default=200)
    return parser.parse_args(argv)


def run_episode(env, expert, seed: int, rand_vec=None, max_steps: int = 200):
    """(first frame's images, hand path (T, 4), steps to success or None, the reset's rand_vec)."""
    import numpy as np

    from envs.experts import expert_action, reset_expert

    raw = env.raw_env
    if rand_vec is not None:  # MetaWorld's own switch: reset to this initial state
        raw._freeze_rand_vec = True
        raw._last_rand_vec = np.array(rand_vec, dtype=np.float64)
    try:
        obs = env.reset(seed)
    finally:
        raw._freeze_rand_vec = False
    reset_expert(expert)
    first_images, path, success_step = obs["images"], [obs["qpos"]], None
    for step in range(max_steps):
        obs, _, success, _ = env.step(expert_action(expert, obs["env_state"]))
        path.append(obs["qpos"])
        if success:
            success_step = step + 1
            break
    return first_images, np.stack(path), success_step, np.array(raw._last_rand_vec, dtype=np.float64)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from envs.experts import check_grasp_depth, make_expert
    from envs.metaworld_wrapper import EnvConfig, MetaWorldEnv, check_cameras

    task = "shelf-place-v3"  # rand_vec = block xyz, shelf xyz: the layout negated below
    try:
        cameras = check_cameras(args.cameras)
        check_grasp_depth(task, args.grasp_depth, args.grasp_hold)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    env = MetaWorldEnv(EnvConfig(task=task, cameras=tuple(cameras), image_size=args.image_size))
    expert = make_expert(task, args.grasp_depth, args.grasp_hold)
    rows = []
    with env:
        for seed in args.seeds:
            images, path, steps, rand_vec = run_episode(env, expert, seed, max_steps=args.max_steps)
            mirrored_vec = rand_vec.copy()
            mirrored_vec[[0, 3]] *= -1.0  # block x, shelf x
            m_images, m_path, m_steps, _ = run_episode(env, expert, seed, mirrored_vec, args.max_steps)
            n = min(args.compare_steps, len(path), len(m_path))
            m_path[:, 0] *= -1.0  # back into the recorded world's x (m_path is this run's own array)
            row = {
                "seed": seed,
                "block_x": round(float(rand_vec[0]), 4), "shelf_x": round(float(rand_vec[3]), 4),
                "steps_to_success": [steps, m_steps],
                "start_hand_x": round(float(path[0, 0]), 4),
                "max_hand_path_difference_m": [round(float(v), 4) for v in np.abs(path[:n, :3] - m_path[:n, :3]).max(0)],
            }
            for camera in cameras:
                recorded, other = images[camera].astype(int), m_images[camera].astype(int)
                row[f"{camera}_first_frame_pixel_difference"] = {
                    "vs_mirror_world_flipped": round(float(np.abs(recorded - other[:, ::-1]).mean()), 2),
                    "vs_mirror_world_unflipped": round(float(np.abs(recorded - other).mean()), 2),
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
    both = [r for r in rows if None not in r["steps_to_success"]]
    summary = {
        "seeds": len(rows),
        "succeeded_in_both_worlds": len(both),
        "mean_abs_steps_to_success_difference": round(float(np.mean(
            [abs(r["steps_to_success"][0] - r["steps_to_success"][1]) for r in both])), 2) if both else None,
        "median_max_hand_path_difference_m": [round(float(v), 4) for v in np.median(
            [r["max_hand_path_difference_m"] for r in rows], axis=0)],
    }
    print(json.dumps({"summary": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
