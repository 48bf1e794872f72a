#!/usr/bin/env python
"""Collect scripted MetaWorld demonstrations over randomized initial states into HDF5.

    python scripts/collect_act_demos.py --task shelf-place-v3 --num_demos 50 --output data/shelf-place-v3.hdf5
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, image_size, non_negative_int, positive_int, stop_cleanly_on_signals


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--task", default="shelf-place-v3", help="MetaWorld v3 task name")
    parser.add_argument("--num_demos", type=positive_int, default=50, help="successful episodes to keep")
    parser.add_argument("--output", default=None, help="HDF5 file (default: data/<task>.hdf5)")
    parser.add_argument("--cameras", nargs="+", default=["behindGripper"], help="camera names to record")
    parser.add_argument("--image_size", type=image_size, default=128, help="square image side in pixels")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="first episode seed (episode k: seed + k)")
    parser.add_argument("--workers", type=positive_int, default=1, help="parallel collection processes")
    parser.add_argument(
        "--steps_after_success", type=non_negative_int, default=20,
        help="steps kept after the first success so a policy learns to finish (default 20)",
    )
    parser.add_argument(
        "--action_noise", type=float, default=0.0,
        help="std of Gaussian noise added to the executed hand motion (labels stay the clean expert "
        "actions; DART-style, teaches recovery). 0 = clean demos",
    )
    parser.add_argument(
        "--grasp_depth", type=float, default=0.0,
        help="shelf-place-v3: metres the expert descends further onto the block before lifting it "
        "(wider height margin for a learned grasp; 0.015 tried). 0 = MetaWorld's expert",
    )
    parser.add_argument(
        "--grasp_hold", type=int, default=0,
        help="shelf-place-v3: > 0 makes the expert descend with open fingers, close them standing still for "
        "this many steps (10 tried), then lift, so the lift follows the fingers, not the hand's height. 0 = MetaWorld's expert",
    )
    parser.add_argument("--max_attempts", type=non_negative_int, default=0, help="seeds to try (0: 2*num_demos+20)")
    parser.add_argument("--render_shadows", action="store_true", help="render with MuJoCo's shadows and reflections (slower)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted collection")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from envs import RenderBackendError, TaskNameError
    from envs.collection import CollectConfig, OutputExistsError, collect_demos
    from envs.hdf5_demos import DemoFileError

    try:
        config = CollectConfig(
            task=args.task,
            num_demos=args.num_demos,
            output=args.output or f"data/{args.task}.hdf5",
            cameras=tuple(args.cameras),
            image_size=args.image_size,
            seed=args.seed,
            workers=args.workers,
            steps_after_success=args.steps_after_success,
            fast_render=not args.render_shadows,
            overwrite=args.overwrite,
            resume=args.resume,
            max_attempts=args.max_attempts,
            action_noise=args.action_noise,
            grasp_depth=args.grasp_depth,
            grasp_hold=args.grasp_hold,
        )
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


if __name__ == "__main__":
    stop_cleanly_on_signals()
    sys.exit(main())
