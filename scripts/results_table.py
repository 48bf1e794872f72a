#!/usr/bin/env python
"""Print a markdown table of evaluation result files (written by scripts/evaluate_act_proper.py).

    python scripts/results_table.py results/*.json
"""

from __future__ import annotations

import sys
from pathlib import Path

import _bootstrap  # noqa: F401
from _cli import Parser, read_json_files


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("results", nargs="+", help="result JSON files")
    args = parser.parse_args(argv)
    from evaluation.rollout import results_markdown_table

    results = read_json_files(args.results)
    if results is None:
        return 2
    names = [Path(path).stem for path in args.results]
    try:
        print(results_markdown_table(results, names))
    except KeyError as error:
        print(f"error: a file is not an evaluation result (missing {error})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
