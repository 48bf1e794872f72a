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

from pipeline import evaluate_command
from pipeline.cli import stop_cleanly_on_signals


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return evaluate_command.parse_args(argv, __doc__)


def main(argv: list[str] | None = None) -> int:
    return evaluate_command.main(argv, __doc__)


def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    stop_cleanly_on_signals()
    sys.exit(main())


if __name__ == "__main__":
    cli()
