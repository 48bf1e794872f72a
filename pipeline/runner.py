"""The recipe runner: collect → train → average → evaluate, for one recipe, task, model and seed.

Every stage is resumable and skipped when its output exists: rerunning the same command after a
crash, a Ctrl-C or a kill continues the unfinished stage (a ``.partial`` demo file, the run's
``last.pth``, an evaluation's ``.partial`` journal). A demo file is collected under a lock, so calls
side by side that share it (Standard and Modified of one recipe) collect it once; a run folder is
held by one runner at a time. A demo file or run folder that exists with other settings than the
recipe's is refused, never reused or overwritten.

Layout under ``root``: ``data/<demo file>``, ``runs/<run name>/`` (the trainer's run folder, plus
``recipe.json`` and ``timings.json``), ``results/<run name>__<split>__<mode>.json``.
"""

from __future__ import annotations

import fcntl
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from envs.hdf5_demos import PARTIAL_SUFFIX, validate_demo_file
from pipeline.cli import ConfigError
from pipeline.recipe import Recipe, collection_differences, stored_differences
from training.atomic import write_json


class StageError(RuntimeError):
    """A stage cannot run as asked (its output exists with other settings, a lock is held); the message says what to do."""


@contextmanager
def file_lock(path: Path, wait: bool, what: str) -> Iterator[None]:
    """An exclusive flock on `path` (created): waits for it when `wait`, else StageError if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise StageError(f"another process is running {what}; wait for it to finish") from None
            print(f"waiting for another process running {what}", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class Timings:
    """Wall seconds per stage, accumulated over every call that worked on the run (``timings.json``): collect,
    train, and eval_<split>_<mode> (each split's evaluations apart, so a result's end-to-end time counts its own)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, float] = json.loads(path.read_text()) if path.exists() else {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.values[name] = round(self.values.get(name, 0.0) + time.perf_counter() - start, 1)
            write_json(self.path, self.values)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda but no CUDA device is available")
    return device


def default_threads(recipe: Recipe, device: str) -> int:
    """One torch thread for bf16 training on a CPU with native bf16 (as fast per step as two, so two
    runs share 2 cores), else torch's own default (0)."""
    from training.trainer import resolve_amp

    amp = resolve_amp(recipe.train.get("amp", "off"), torch.device(device))
    return 1 if device == "cpu" and amp == "bf16" else 0


def run_recipe(recipe: Recipe, root: str | Path = ".", device: str = "auto", threads: int | None = None,
               progress: bool = True) -> list[Path]:
    """Runs every stage of `recipe` under `root`; returns the result files (one per mode)."""
    root = Path(root)
    device = resolve_device(device)
    threads = default_threads(recipe, device) if threads is None else threads
    if threads > 0:
        torch.set_num_threads(threads)
    data = root / "data" / recipe.data_name
    run_dir = root / "runs" / recipe.run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"recipe {recipe.name} ({recipe.source}), sized for: {recipe.sized_for or 'unstated'}\n"
          f"{recipe.model} ACT on {recipe.task}; device {device}, {torch.get_num_threads()} torch thread(s)"
          + "".join(f"\n{recipe.task}'s own setting: {key} = {value!r}" for key, value in recipe.task_settings.items()),
          flush=True)
    with file_lock(run_dir / ".runner.lock", wait=False, what=f"the recipe for {run_dir}"):
        recorded = run_dir / "recipe.json"
        if recorded.exists() and json.loads(recorded.read_text()).get("run_identity") != recipe.run_identity():
            raise StageError(f"{run_dir} was made by another recipe or overrides (see {recorded}); "
                             "rerun with the same ones, or pass other overrides for a new run")
        write_json(recorded, {**recipe.to_dict(), "run_identity": recipe.run_identity()})
        timings = Timings(run_dir / "timings.json")
        with timings.stage("collect"):
            collect(recipe, data, progress)
        with timings.stage("train"):
            train(recipe, data, run_dir, device, progress)
        weights = average(recipe, run_dir)
        outputs = []
        for mode in recipe.modes:
            with timings.stage(f"eval_{recipe.eval.get('split', 'validation')}_{mode}"):
                outputs.append(evaluate(recipe, weights, root / "results" / recipe.result_name(mode), mode,
                                        run_dir, device, timings, progress))
        return outputs


def collect(recipe: Recipe, data: Path, progress: bool) -> None:
    from envs.collection import collect_demos

    print(f"== 1/4 demonstrations: {data}", flush=True)
    with file_lock(Path(f"{data}.lock"), wait=True, what=f"the collection of {data}"):
        if data.exists():
            info = validate_demo_file(data)
            stored = json.loads(info.attrs.get("collect_config", "{}"))
            differ = collection_differences(recipe, stored)
            if differ:
                raise StageError(f"{data} exists but was collected with other settings ({'; '.join(differ)}); "
                                 "move it away or use another recipe name")
            print("exists, skipping collection", flush=True)
            return
        partial = Path(f"{data}{PARTIAL_SUFFIX}")
        command = " ".join(["python", *sys.argv])
        collect_demos(recipe.collect_config(str(data), resume=partial.exists()), command=command, progress=progress)


def train(recipe: Recipe, data: Path, run_dir: Path, device: str, progress: bool) -> None:
    from training.trainer import Trainer

    config = recipe.train_config(str(data), str(run_dir.parent), device)
    print(f"== 2/4 training: {run_dir} ({config.steps} steps at batch {config.batch_size})", flush=True)
    if (run_dir / "checkpoints" / "last.pth").exists():
        stored = json.loads((run_dir / "config.json").read_text())  # the run's settings, written when it started
        differ = stored_differences(recipe, stored["train_config"], stored["model_config"])
        if differ or stored["model_kind"] != recipe.model:
            raise StageError(f"{run_dir} holds a run with other settings ({'; '.join(differ) or 'model kind'}); "
                             "move it away or pass other overrides for a new run")
        trainer = Trainer.resume(run_dir, expected_model=recipe.model, steps=config.steps)
        if trainer.step >= config.steps:
            trainer.release()
            print(f"trained: step {trainer.step}, skipping training", flush=True)
            return
        print(f"resuming at step {trainer.step}", flush=True)
    else:
        if (run_dir / "config.json").exists():
            raise StageError(f"{run_dir} holds a run that stopped before its first checkpoint (no last.pth); "
                             "delete the folder and rerun")
        trainer = Trainer.start(config, dict(recipe.model_settings))
    print(f"{trainer.config.model} ACT, amp {trainer.config.amp}, cameras {', '.join(trainer.model_config.camera_names)} "
          f"at {trainer.model_config.image_size} px, chunk {trainer.model_config.chunk_size}", flush=True)
    trainer.run(progress=progress)


def average(recipe: Recipe, run_dir: Path) -> Path:
    from training.checkpoint import average_checkpoints, load_checkpoint, save_checkpoint

    steps = recipe.snapshot_steps
    if not steps:
        print("== 3/4 weights: last.pth", flush=True)
        return run_dir / "checkpoints" / "last.pth"
    output = run_dir / "checkpoints" / f"avg_{steps[0]}-{steps[-1]}.pth"
    print(f"== 3/4 weights: the mean of the snapshots at steps {steps[0]} to {steps[-1]}: {output}", flush=True)
    if not output.exists():
        checkpoints = [load_checkpoint(run_dir / "checkpoints" / f"step_{step:06d}.pth") for step in steps]
        save_checkpoint(output, average_checkpoints(checkpoints))
    return output


def evaluate(recipe: Recipe, weights: Path, output: Path, mode: str, run_dir: Path, device: str,
             timings: Timings, progress: bool) -> Path:
    from evaluation.policy import ACTPolicy
    from evaluation.rollout import evaluate_to_file, format_summary

    config = recipe.eval_config(temporal_agg=mode == "ta", device=device, video_dir=str(run_dir / f"videos_{mode}"))
    print(f"== 4/4 evaluation, {'temporal aggregation' if mode == 'ta' else 'chunk execution'}: "
          f"{config.episodes} {config.split} episodes -> {output}", flush=True)
    if output.exists():
        print(f"{output} exists, skipping this evaluation", flush=True)
        return output
    policy = ACTPolicy.from_checkpoint(weights, device=device)
    output.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {"recipe": recipe.to_dict(), "timings_s": timings.values}
    results = evaluate_to_file(policy, config, output, resume=True, progress=progress, extra=extra)
    print(format_summary(results), flush=True)
    return output
