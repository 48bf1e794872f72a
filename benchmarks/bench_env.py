#!/usr/bin/env python
"""Environment throughput benchmark; prints JSON.

Measures steps/s of the MetaWorld wrapper driven by the scripted expert:
physics only, physics + one camera at 64/128/224 px with MuJoCo's default
rendering (shadows, reflections) and with our fast settings, and collection
frames/s of the real collector with 1 and 2 worker processes.

    python benchmarks/bench_env.py --task shelf-place-v3 --steps 300
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time

import pipeline  # noqa: F401  (sets OMP_WAIT_POLICY=PASSIVE before torch loads)


def time_steps(task: str, camera: str | None, size: int, fast: bool, steps: int, seed: int = 0) -> float:
    """Frames/s of expert-driven steps (rendering one camera unless `camera` is None)."""
    import numpy as np

    from envs import EnvConfig, MetaWorldEnv
    from envs.experts import expert_action, make_expert

    config = EnvConfig(task=task, cameras=(camera or "corner2",), image_size=size, fast_render=fast)
    with MetaWorldEnv(config) as env:
        if camera is None:  # physics only: never call the renderer
            env._observation = lambda state: {"env_state": state.astype(np.float64)}
        expert = make_expert(task)
        obs = env.reset(seed)
        env.step(expert_action(expert, obs["env_state"]))  # warm-up: creates the GL context
        start, done = time.perf_counter(), 0
        while done < steps:
            obs = env.reset(seed + done + 1)
            for _ in range(min(150, steps - done)):
                obs, *_ = env.step(expert_action(expert, obs["env_state"]))
                done += 1
        return steps / (time.perf_counter() - start)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) and its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="shelf-place-v3")
    parser.add_argument("--camera", default="behindGripper")
    parser.add_argument("--steps", type=int, default=300, help="steps per measurement")
    parser.add_argument("--demos", type=int, default=10, help="demos per collection measurement")
    args = parser.parse_args()
    results: dict = {
        "task": args.task,
        "camera": args.camera,
        "steps_per_measurement": args.steps,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "gl_backend": os.environ.get("MUJOCO_GL"),
    }
    from envs.collection import CollectConfig, collect_demos

    results["gl_backend"] = os.environ.get("MUJOCO_GL")
    results["physics_only_steps_per_s"] = round(time_steps(args.task, None, 64, True, args.steps * 3), 1)
    render = {}
    for size in (64, 128, 224):
        for fast in (False, True):
            key = f"{size}px_{'fast' if fast else 'default'}"
            render[key] = round(time_steps(args.task, args.camera, size, fast, args.steps), 1)
    results["physics_and_render_frames_per_s"] = render
    # The real collector (expert, rendering, HDF5 writes, process start-up included).
    # CPU time over wall time says how many cores a configuration keeps busy: Mesa's llvmpipe
    # rasterises with several threads, so even one worker can use more than one core.
    workers = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (1, 2):
            cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
            summary = collect_demos(
                CollectConfig(task=args.task, num_demos=args.demos, cameras=(args.camera,), image_size=128,
                              workers=count, output=f"{folder}/bench_{count}.hdf5"),
                progress=False,
            )
            workers[f"{count}_workers_frames_per_s"] = summary["frames_per_s"]
            cores = (_cpu_seconds() - cpu_before) / (time.perf_counter() - wall_before)
            workers[f"{count}_workers_cpu_cores_busy"] = round(cores, 2)
    workers["speedup_2_vs_1"] = round(workers["2_workers_frames_per_s"] / workers["1_workers_frames_per_s"], 2)
    # The most a second worker can add when one worker already keeps this many cores busy.
    workers["speedup_bound_from_cores"] = round(os.cpu_count() / workers["1_workers_cpu_cores_busy"], 2)
    results[f"collection_128px_fast_{args.demos}_demos"] = workers
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
