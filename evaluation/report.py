"""Tables of results built from result files alone (what scripts/results_table.py prints)."""

from __future__ import annotations

from typing import Any


def _cell(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    low, high = result["wilson_ci_95"]
    return f"{result['successes']}/{result['episodes']} [{low:.2f}, {high:.2f}]"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.0f} min"


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
    precision, training and evaluation wall time, and the machine."""
    rows: dict[tuple, dict[str, Any]] = {}
    for result in results:
        modes = rows.setdefault(run_key(result), {})
        modes["ta" if result["settings"]["temporal_agg"] else "chunk"] = result
    header = ("| task | model | recipe | seed | seeds | chunk execution [95% CI] | temporal aggregation [95% CI] "
              "| steps | training | evaluation | machine |")
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    for (task, model, recipe, seed, split), modes in sorted(rows.items()):
        any_result = modes.get("chunk") or modes["ta"]
        checkpoint = any_result["checkpoint"]
        evaluation_s = sum(result["wall_s"] for result in modes.values())
        lines.append(
            f"| {task} | {model} | {recipe} | {seed} | {split} | {_cell(modes.get('chunk'))} | {_cell(modes.get('ta'))} "
            f"| {checkpoint['step']} | {_minutes(checkpoint.get('train_wall_s'))} | {_minutes(evaluation_s)} "
            f"| {_machine(checkpoint)} |"
        )
    return "\n".join(lines)
