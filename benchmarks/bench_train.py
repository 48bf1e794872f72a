#!/usr/bin/env python
"""Training and inference throughput of ACT models; prints JSON.

For each configuration (the ACT paper's at 128 and 224 px, and the small CPU
recipe at 128 px), on the CPU and on a GPU when torch sees one: training
samples/s at batch 8 (forward, loss, backward, AdamW step) and peak memory, and
inference latency (z = 0, no grad) at batch 1 and 16. Each measurement runs in a
fresh subprocess so peak memory is that configuration's own. Inputs are random
tensors of the right shapes: this measures the model, not data loading.

    python benchmarks/bench_train.py                # all configurations
    python benchmarks/bench_train.py --steps 5      # quicker, noisier
    python benchmarks/bench_train.py --configs small_96px_chunk50 --amp off bf16   # bfloat16 autocast
    python benchmarks/bench_train.py --configs small_96px_chunk50 --amp bf16 --adamw loop fused   # optimiser step
    python benchmarks/bench_train.py --configs small_96px_2cams_chunk50 --batch_size 64 --compile off on   # torch.compile
    python benchmarks/bench_train.py --configs small_96px_chunk10 --amp off --profile 15   # where an fp32 step goes

Every result splits the step into forward (with the loss), backward and optimiser time; --profile K
adds torch.profiler's K operators with the most self CPU time per step, over a second set of steps.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time

import pipeline  # noqa: F401  (sets OMP_WAIT_POLICY=PASSIVE before torch loads)

CONFIGS = {
    "paper_128px": {"image_size": 128},
    "paper_224px": {"image_size": 224},
    "small_128px": {"image_size": 128, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 50},
    "small_128px_2cams": {
        "image_size": 128, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 50,
        "camera_names": ["behindGripper", "topview"],
    },
    # one camera, the sizes the CPU ablations use (README, Levers): what a step costs at each
    "small_96px_chunk50": {"image_size": 96, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 50},
    "small_96px_chunk10": {"image_size": 96, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 10},
    "small_64px_chunk10": {"image_size": 64, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 10},
    # two cameras (hand + fixed topview) at 64 px: about the pixels of one 96 px camera
    "small_64px_2cams_chunk50": {
        "image_size": 64, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 50,
        "camera_names": ["behindGripper", "topview"],
    },
    "small_96px_2cams_chunk50": {
        "image_size": 96, "hidden_dim": 256, "dim_feedforward": 1024, "chunk_size": 50,
        "camera_names": ["behindGripper", "topview"],
    },
}


def measure(
    name: str, device_name: str, steps: int, batch_size: int, amp: str = "off", adamw: str = "fused", compiled: str = "off",
    profile: int = 0, channels_last: bool = False,
) -> dict:
    import resource

    import torch

    from models import ACTConfig, build_model
    from training.loss import forward_and_loss
    from training.trainer import build_optimizer

    device = torch.device(device_name)
    config = ACTConfig(**CONFIGS[name])
    model = build_model("standard", config).to(device)
    if channels_last:  # the backbone's convolutions on NHWC tensors (images are converted in the model's input)
        model.backbone.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, 1e-4, 1e-4, 1e-4, fused=adamw == "fused")  # as the trainer
    train_model = torch.compile(model) if compiled == "on" else model  # as the trainer's --compile

    def batch(size: int) -> tuple:
        images = torch.randn(size, config.num_cameras, 3, config.image_size, config.image_size, device=device)
        if channels_last:  # (B, N, 3, H, W) stored with channels innermost, as NHWC per camera
            images = images.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        return (
            torch.randn(size, config.state_dim, device=device),
            images,
            torch.randn(size, config.chunk_size, config.action_dim, device=device),
            torch.zeros(size, config.chunk_size, dtype=torch.bool, device=device),
        )

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    qpos, images, actions, is_pad = batch(batch_size)
    model.train()

    def train_step() -> tuple[float, float, float]:
        """One step as the trainer runs it; its forward, backward and optimiser seconds."""
        began = time.perf_counter()
        loss = forward_and_loss(train_model, qpos, images, actions, is_pad, config.kl_weight, amp)["loss"]
        sync()
        forward_end = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        sync()
        backward_end = time.perf_counter()
        optimizer.step()
        sync()
        return forward_end - began, backward_end - forward_end, time.perf_counter() - backward_end

    compile_start = time.perf_counter()
    for _ in range(2):  # two warm-up steps (with --compile: the compilation)
        train_step()
    sync()
    start = time.perf_counter()
    warmup_s = start - compile_start
    phases = [train_step() for _ in range(steps)]
    sync()
    train_s = (time.perf_counter() - start) / steps
    forward_s, backward_s, optimizer_s = (sum(phase[index] for phase in phases) for index in range(3))
    result = {
        "config": name,
        "device": device_name,
        "amp": amp,
        "adamw": adamw,
        "compile": compiled,
        "channels_last": channels_last,
        "warmup_s": round(warmup_s, 1),
        "forward_s": round(forward_s / steps, 4),
        "backward_s": round(backward_s / steps, 4),
        "optimizer_step_s": round(optimizer_s / steps, 4),
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "train_step_s": round(train_s, 3),
        "train_samples_per_s": round(batch_size / train_s, 1),
    }
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as profiler

        with profiler(activities=[ProfilerActivity.CPU]) as recorded:
            for _ in range(steps):
                train_step()
        table = sorted(recorded.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)
        total = sum(event.self_cpu_time_total for event in table)
        result["profile_self_cpu_ms_per_step"] = round(total / 1000 / steps, 1)
        result["profile_top"] = [
            {"op": event.key, "self_cpu_ms_per_step": round(event.self_cpu_time_total / 1000 / steps, 2),
             "share": round(event.self_cpu_time_total / total, 3), "calls_per_step": round(event.count / steps, 1)}
            for event in table[:profile]
        ]
    model.eval()
    with torch.no_grad():
        for size in (1, 16):
            qpos_i, images_i, _, _ = batch(size)
            model(qpos_i, images_i)
            sync()
            start = time.perf_counter()
            repeats = max(3, steps)
            for _ in range(repeats):
                model(qpos_i, images_i)
            sync()
            result[f"inference_ms_batch{size}"] = round(1000 * (time.perf_counter() - start) / repeats, 1)
    if device.type == "cuda":
        result["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    else:
        result["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per configuration")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument(
        "--amp", nargs="+", default=["off"], choices=["off", "bf16"],
        help="training precision(s) to measure; bf16 = the trainer's --amp bf16 (inference stays fp32)",
    )
    parser.add_argument(
        "--adamw", nargs="+", default=["fused"], choices=["fused", "loop"],
        help="AdamW implementation(s) to measure: fused (the trainer's) or loop (torch's per-tensor CPU default)",
    )
    parser.add_argument(
        "--devices", nargs="+", choices=["cpu", "cuda"], default=None,
        help="devices to measure (default: the CPU, and the GPU when torch sees one)",
    )
    parser.add_argument(
        "--compile", nargs="+", default=["off"], choices=["off", "on"],
        help="torch.compile the training forward pass (the trainer's --compile); warmup_s holds the compilation",
    )
    parser.add_argument("--channels_last", nargs="+", default=["off"], choices=["off", "on"],
                        help="backbone weights and images in channels-last (NHWC) memory format")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="add the K operators with the most self CPU time per step (torch.profiler)")
    parser.add_argument("--one", nargs=5, metavar=("CONFIG", "DEVICE", "AMP", "ADAMW", "COMPILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.steps, args.batch_size, *args.one[2:], profile=args.profile,
                                 channels_last=args.channels_last == ["on"])))
        return
    import torch

    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        parser.error("--devices cuda asked for, but torch sees no CUDA GPU")
    results = []
    for device in devices:
        for name in args.configs:
            for amp, adamw, compiled, layout in itertools.product(args.amp, args.adamw, args.compile, args.channels_last):
                done = subprocess.run(
                    [sys.executable, __file__, "--one", name, device, amp, adamw, compiled, "--steps", str(args.steps),
                     "--batch_size", str(args.batch_size), "--profile", str(args.profile), "--channels_last", layout],
                    capture_output=True, text=True, check=False,
                )
                if done.returncode != 0:
                    results.append({
                        "config": name, "device": device, "amp": amp, "adamw": adamw, "compile": compiled,
                        "channels_last": layout == "on",
                        "error": done.stderr.strip().splitlines()[-1:],
                    })
                else:
                    results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(json.dumps({
        "batch_size": args.batch_size,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
