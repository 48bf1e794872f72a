#!/usr/bin/env python
"""Print a markdown table of evaluation result files (written by scripts/evaluate_act_proper.py).

    python scripts/results_table.py results/*.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import _bootstrap  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="result JSON files")
    args = parser.parse_args(argv)
    from training.evaluation import results_markdown_table

    results, names = [], []
    for path in args.results:
        try:
            results.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            return 2
        names.append(Path(path).stem)
    try:
        print(results_markdown_table(results, names))
    except KeyError as error:
        print(f"error: a file is not an evaluation result (missing {error})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
