#!/usr/bin/env python
"""Run a recipe end to end: collect demonstrations → train → average snapshots → evaluate.

    python scripts/reproduce.py --config configs/shelf_place_cpu.toml --model standard --split test
    python scripts/reproduce.py --config configs/metaworld_cpu.toml --model modified --task drawer-open-v3
    python scripts/reproduce.py --config configs/metaworld_cpu.toml --model standard --task MT10,very-hard --split test
    python scripts/reproduce.py --config configs/quickstart.toml --model standard train.steps=200 eval.episodes=5

Overrides are section.key=value (sections collect, model, train, eval, and top for average_last and
modes); any that change the experiment add a short hash to the names. Rerunning the same command
continues whatever stage was interrupted and skips the finished ones; several tasks (comma-separated, or the
task sets MT10 and very-hard) run one after the other, every recipe checked before any work. Writes data/<task>__<recipe>.hdf5,
runs/<task>__<model>__<recipe>[__seed<k>][__<hash>]/ and results/<run name>__<split>__<mode>.json.
"""

from __future__ import annotations

import sys

from pipeline.cli import ConfigError, Parser, non_negative_int, stop_cleanly_on_signals


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    parser.add_argument("--config", required=True, help="recipe file, e.g. configs/shelf_place_cpu.toml")
    parser.add_argument("--model", required=True, choices=["standard", "modified"], help="ACT variant")
    parser.add_argument("--task", default=None,
                        help="MetaWorld task, or several comma-separated, or the task sets MT10 and very-hard, run in "
                        "turn (default: the recipe's collect.task)")
    parser.add_argument("--split", choices=["validation", "test"], default=None,
                        help="evaluation seeds (default: the recipe's eval.split, validation unless it says otherwise); "
                        "test is for reported figures only, never for a choice")
    parser.add_argument("--seed", type=non_negative_int, default=None, help="training seed (train.seed); non-zero adds __seed<k>")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where training and evaluation run; the recipe's settings stay the same (default: auto)")
    parser.add_argument("--threads", type=non_negative_int, default=None,
                        help="torch CPU threads (default: 1 for bf16 on a CPU with native bf16, else torch's default)")
    parser.add_argument("--root", default=".", help="folder holding data/, runs/ and results/ (default: .)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", help="section.key=value settings that replace the recipe's")
    args = parser.parse_args(argv)

    from envs import RenderBackendError, TaskNameError
    from envs.hdf5_demos import DemoFileError
    from envs.task_sets import expand_tasks
    from pipeline.recipe import load_recipe
    from pipeline.runner import StageError, run_recipe
    from training.checkpoint import CheckpointError
    from training.trainer import TrainSetupError

    overrides = list(args.overrides)
    if args.split is not None:
        overrides.append(f"eval.split={args.split}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    tasks = expand_tasks([name.strip() for name in args.task.split(",") if name.strip()]) if args.task else [None]
    outputs = []
    try:
        recipes = [load_recipe(args.config, args.model, task=task, overrides=overrides) for task in tasks]
        for index, recipe in enumerate(recipes):
            if len(recipes) > 1:
                print(f"=== task {index + 1}/{len(recipes)}: {recipe.task}", flush=True)
            outputs += run_recipe(recipe, root=args.root, device=args.device, threads=args.threads,
                                  progress=not args.quiet)
    except (ConfigError, StageError, TaskNameError, DemoFileError, TrainSetupError, CheckpointError,
            RenderBackendError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {error.filename}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: what finished is kept; rerun the same command to continue", file=sys.stderr)
        return 130
    print("results:\n" + "\n".join(f"  {path}" for path in outputs))
    return 0


def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    stop_cleanly_on_signals()
    sys.exit(main())


if __name__ == "__main__":
    cli()
