#!/usr/bin/env python
"""Compare two evaluation results episode by episode (same seeds) and print JSON.

    python scripts/compare_results.py results/A.json results/B.json

Prints the successes of each, the paired table (both / only_a / only_b / neither) and the exact
McNemar p-value: the chance of a split of the discordant episodes at least this uneven if the two
policies were equally good. Both files must have played the same episode seeds (two recipe
evaluations of one split and episode count do).
"""

from __future__ import annotations

import json
import sys

from pipeline.cli import Parser, read_json_files


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("a", help="first result JSON (written by scripts/evaluate_act_proper.py)")
    parser.add_argument("b", help="second result JSON")
    args = parser.parse_args(argv)
    from evaluation.compare import UnpairedResults, paired_comparison

    loaded = read_json_files([args.a, args.b])
    if loaded is None:
        return 2
    try:
        comparison = paired_comparison(*loaded)
    except UnpairedResults as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyError, TypeError) as error:
        print(f"error: a file is not an evaluation result (missing {error})", file=sys.stderr)
        return 2
    print(json.dumps({"a": args.a, "b": args.b, **comparison}, indent=2))
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
