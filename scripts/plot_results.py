#!/usr/bin/env python
"""Plot success per task, one bar per model with its 95% interval, from evaluation result files.

    python scripts/plot_results.py results/*__test__*.json --output docs/success_by_task.png
"""

from __future__ import annotations

import os
import sys

from pipeline.cli import Parser, read_json_files


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("results", nargs="+", help="result JSON files, one per task, model and execution mode")
    parser.add_argument("--output", required=True, help="PNG file to write")
    parser.add_argument("--title", default="", help="title above the panels")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    args = parser.parse_args(argv)
    if os.path.exists(args.output) and not args.overwrite:
        print(f"error: {args.output} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    from evaluation.report import DuplicateRunError, plot_success_by_task

    results = read_json_files(args.results)
    if results is None:
        return 2
    try:
        plot_success_by_task(results, args.output, title=args.title)
    except DuplicateRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyError as error:
        print(f"error: a file is not an evaluation result (missing {error})", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
