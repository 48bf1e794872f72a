#!/usr/bin/env python
"""Success against the object's initial position, from evaluator result files (runs nothing).

A policy that ignores where the object is succeeds only where the average demonstration goes;
this shows whether successes cluster there. Prints JSON, one entry per result file: successes
per bin of |object x| (metres from the table's centre line) and the largest |x| of a success.

    python scripts/success_by_position.py results/shelf-place-v3__standard__chunk.json
"""

from __future__ import annotations

import itertools
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser

BIN_EDGES = (0.0, 0.025, 0.05, 0.075, 0.1)  # |x| bins in metres (shelf-place samples x in [-0.1, 0.1])


def summarize(results: dict) -> dict:
    abs_x_success = [(abs(e["object_init_pos"][0]), bool(e["success"])) for e in results["per_episode"]]
    bins = []
    for low, high in itertools.pairwise(BIN_EDGES):
        last = high == BIN_EDGES[-1]  # the last bin also takes |x| == 0.1
        inside = [success for x, success in abs_x_success if low <= x and (last or x < high)]
        bins.append({"abs_x_m": [low, high], "episodes": len(inside), "successes": sum(inside)})
    successes = [x for x, success in abs_x_success if success]
    return {
        "successes": len(successes),
        "episodes": len(abs_x_success),
        "by_abs_object_x": bins,
        "max_abs_x_of_a_success": round(max(successes), 4) if successes else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    parser.add_argument("results", nargs="+", help="evaluate_act_proper.py result JSON files")
    args = parser.parse_args(argv)
    report = {}
    for path in args.results:
        try:
            with open(path) as f:
                report[path] = summarize(json.load(f))
        except (OSError, ValueError, KeyError, TypeError) as error:
            print(f"error: {path}: not a readable result file ({type(error).__name__}: {error})", file=sys.stderr)
            return 2
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
