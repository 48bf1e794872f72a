#!/usr/bin/env python
"""Average the weights of several snapshots of one training run into one checkpoint.

Small-batch training moves the weights a lot between snapshots (at batch 8 the success rate of
one snapshot can differ by 15 points from the snapshot 2000 steps later); the mean of the last
few snapshots is a smoother policy (stochastic weight averaging). The output is an ordinary
checkpoint for scripts/evaluate_act_proper.py, with the sources listed under ``averaged_from``.

    python scripts/average_checkpoints.py --run runs/<run> --steps 13000 14000 15000 16000 17000 \\
        --output runs/<run>/checkpoints/avg_013000-017000.pth
    python scripts/average_checkpoints.py --checkpoints a.pth b.pth c.pth --output avg.pth
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pipeline.cli import Parser, positive_int


def main(argv: list[str] | None = None) -> int:
    parser = Parser(__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoints", nargs="+", help="checkpoint files, two or more")
    source.add_argument("--run", help="run folder; with --steps, its checkpoints/step_<k>.pth snapshots")
    parser.add_argument("--steps", nargs="+", type=positive_int, help="snapshot steps to average (with --run)")
    parser.add_argument("--output", required=True, help="where to write the averaged checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    args = parser.parse_args(argv)

    from training.checkpoint import CheckpointError, average_checkpoints, load_checkpoint, save_checkpoint

    if args.run is not None:
        if not args.steps:
            parser.error("--run needs --steps (the snapshots to average)")
        paths = [Path(args.run) / "checkpoints" / f"step_{step:06d}.pth" for step in args.steps]
    else:
        if args.steps:
            parser.error("--steps goes with --run")
        paths = [Path(path) for path in args.checkpoints]
    if len(paths) < 2:
        parser.error("give at least two checkpoints to average")
    output = Path(args.output)
    if output.resolve() in {path.resolve() for path in paths}:
        parser.error(f"--output {output} is one of the inputs; write the average to a new file")
    if output.exists() and not args.overwrite:
        parser.error(f"{output} exists; pass --overwrite to replace it or choose another --output")
    try:
        checkpoints = [load_checkpoint(path) for path in paths]
        averaged = average_checkpoints(checkpoints)
    except CheckpointError as error:
        parser.error(str(error))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(output, averaged)
    except OSError as error:
        parser.error(f"cannot write {output}: {error.strerror or error}")
    print(json.dumps({"output": str(output), "averaged_from": averaged["averaged_from"]}, indent=1))
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
