#!/usr/bin/env python
"""Data-parallel training throughput: 1 process against N under torchrun, same recipe and global batch; prints JSON.

Each measurement is a real training run (`scripts/train_act_proper.py` on a recipe's [train] and
[model] tables, launched by torchrun), timed from its metrics.jsonl: steps/s over the log windows
after the first (which holds start-up), so model building and data loading are not counted. With N
processes each uses threads/N threads, so every measurement has the same cores.

    python benchmarks/bench_ddp.py --data data/shelf-place-v3__shelf_place_cpu.hdf5 \\
        --config configs/shelf_place_cpu.toml --processes 1 2 --threads 2 --steps 150 --amp off
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.cli import Parser, positive_int

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--data", required=True, help="demonstration HDF5 file")
    parser.add_argument("--config", default="configs/shelf_place_cpu.toml", help="recipe whose [train] and [model] apply")
    parser.add_argument("--model", default="standard", choices=["standard", "modified"])
    parser.add_argument("--processes", type=positive_int, nargs="+", default=[1, 2], help="process counts to compare")
    parser.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1,
                        help="threads in all: each of N processes gets threads/N")
    parser.add_argument("--steps", type=positive_int, default=150, help="training steps per measurement")
    parser.add_argument("--log_every", type=positive_int, default=25, help="steps per timed window")
    parser.add_argument("--amp", choices=["off", "bf16", "auto"], default="auto")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--rounds", type=positive_int, default=1, help="interleaved repetitions of every count")
    return parser.parse_args(argv)


def measure(args: argparse.Namespace, processes: int, folder: Path, name: str) -> dict:
    threads = max(1, args.threads // processes)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               str(ROOT / "scripts" / "train_act_proper.py"), "--config", args.config, "--model", args.model,
               "--data", args.data, "--steps", str(args.steps), "--log_every", str(args.log_every),
               "--val_every", str(args.steps), "--save_every", "0", "--amp", args.amp, "--device", args.device,
               "--output_dir", str(folder), "--run_name", name, "--quiet"]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    started = time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, env=environment)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"error: the {processes}-process run failed:\n{done.stderr[-2000:]}")
    records = [json.loads(line) for line in (folder / name / "metrics.jsonl").read_text().splitlines()]
    rates = [r["perf/steps_per_s"] for r in records if "perf/steps_per_s" in r][1:]  # the first holds start-up
    config = json.loads((folder / name / "config.json").read_text())["train_config"]
    return {"processes": processes, "threads_each": threads, "steps_per_s": round(sum(rates) / len(rates), 3),
            "windows": [round(rate, 3) for rate in rates], "wall_s": round(wall, 1),
            "global_batch": config["batch_size"], "amp": config["amp"]}


def main(argv: list[str] | None = None) -> int:
    from training.trainer import machine_description

    args = parse_args(argv)
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(args.rounds):
            for processes in args.processes:
                results.append(measure(args, processes, Path(scratch), f"p{processes}_r{round_index}"))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    by_count = {count: [r["steps_per_s"] for r in results if r["processes"] == count] for count in args.processes}
    mean = {count: sum(rates) / len(rates) for count, rates in by_count.items()}
    base = mean[args.processes[0]]
    print(json.dumps({
        "benchmark": "ddp_training",
        "command": "python benchmarks/bench_ddp.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "recipe": args.config, "model": args.model, "data": args.data, "steps": args.steps, "threads": args.threads,
        "machine": machine_description(),
        "runs": results,
        "mean_steps_per_s": {str(count): round(rate, 3) for count, rate in mean.items()},
        "speedup_over_first": {str(count): round(rate / base, 3) for count, rate in mean.items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
