#!/usr/bin/env python
"""Record annotated MP4 videos of a trained policy's rollouts or of recorded demonstrations.

    python scripts/record_videos.py --checkpoint runs/<run>/checkpoints/best.pth --num_videos 3 --output_dir videos/
    python scripts/record_videos.py --dataset data/shelf-place-v3.hdf5 --num_videos 3 --output_dir videos/

Policy videos are held-out episodes (validation seeds, from 1 000 000 up) rendered from the policy's first camera
(or --video_camera, e.g. a fixed corner2 view that shows the whole scene);
demonstration videos replay the file's recorded frames of its first camera.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli import Parser, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="record policy rollouts of this checkpoint (file or run folder)")
    source.add_argument("--dataset", help="replay the demonstrations of this HDF5 file")
    parser.add_argument("--num_videos", type=positive_int, default=3, help="videos to write")
    parser.add_argument("--output_dir", default="videos", help="folder for the MP4 files")
    parser.add_argument("--temporal_agg", action="store_true", help="policy: temporal aggregation")
    parser.add_argument("--max_steps", type=positive_int, default=500, help="policy: step limit per episode")
    parser.add_argument("--seed", type=int, default=0, help="policy: episode i uses seed 1000000 + seed + i")
    parser.add_argument("--size", type=positive_int, default=256, help="video side in pixels")
    parser.add_argument("--video_camera", default=None,
                        help="policy: camera the videos show, e.g. corner2 (default: the policy's first camera)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from envs.hdf5_demos import DemoFileError
    from evaluation.rollout import EvalConfig, evaluate_checkpoint
    from evaluation.video import write_demo_videos
    from training.checkpoint import CheckpointError

    try:
        Path(args.output_dir).mkdir(parents=True, exist_ok=True)  # fails here, not after the first episode
        if args.dataset:
            paths = [str(path) for path in write_demo_videos(args.dataset, args.output_dir, args.num_videos, args.size)]
            print(json.dumps({"videos": paths}, indent=2))
            return 0
        config = EvalConfig(
            episodes=args.num_videos, seed=args.seed, max_steps=args.max_steps, temporal_agg=args.temporal_agg,
            video_dir=args.output_dir, num_videos=args.num_videos, video_size=args.size, device=args.device,
            video_camera=args.video_camera,
        )
        results = evaluate_checkpoint(args.checkpoint, config)
    except (CheckpointError, DemoFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output folder that cannot be made or written
        print(f"error: cannot write {error.filename or args.output_dir}: {error.strerror or error}", file=sys.stderr)
        return 2
    summary = [{key: record[key] for key in ("seed", "success", "steps", "video")} for record in results["per_episode"]]
    print(json.dumps({"episodes": summary}, indent=2))
    return 0


def cli() -> None:
    """The console-script entry point (pyproject.toml)."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
