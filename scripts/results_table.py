#!/usr/bin/env python
"""Print a markdown table of evaluation result files (written by scripts/evaluate_act_proper.py or reproduce.py).

    python scripts/results_table.py results/*.json              # one row per run: both modes, wall time, machine,
                                                                # then the means over MT10 and the very hard five
    python scripts/results_table.py --per_file results/*.json   # one row per result file
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli import Parser, read_json_files


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("results", nargs="+", help="result JSON files")
    parser.add_argument("--per_file", action="store_true", help="one row per file instead of one per run")
    args = parser.parse_args(argv)
    from evaluation.report import headline_table, task_set_table
    from evaluation.rollout import results_markdown_table

    results = read_json_files(args.results)
    if results is None:
        return 2
    names = [Path(path).stem for path in args.results]
    try:
        if args.per_file:
            print(results_markdown_table(results, names))
        else:
            print(headline_table(results))
            summary = task_set_table(results)
            if summary:
                print("\n" + summary)
    except KeyError as error:
        print(f"error: a file is not an evaluation result (missing {error})", file=sys.stderr)
        return 2
    return 0


def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
