"""Tables of results built from result files alone (what scripts/results_table.py prints)."""

from __future__ import annotations

import os
from typing import Any

from training.atomic import atomic_path


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    low, high = result["wilson_ci_95"]
    return f"{result['successes']}/{result['episodes']} [{low:.2f}, {high:.2f}]"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f} min"


def _end_to_end(modes: dict[str, dict[str, Any]], train_s: float | None, evaluation_s: float) -> float | None:
    """Collection (the runner's timings_s) + training (the checkpoint's) + this row's evaluations; None unless
    the runner collected the demos and the checkpoint knows its training time."""
    timings = next((result["timings_s"] for result in modes.values() if result.get("timings_s")), None)
    if not timings or "collect" not in timings or train_s is None:
        return None
    return timings["collect"] + train_s + evaluation_s


def _machine(checkpoint: dict[str, Any]) -> str:
    provenance = checkpoint.get("provenance") or {}
    machine = provenance.get("machine") or {}
    train = checkpoint.get("train_config") or {}
    precision = "bf16" if train.get("amp") == "bf16" else "fp32"
    if machine.get("gpu") and train.get("device") != "cpu":
        return f"{machine['gpu']}, {precision}"
    cores = f"{machine['cores']}-core " if machine.get("cores") else ""
    threads = f", {provenance['threads']} thread(s)" if provenance.get("threads") else ""
    return f"{cores}CPU, {precision}{threads}"


def run_key(result: dict[str, Any]) -> tuple[str, str, str, int, str]:
    """(task, model, recipe, training seed, split): the rows of the headline table."""
    checkpoint = result["checkpoint"]
    recipe = (result.get("recipe") or {}).get("recipe", "-")
    seed = int((checkpoint.get("train_config") or {}).get("seed", 0))
    return checkpoint["task"], checkpoint["model_kind"], recipe, seed, result["settings"].get("split", "-")


def headline_table(results: list[dict[str, Any]]) -> str:
    """One markdown row per run: both execution modes with their Wilson intervals, training steps and
    precision, training, evaluation and end-to-end wall time (the runner's collection time + training + these
    evaluations), and the machine."""
    rows: dict[tuple, dict[str, Any]] = {}
    for result in results:
        modes = rows.setdefault(run_key(result), {})
        modes["ta" if result["settings"]["temporal_agg"] else "chunk"] = result
    header = ("| task | model | recipe | seed | seeds | chunk execution [95% CI] | temporal aggregation [95% CI] "
              "| steps | training | evaluation | end to end | machine |")
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    for (task, model, recipe, seed, split), modes in sorted(rows.items()):
        any_result = modes.get("chunk") or modes["ta"]
        checkpoint = any_result["checkpoint"]
        evaluation_s = sum(result["wall_s"] for result in modes.values())
        lines.append(
            f"| {task} | {model} | {recipe} | {seed} | {split} | {_cell(modes.get('chunk'))} | {_cell(modes.get('ta'))} "
            f"| {checkpoint['step']} | {_minutes(checkpoint.get('train_wall_s'))} | {_minutes(evaluation_s)} "
            f"| {_minutes(_end_to_end(modes, checkpoint.get('train_wall_s'), evaluation_s))} | {_machine(checkpoint)} |"
        )
    return "\n".join(lines)


def task_set_table(results: list[dict[str, Any]], task_sets: dict[str, tuple[str, ...]] | None = None,
                   floor: float = 0.7, min_episodes: int = 100) -> str:
    """One markdown row per (task set, model, seeds) with results: the mean success rate over the set's tasks
    that have one, per execution mode, how many of the set's tasks that covers, and the tasks below `floor`.
    A task with several runs (recipes, training seeds) counts once, at the mean of its runs; results of fewer
    than `min_episodes` episodes are left out, and a line under the table says how many. Empty when no
    result belongs to a set."""
    from envs.task_sets import TASK_SETS

    task_sets = TASK_SETS if task_sets is None else task_sets
    # (set, model, split) -> mode -> task -> success rates of its runs
    rates: dict[tuple[str, str, str], dict[str, dict[str, list[float]]]] = {}
    too_short = 0
    for result in results:
        task, model, _, _, split = run_key(result)
        if not any(task in tasks for tasks in task_sets.values()):
            continue
        if result["episodes"] < min_episodes:
            too_short += 1
            continue
        mode = "ta" if result["settings"]["temporal_agg"] else "chunk"
        for name, tasks in task_sets.items():
            if task in tasks:
                by_task = rates.setdefault((name, model, split), {}).setdefault(mode, {})
                by_task.setdefault(task, []).append(float(result["success_rate"]))
    if not rates:
        return ""
    header = ("| task set | model | seeds | chunk execution: mean (tasks) | temporal aggregation: mean (tasks) "
              f"| below {floor:.0%} |")
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    order = list(task_sets)
    for (name, model, split), modes in sorted(rates.items(), key=lambda item: (order.index(item[0][0]), item[0][1:])):
        size = len(task_sets[name])
        cells, below = [], set()
        for mode in ("chunk", "ta"):
            by_task = {task: sum(runs) / len(runs) for task, runs in modes.get(mode, {}).items()}
            if not by_task:
                cells.append("-")
                continue
            mean = sum(by_task.values()) / len(by_task)
            cells.append(f"{mean:.1%} ({len(by_task)}/{size})")
            below |= {task for task, rate in by_task.items() if rate < floor}
        lines.append(f"| {name} | {model} | {split} | {cells[0]} | {cells[1]} | {', '.join(sorted(below)) or '-'} |")
    if too_short:
        lines.append(f"\n({too_short} result file(s) of fewer than {min_episodes} episodes left out of the means)")
    return "\n".join(lines)


class DuplicateRunError(ValueError):
    """Two result files give the same task, model and execution mode: a plot shows one bar for each."""


def success_by_task(results: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(task, model, mode) -> its result; tasks of MT10 first, then the very hard five, then the rest."""
    from envs.task_sets import MT10, VERY_HARD

    bars: dict[tuple[str, str, str], dict[str, Any]] = {}
    for result in results:
        task, model, _, _, _ = run_key(result)
        key = (task, model, "ta" if result["settings"]["temporal_agg"] else "chunk")
        if key in bars:
            raise DuplicateRunError(f"two results for {key[0]}, {key[1]}, {key[2]}: pass one run per task and model")
        bars[key] = result
    known = list(MT10) + list(VERY_HARD)
    return dict(sorted(bars.items(), key=lambda item: (known.index(item[0][0]) if item[0][0] in known else len(known),
                                                       item[0])))


def plot_success_by_task(results: list[dict[str, Any]], path: str | os.PathLike, title: str = "") -> None:
    """Bars of success rate per task, one per model, with the 95% Wilson interval; one panel per execution mode
    present. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = success_by_task(results)
    tasks = list(dict.fromkeys(task for task, _, _ in bars))
    models = sorted({model for _, model, _ in bars}, key=lambda model: (model != "standard", model))
    modes = [mode for mode in ("chunk", "ta") if any(key[2] == mode for key in bars)]
    figure, axes = plt.subplots(len(modes), 1, figsize=(max(6.0, 0.7 * len(tasks) + 2), 3.2 * len(modes)),
                                squeeze=False, sharex=True)
    width = 0.8 / len(models)
    for axis, mode in zip(axes[:, 0], modes):
        for index, model in enumerate(models):
            xs, rates, errors = [], [], [[], []]
            for position, task in enumerate(tasks):
                result = bars.get((task, model, mode))
                if result is None:
                    continue
                low, high = result["wilson_ci_95"]
                xs.append(position + (index - (len(models) - 1) / 2) * width)
                rates.append(result["success_rate"])
                # clamped: the interval's bound at 0/n or n/n sits a rounding error inside the rate
                errors[0].append(max(0.0, result["success_rate"] - low))
                errors[1].append(max(0.0, high - result["success_rate"]))
            axis.bar(xs, rates, width, yerr=errors, capsize=2, label=model)
        axis.set_ylabel("success rate")
        axis.set_ylim(0, 1.05)
        axis.grid(axis="y", alpha=0.3)
        axis.set_title("chunk execution" if mode == "chunk" else "temporal aggregation", fontsize="medium")
        axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[-1, 0].set_xticks(range(len(tasks)))
    axes[-1, 0].set_xticklabels([task.removesuffix("-v3") for task in tasks], rotation=35, ha="right")
    if title:
        figure.suptitle(title, fontsize="medium")
    with atomic_path(path, suffix=".tmp.png") as tmp:
        figure.savefig(tmp, dpi=80, bbox_inches="tight")
    plt.close(figure)
