"""The evaluation command (scripts/evaluate_act_proper.py): flags from EvalConfig, the checkpoint's evaluation, its result file and videos."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli import (
    ConfigError,
    Parser,
    add_fields,
    build,
    changed_flags,
    config_section,
    non_negative_int,
    positive_int,
)

EXCLUDED = ("seeds", "device")  # explicit seed lists are for the library; --device below takes "auto"


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    from evaluation.rollout import EvalConfig

    argv = sys.argv[1:] if argv is None else argv
    try:
        config_file, values = config_section(argv, "eval", EvalConfig, exclude=EXCLUDED + ("video_dir",))
    except ConfigError as error:
        Parser().error(str(error))
    parser = Parser(description)
    parser.add_argument("--config", default=config_file, help="recipe file (configs/*.toml) whose [eval] table sets the defaults")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file, run folder or exported folder")
    parser.add_argument("--output", default=None,
                        help="results JSON file; finished episodes are journalled in <output>.partial until it is written")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted evaluation from its <output>.partial journal")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output results file")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the policy runs")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args_fields = add_fields(
        parser, EvalConfig, values=values, exclude=EXCLUDED, title="evaluation (EvalConfig)",
        types_={"episodes": positive_int, "seed": non_negative_int, "max_steps": positive_int, "num_envs": positive_int,
                "workers": non_negative_int,
                "query_freq": positive_int, "num_videos": non_negative_int, "video_size": positive_int},
        choices={"split": ("validation", "test")},
    )
    args = parser.parse_args(argv)
    args.fields, args.changed = args_fields, changed_flags(parser, args)
    return args


def main(argv: list[str] | None = None, description: str | None = None) -> int:
    args = parse_args(argv, description)
    import torch

    try:
        import envs  # noqa: F401  (picks a headless GL backend; RenderBackendError when none works)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from evaluation.journal import journal_path
    from evaluation.policy import ACTPolicy
    from evaluation.rollout import (
        EvalConfig,
        evaluate,
        evaluate_to_file,
        format_summary,
        open_journal,
        resolve_eval_seeds,
    )
    from training.checkpoint import CheckpointError

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    if "num_videos" not in args.changed and args.video_dir:
        args.num_videos = min(3, args.episodes or 50)  # a few videos when a folder is named
    # User mistakes surface here, before any environment exists; errors past this point are bugs.
    try:
        config = build(EvalConfig, args, args.fields, device=device)
        policy = ACTPolicy.from_checkpoint(args.checkpoint, device=device)
        policy.configure(temporal_agg=config.temporal_agg, query_freq=config.query_freq, k=config.k)
        resolve_eval_seeds(config, policy.demo_seeds)
        names = {"task": policy.task, "model": policy.model_kind}
        if config.video_dir:
            config.video_dir = config.video_dir.format(**names)
            Path(config.video_dir).mkdir(parents=True, exist_ok=True)  # fails here, not after the first episode
        output = args.output.format(**names) if args.output else None
        if args.resume and not output:
            raise ValueError("--resume continues the journal of an --output file; give the same --output")
        if output and Path(output).exists() and not args.overwrite:
            raise ValueError(f"{output} exists; pass --overwrite to replace it or choose another --output")
        if output and journal_path(output).exists() and not args.resume:
            raise ValueError(
                f"{journal_path(output)} holds an interrupted evaluation; pass --resume to continue it, "
                "or delete it to start afresh"
            )
        if output:
            open_journal(journal_path(output), policy, config)  # refuses a journal of other settings, now
    except (CheckpointError, ValueError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output or video folder that cannot be made or written
        print(f"error: cannot write {error.filename}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyError as error:
        hint = "use {task} and {model}"
        print(f"error: unknown placeholder {error} in --output or --video_dir ({hint})", file=sys.stderr)
        return 2
    try:
        if output:
            results = evaluate_to_file(policy, config, output, resume=True, progress=not args.quiet)
        else:
            results = evaluate(policy, config, progress=not args.quiet)
    except KeyboardInterrupt:
        if output:
            print(f"\ninterrupted: finished episodes are kept in {journal_path(output)}; "
                  "rerun the same command with --resume", file=sys.stderr)
        else:
            print("\ninterrupted: no results written", file=sys.stderr)
        return 130
    print(format_summary(results))
    if output:
        print(f"results: {output}")
    return 0
