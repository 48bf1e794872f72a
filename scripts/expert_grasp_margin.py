#!/usr/bin/env python
"""How low the scripted expert grasps, with and without --grasp_depth: the demos' height margin.

Rolls MetaWorld's expert (and the deeper-grasp variant for each --grasp_depth) out from the same
seeds and prints JSON per depth: success rate, steps to success, and two heights of the hand above
the block's centre: when the fingers first close halfway (the evaluator's ``grasp_offset_m``, so
directly comparable with a policy's episodes) and the lowest point while the block still rests
on the table (where the grasp really happens). A learned policy that lifts one step early
(README → "How the grasp fails") misses the block when that height margin is thin.

    python scripts/expert_grasp_margin.py --seeds 100 --grasp_depth 0 0.015
    python scripts/expert_grasp_margin.py --seeds 100 --grasp_depth 0.015 --grasp_hold 10   # open-close-hold-lift
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_float, non_negative_int, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--task", default="shelf-place-v3", help="MetaWorld v3 task name")
    parser.add_argument("--seeds", type=positive_int, default=100, help="episodes (seeds first_seed, first_seed + 1, ...)")
    parser.add_argument("--first_seed", type=non_negative_int, default=0, help="first seed (collection uses 0, 1, ...)")
    parser.add_argument("--grasp_depth", type=non_negative_float, nargs="+", default=[0.0, 0.015],
                        help="expert variants to compare, metres (0 = MetaWorld's expert)")
    parser.add_argument("--grasp_hold", type=non_negative_int, default=0,
                        help="steps every variant closes its fingers standing still before lifting (0 = MetaWorld's race)")
    parser.add_argument("--max_steps", type=positive_int, default=500, help="episode limit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np
    from tqdm import tqdm

    from envs import EnvConfig, MetaWorldEnv, TaskNameError
    from envs.collection import run_expert_episode
    from envs.experts import make_expert
    from training.evaluation import grasp_heights

    try:
        experts = {depth: make_expert(args.task, depth, args.grasp_hold) for depth in args.grasp_depth}
        env = MetaWorldEnv(EnvConfig(task=args.task, cameras=("topview",), image_size=16, max_steps=args.max_steps))
    except (TaskNameError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    report = {"task": args.task, "seeds": [seeds[0], seeds[-1]], "grasp_hold": args.grasp_hold, "by_grasp_depth": {}}
    with env:
        for depth, expert in experts.items():
            rows = []
            for seed in tqdm(seeds, desc=f"grasp_depth {depth}", file=sys.stderr):
                episode = run_expert_episode(env, expert, seed, steps_after_success=0)
                rows.append((episode["success"], episode["first_success_step"], *grasp_heights(episode["env_state"])))
            success = [r[0] for r in rows]
            steps = [r[1] for r in rows if r[0]]
            half = [r[2] for r in rows if r[2] is not None]
            lowest = [r[3] for r in rows]

            def spread(values):
                return {q: round(float(np.percentile(values, p)), 4) for q, p in (("min", 0), ("median", 50), ("max", 100))}

            report["by_grasp_depth"][str(depth)] = {
                "success": f"{sum(success)}/{len(success)}",
                "steps_to_success": spread(steps) if steps else None,
                "hand_above_object_at_half_closed_m": spread(half) if half else None,
                "lowest_hand_above_object_before_lift_m": spread(lowest),
            }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
