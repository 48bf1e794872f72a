"""Success rate against training steps, from the weight snapshots a run keeps (``--save_every``).

Snapshots are scored on seeds of their own range (``TRAINING_EVAL_SEED_OFFSET``), disjoint
from the demonstrations and from the default held-out test seeds, so a curve used to pick a
training length never sees the test episodes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from evaluation.rollout import EvalConfig, evaluate_checkpoint
from evaluation.training_rollouts import TRAINING_EVAL_SEED_OFFSET
from training.atomic import atomic_path

SNAPSHOT = re.compile(r"step_(\d+)\.pth$")


def snapshots(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of every ``checkpoints/step_<k>.pth`` of a run, by step."""
    found = []
    for path in (Path(run_dir) / "checkpoints").glob("step_*.pth"):
        match = SNAPSHOT.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def success_curve(
    run_dir: str | os.PathLike,
    episodes: int,
    temporal_agg: bool,
    num_envs: int = 5,
    progress: bool = True,
    every: int = 1,
    max_steps: int = 500,
) -> dict[str, Any]:
    """Evaluates the snapshots of `run_dir` whose step is a multiple of `every`, all on the same seeds."""
    seeds = [TRAINING_EVAL_SEED_OFFSET + i for i in range(episodes)]
    points = []
    model_kind = None
    for step, path in snapshots(run_dir):
        if step % every:
            continue
        results = evaluate_checkpoint(
            path, EvalConfig(seeds=seeds, num_envs=num_envs, temporal_agg=temporal_agg, max_steps=max_steps),
            progress=progress,
        )
        model_kind = results["checkpoint"].get("model_kind")
        points.append(_curve_point(step, results))
    if not points:
        raise ValueError(f"{run_dir} holds no checkpoints/step_<k>.pth snapshots (train with --save_every)")
    return {"run_dir": str(run_dir), "model_kind": model_kind, "temporal_agg": temporal_agg, "points": points}


def _curve_point(step: int, results: dict[str, Any]) -> dict[str, Any]:
    """The part of an evaluation result a curve keeps, at training step `step`."""
    keys = ("success_rate", "successes", "episodes", "wilson_ci_95")
    return {"step": step, **{key: results[key] for key in keys}}


def curves_from_results(paths: list[str | os.PathLike]) -> list[dict[str, Any]]:
    """Curves from JSON files already written: curve files (``*__curve_*.json``) are taken as they are;
    evaluator results (``evaluate_act_proper.py --output``) become points at their checkpoint's step,
    one curve per (run folder, model, temporal aggregation or not)."""
    import json

    curves: list[dict[str, Any]] = []
    grouped: dict[tuple[str, str, bool], dict[str, Any]] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        if "points" in data:
            curves.append(data)
            continue
        if "checkpoint" not in data or "success_rate" not in data:
            raise ValueError(f"{path} is neither a curve file nor an evaluate_act_proper.py result")
        checkpoint = data["checkpoint"]
        run_dir = str(Path(checkpoint["path"]).parent.parent)
        key = (run_dir, checkpoint.get("model_kind"), bool(data["settings"]["temporal_agg"]))
        curve = grouped.setdefault(key, {"run_dir": key[0], "model_kind": key[1], "temporal_agg": key[2], "points": []})
        curve["points"].append(_curve_point(checkpoint["step"], data))
    for curve in grouped.values():
        curve["points"].sort(key=lambda point: point["step"])
        curves.append(curve)
    return curves


def plot_curves(curves: list[dict[str, Any]], path: str | os.PathLike, title: str = "") -> None:
    """Success rate (with 95% Wilson band) against steps, one line per curve; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    several_runs = len({curve.get("run_dir") for curve in curves}) > 1
    for curve in curves:
        steps = [p["step"] for p in curve["points"]]
        rates = [p["success_rate"] for p in curve["points"]]
        low = [p["wilson_ci_95"][0] for p in curve["points"]]
        high = [p["wilson_ci_95"][1] for p in curve["points"]]
        label = f"{curve['model_kind']} ({'temporal agg.' if curve['temporal_agg'] else 'chunks'})"
        if several_runs:
            label += f", {Path(curve['run_dir']).name}"
        axis.plot(steps, rates, "o-", label=label)
        axis.fill_between(steps, low, high, alpha=0.15)
    axis.set_xlabel("training step")
    axis.set_ylabel("success rate")
    axis.set_ylim(-0.02, 1.02)
    axis.grid(alpha=0.3)
    # below the axes: run names are long, and inside they would hide the points
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize="small")
    if title:
        axis.set_title(title, fontsize="medium")
    with atomic_path(path, suffix=".tmp.png") as tmp:
        figure.savefig(tmp, dpi=90, bbox_inches="tight")
    plt.close(figure)
