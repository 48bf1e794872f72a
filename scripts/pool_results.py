#!/usr/bin/env python
"""Pool evaluation results of one recipe (e.g. one per training seed) and print JSON.

    python scripts/pool_results.py results/A__chunk.json results/A__seed1__chunk.json [...]

Prints each result's successes and 95% Wilson interval, the pooled successes over all their
episodes with the pooled interval, and the lowest and highest single rate. The files must share
the task, step limit, model kind and execution mode (chunked or temporal aggregation). The pooled
interval counts every episode as an independent draw; with few training seeds the spread between
seeds can be wider, so read it beside the single rates.
"""

from __future__ import annotations

import json
import sys

from pipeline.cli import Parser, read_json_files


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__)
    parser.add_argument("results", nargs="+", help="result JSONs (written by scripts/evaluate_act_proper.py)")
    args = parser.parse_args(argv)
    from evaluation.compare import IncompatibleResults, pooled_success

    loaded = read_json_files(args.results)
    if loaded is None:
        return 2
    try:
        pooled = pooled_success(loaded)
    except IncompatibleResults as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyError, TypeError) as error:
        print(f"error: a file is not an evaluation result (missing {error})", file=sys.stderr)
        return 2
    for run, path in zip(pooled["runs"], args.results):
        run["file"] = path
    print(json.dumps(pooled, indent=2))
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
