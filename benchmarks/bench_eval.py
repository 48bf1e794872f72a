#!/usr/bin/env python
"""Evaluation throughput benchmark; prints JSON.

On a freshly initialised (untrained) ACT checkpoint (hidden 256, one 128 px camera, chunk 50) it
measures episodes/minute of `evaluation.rollout.evaluate` with 1 and 4 environments rolled out
together (in this process, or with --workers in worker processes that render side by side), and the model's inference latency per environment-step when the 4 environments' queries
are batched versus sent one at a time. Untrained policies never succeed, so every episode runs the
full --max_steps, which keeps the numbers comparable.

    python benchmarks/bench_eval.py --episodes 8 --max_steps 100 --device cpu
    python benchmarks/bench_eval.py --modes chunk --num_envs 4 --workers 0 1 2 --episodes 16   # parallel evaluation
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

from pipeline.cli import Parser, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--episodes", type=positive_int, default=8, help="episodes per measurement")
    parser.add_argument("--max_steps", type=positive_int, default=100, help="steps per episode")
    parser.add_argument("--num_envs", type=positive_int, nargs="+", default=[1, 4], help="batch sizes to compare")
    parser.add_argument("--workers", type=int, nargs="+", default=[0],
                        help="evaluation worker processes to compare (0 = environments in this process); "
                        "with workers > 0 each measurement uses max(num_envs, workers) environments")
    parser.add_argument("--modes", nargs="+", choices=["ta", "chunk"], default=["ta", "chunk"],
                        help="ta: query every step (temporal aggregation); chunk: every 50 steps")
    parser.add_argument("--latency_repeats", type=positive_int, default=20, help="timed model calls per batch size")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    return parser.parse_args(argv)


def bench_checkpoint(path: str) -> None:
    """Saves an untrained benchmark-size ACT with identity normalisation to `path`."""
    import torch

    from models import ACTConfig, build_model
    from training.checkpoint import save_checkpoint
    from training.normalizer import Normalizer

    config = ACTConfig(hidden_dim=256, n_heads=8, dim_feedforward=1024, chunk_size=50, image_size=128,
                       camera_names=("behindGripper",))
    torch.manual_seed(0)
    model = build_model("standard", config)
    zeros, ones = torch.zeros(4), torch.ones(4)
    save_checkpoint(path, {
        "model_kind": "standard",
        "model_config": config.to_dict(),
        "model_state": model.state_dict(),
        "normalizer": Normalizer(zeros, ones, zeros, ones).state_dict(),
        "env": {"task": "shelf-place-v3", "cameras": ["behindGripper"], "image_size": 128, "fast_render": True,
                "qpos_dim": 4, "action_dim": 4, "demo_seeds": [], "dataset": ""},
        "step": 0,
        "code_version": "bench",
        "train_config": {},
    })


def inference_latency(policy, batch_size: int, repeats: int) -> float:
    """Milliseconds of model time per environment-step for `batch_size` environments in one call."""
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    size = policy.image_size
    qpos = rng.standard_normal((batch_size, policy.qpos_dim)).astype(np.float32)
    images = rng.integers(0, 256, (batch_size, len(policy.cameras), size, size, 3), dtype=np.uint8)
    policy.predict_chunks(qpos, images)  # warm-up
    if policy.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        policy.predict_chunks(qpos, images)
    if policy.device.type == "cuda":
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - start) / (repeats * batch_size)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from evaluation.policy import ACTPolicy
    from evaluation.rollout import EvalConfig, evaluate

    device = "cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu"
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.pth")
        bench_checkpoint(path)
        policy = ACTPolicy.from_checkpoint(path, device=device)

    rollouts = []
    for mode in args.modes:
        for num_envs, workers in ((n, w) for n in args.num_envs for w in args.workers):
            num_envs = max(num_envs, workers)
            config = EvalConfig(episodes=args.episodes, max_steps=args.max_steps, num_envs=num_envs,
                                workers=workers, temporal_agg=mode == "ta")
            results = evaluate(policy, config, progress=False)
            rollouts.append({
                "mode": mode,
                "num_envs": num_envs,
                "workers": workers,
                "setup_s": round(results["setup_s"], 2),
                "episodes_per_minute": round(results["episodes_per_minute"], 2),
                "env_steps_per_s": round(args.episodes * args.max_steps / results["wall_s"], 1),
                "wall_s": round(results["wall_s"], 2),
            })

    one_at_a_time = inference_latency(policy, 1, args.latency_repeats)
    batch = max(args.num_envs)
    batched = inference_latency(policy, batch, args.latency_repeats)
    print(json.dumps({
        "setup": {
            "model": "standard ACT, hidden 256, 4 encoder layers, chunk 50, 1 camera at 128 px (untrained)",
            "episodes": args.episodes, "max_steps": args.max_steps, "device": device,
            "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
        },
        "rollouts": rollouts,
        "inference_ms_per_env_step": {
            "one_at_a_time": round(one_at_a_time, 3),
            f"batched_{batch}": round(batched, 3),
            "speedup": round(one_at_a_time / batched, 2),
        },
    }, indent=2))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
