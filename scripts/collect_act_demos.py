#!/usr/bin/env python
"""Collect scripted MetaWorld demonstrations over randomized initial states into HDF5.

    python scripts/collect_act_demos.py --task shelf-place-v3 --num_demos 50 --output data/shelf-place-v3.hdf5
    python scripts/collect_act_demos.py --config configs/shelf_place_cpu.toml --output data/shelf.hdf5

Every flag is a field of envs.collection.CollectConfig; --config takes a recipe's [collect] table as
the defaults, and the flags given override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from pipeline.cli import (
    ConfigError,
    Parser,
    add_fields,
    build,
    config_section,
    image_size,
    non_negative_int,
    positive_int,
    stop_cleanly_on_signals,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from envs.collection import CollectConfig

    argv = sys.argv[1:] if argv is None else argv
    try:
        config_file, values = config_section(argv, "collect", CollectConfig, exclude=("output", "overwrite", "resume"))
    except ConfigError as error:
        Parser().error(str(error))
    parser = Parser(__doc__)
    parser.add_argument("--config", default=config_file, help="recipe file (configs/*.toml) whose [collect] table sets the defaults")
    parser.add_argument("--output", default=None, help="HDF5 file (default: data/<task>.hdf5)")
    add_fields(parser, CollectConfig, values=values, exclude=("output",),
               types_={"num_demos": positive_int, "image_size": image_size, "seed": non_negative_int,
                       "workers": positive_int, "steps_after_success": non_negative_int,
                       "max_attempts": non_negative_int})
    # the flag the collector has always had for fast_render = false
    parser.add_argument("--render_shadows", dest="fast_render", action="store_false",
                        help="render with MuJoCo's shadows and reflections (slower; same as --no-fast_render)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from envs import RenderBackendError, TaskNameError
    from envs.collection import CollectConfig, OutputExistsError, collect_demos
    from envs.hdf5_demos import DemoFileError

    try:
        fields = [field.name for field in dataclasses.fields(CollectConfig) if field.name != "output"]
        config = build(CollectConfig, args, fields, output=args.output or f"data/{args.task}.hdf5")
        summary = collect_demos(config, command=" ".join(["python"] + sys.argv), progress=not args.quiet)
    except (TaskNameError, ValueError, OutputExistsError, DemoFileError, RenderBackendError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output folder that cannot be made or written
        print(f"error: cannot write {error.filename or args.output}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished episodes are kept in the .partial file; rerun the same command with --resume",
            file=sys.stderr,
        )
        return 130
    print(json.dumps(summary, indent=2))
    return 0



def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    stop_cleanly_on_signals()
    sys.exit(main())


if __name__ == "__main__":
    cli()
