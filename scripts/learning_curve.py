#!/usr/bin/env python
"""Success rate against training steps for one or more runs (their step_<k>.pth snapshots).

    python scripts/learning_curve.py runs/A runs/B --episodes 20 --output results/success_vs_steps.png

With --from_results it only plots JSON files already written (curve files of an earlier call and
evaluate_act_proper.py results, each placed at its checkpoint's step), running nothing:

    python scripts/learning_curve.py --from_results results/*.json --output results/success_vs_steps.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli import Parser, positive_int


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    parser.add_argument("runs", nargs="*", help="run folders trained with --save_every")
    parser.add_argument("--from_results", nargs="+", default=[], metavar="JSON",
                        help="plot these curve/evaluation JSON files instead of evaluating snapshots")
    parser.add_argument("--episodes", type=positive_int, default=20, help="episodes per snapshot")
    parser.add_argument("--every", type=positive_int, default=1, help="only snapshots whose step is a multiple of this")
    parser.add_argument("--temporal_agg", action="store_true")
    parser.add_argument("--num_envs", type=positive_int, default=5)
    parser.add_argument("--output", default="results/success_vs_steps.png", help="plot; a JSON per run goes beside it")
    parser.add_argument("--title", default="")
    args = parser.parse_args(argv)
    from evaluation.learning_curve import curves_from_results, plot_curves, success_curve
    from training.atomic import write_json

    if bool(args.runs) == bool(args.from_results):
        parser.error("give run folders to evaluate, or --from_results JSON files to plot (not both)")
    if args.from_results:
        try:
            curves = curves_from_results(args.from_results)
        except (OSError, ValueError, KeyError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        plot_curves(curves, args.output, args.title)
        for curve in curves:
            print(curve["model_kind"], "ta" if curve["temporal_agg"] else "chunk",
                  [(p["step"], p["success_rate"], p["episodes"]) for p in curve["points"]])
        print(f"plot: {args.output}")
        return 0
    curves = []
    for run in args.runs:
        try:
            curve = success_curve(run, args.episodes, args.temporal_agg, args.num_envs, every=args.every)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        mode = "ta" if args.temporal_agg else "chunk"
        write_json(Path(args.output).with_name(f"{Path(run).name}__curve_{mode}.json"), curve)
        print(Path(run).name, [(p["step"], p["success_rate"]) for p in curve["points"]], flush=True)
        curves.append(curve)
    plot_curves(curves, args.output, args.title)
    print(f"plot: {args.output}")
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
