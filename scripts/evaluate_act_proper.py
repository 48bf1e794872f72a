#!/usr/bin/env python
"""Evaluate a trained ACT checkpoint on held-out MetaWorld episodes (validation or test seeds, envs/seeds.py).

    python scripts/evaluate_act_proper.py --checkpoint runs/<run>/checkpoints/best.pth --episodes 50 \\
        --temporal_agg --num_envs 4 --video_dir results/videos --num_videos 3 --output results/eval.json

--output and --video_dir may contain {task} and {model}, filled in from the checkpoint. Finished
episodes are journalled in <output>.partial until the results file is written: after a crash or
Ctrl-C, rerun the same command with --resume and only the missing episodes are played.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_int, positive_int, stop_cleanly_on_signals


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint file or run folder")
    parser.add_argument("--episodes", type=positive_int, default=50, help="held-out episodes to run")
    parser.add_argument("--temporal_agg", action="store_true", help="temporal aggregation (query every step)")
    parser.add_argument("--query_freq", type=positive_int, default=None,
                        help="steps between model queries (default: chunk size, or 1 with --temporal_agg)")
    parser.add_argument(
        "--k", type=float, default=0.01,
        help="temporal aggregation weight exp(-k*i), i = 0 for the oldest prediction; > 0 favours older "
        "predictions (ACT: 0.01), < 0 newer ones",
    )
    parser.add_argument(
        "--split", choices=["validation", "test"], default="validation",
        help="seed range: validation (from 1000000; for every choice) or test (from 2000000; reported figures only)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="episode i uses the split's first seed + seed + i (default 0)")
    parser.add_argument(
        "--on_demo_states", action="store_true",
        help="diagnostic: replay the training demonstrations' initial states instead of held-out ones "
        "(under-fitting vs generalisation); results are marked and are not held-out success",
    )
    parser.add_argument("--max_steps", type=positive_int, default=500, help="step limit per episode (<= 500)")
    parser.add_argument("--num_envs", type=positive_int, default=1, help="environments rolled out together")
    parser.add_argument("--video_dir", default=None, help="folder for episode_<seed>.mp4")
    parser.add_argument("--video_camera", default=None,
                        help="camera the videos show, e.g. corner2 (default: the policy's first camera)")
    parser.add_argument("--num_videos", type=non_negative_int, default=None,
                        help="episodes to record (default 3 with --video_dir, else 0)")
    parser.add_argument("--output", default=None,
                        help="results JSON file; finished episodes are journalled in <output>.partial until it is written")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted evaluation from its <output>.partial journal")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
        format_summary,
        open_journal,
        resolve_eval_seeds,
        save_results,
    )
    from training.checkpoint import CheckpointError

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA device is available", file=sys.stderr)
        return 2
    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    num_videos = args.num_videos if args.num_videos is not None else (min(3, args.episodes) if args.video_dir else 0)
    # User mistakes surface here, before any environment exists; errors past this point are bugs.
    try:
        config = EvalConfig(
            episodes=args.episodes,
            split=args.split,
            seed=args.seed,
            max_steps=args.max_steps,
            num_envs=args.num_envs,
            temporal_agg=args.temporal_agg,
            query_freq=args.query_freq,
            k=args.k,
            video_dir=args.video_dir,
            num_videos=num_videos,
            video_camera=args.video_camera,
            device=device,
            on_demo_states=args.on_demo_states,
        )
        policy = ACTPolicy.from_checkpoint(args.checkpoint, device=device)
        policy.configure(temporal_agg=config.temporal_agg, query_freq=config.query_freq, k=config.k)
        resolve_eval_seeds(config, policy.demo_seeds)
        names = {"task": policy.task, "model": policy.model_kind}
        if config.video_dir:
            config.video_dir = config.video_dir.format(**names)
            Path(config.video_dir).mkdir(parents=True, exist_ok=True)  # fails here, not after the first episode
        output = args.output.format(**names) if args.output else None
        journal = None
        if args.resume and not output:
            raise ValueError("--resume continues the journal of an --output file; give the same --output")
        if output:
            if journal_path(output).exists() and not args.resume:
                raise ValueError(
                    f"{journal_path(output)} holds an interrupted evaluation; pass --resume to continue it, "
                    "or delete it to start afresh"
                )
            journal = open_journal(journal_path(output), policy, config)
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
        if journal is not None and journal.records:
            print(f"resuming: {len(journal.records)} finished episode(s) in {journal.path}")
        results = evaluate(policy, config, progress=not args.quiet, journal=journal)
    except KeyboardInterrupt:
        if journal is not None:
            print(f"\ninterrupted: {len(journal.records)} finished episode(s) are kept in {journal.path}; "
                  "rerun the same command with --resume", file=sys.stderr)
        else:
            print("\ninterrupted: no results written", file=sys.stderr)
        return 130
    if output:
        save_results(output, results)
        journal.remove()
    print(format_summary(results))
    if output:
        print(f"results: {output}")
    return 0


if __name__ == "__main__":
    stop_cleanly_on_signals()
    sys.exit(main())
