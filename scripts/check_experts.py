#!/usr/bin/env python
"""Success rate of MetaWorld's scripted experts on the demonstration seeds 0..N-1 (no rendering).

    python scripts/check_experts.py --tasks reach-v3 push-v3 --episodes 100 --output results/expert_success.json
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import version

from pipeline.cli import Parser, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--tasks", nargs="+", required=True, help="MetaWorld v3 task names")
    parser.add_argument("--episodes", type=positive_int, default=100, help="seeds 0..N-1 per task")
    parser.add_argument("--max_steps", type=positive_int, default=500, help="steps per episode (MetaWorld: 500)")
    parser.add_argument("--output", required=True, help="JSON file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.path.exists(args.output) and not args.overwrite:
        print(f"error: {args.output} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    from envs import TaskNameError, check_task
    from envs.experts import expert_success
    from evaluation.rollout import wilson_interval
    from training.atomic import write_json

    try:
        tasks = [check_task(task) for task in args.tasks]
    except TaskNameError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results = []
    for task in tasks:
        r = expert_success(task, list(range(args.episodes)), args.max_steps)
        lo, hi = r["wilson_95"] = list(wilson_interval(r["successes"], r["episodes"]))
        steps = "-" if r["mean_steps_to_success"] is None else f"{r['mean_steps_to_success']:.1f}"
        print(f"{task:28s} {r['successes']:4d}/{r['episodes']:<4d} [{lo:.3f}, {hi:.3f}]  mean steps {steps}", flush=True)
        results.append(r)
    summary = {"command": " ".join(["python"] + sys.argv), "metaworld_version": version("metaworld"),
               "seed_range": f"demonstration seeds 0..{args.episodes - 1}", "tasks": results}
    try:
        write_json(args.output, summary)
    except OSError as error:
        print(f"error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
