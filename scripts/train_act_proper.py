#!/usr/bin/env python
"""Train Standard or Modified ACT on a demonstration HDF5 file.

    python scripts/train_act_proper.py --model modified --data data/shelf-place-v3.hdf5
    python scripts/train_act_proper.py --resume runs/<run folder>      # continue an interrupted run

    python scripts/train_act_proper.py --config configs/shelf_place_cpu.toml --model standard --data D.hdf5
    torchrun --standalone --nproc_per_node 2 scripts/train_act_proper.py ...   # data-parallel, same batch

Every flag is a field of training.trainer.TrainConfig or models.ACTConfig (the model flags default to the
ACT paper's values); --config takes a recipe's [train] and [model] tables as the defaults, and the flags
given override them.
"""

from __future__ import annotations

import argparse
import sys

from pipeline import train_command
from pipeline.cli import stop_cleanly_on_signals


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return train_command.parse_args(argv, __doc__)


def main(argv: list[str] | None = None) -> int:
    return train_command.main(argv, __doc__)


def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    stop_cleanly_on_signals()
    sys.exit(main())


if __name__ == "__main__":
    cli()
