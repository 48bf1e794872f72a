"""Success-vs-steps curves: scoring a run's snapshots, and plotting results already written."""

from __future__ import annotations

import json
import shutil

import pytest

from evaluation.learning_curve import curves_from_results, plot_curves, snapshots, success_curve
from evaluation.rollout import EvalConfig, evaluate_checkpoint, save_results
from evaluation.training_rollouts import TRAINING_EVAL_SEED_OFFSET


def test_snapshots_are_scored_in_step_order_on_training_eval_seeds(tiny_checkpoint, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for step in (20, 3):
        shutil.copy(tiny_checkpoint, run / "checkpoints" / f"step_{step}.pth")
    shutil.copy(tiny_checkpoint, run / "checkpoints" / "last.pth")  # not a snapshot
    assert [step for step, _ in snapshots(run)] == [3, 20]

    curve = success_curve(run, episodes=2, temporal_agg=False, num_envs=2, progress=False, every=1, max_steps=15)
    assert curve["model_kind"] == "standard" and curve["temporal_agg"] is False
    assert [point["step"] for point in curve["points"]] == [3, 20]
    for point in curve["points"]:
        assert point["episodes"] == 2 and 0.0 <= point["success_rate"] <= 1.0
    only_multiples_of_20 = success_curve(run, episodes=1, temporal_agg=False, num_envs=1, progress=False,
                                         every=20, max_steps=5)
    assert [point["step"] for point in only_multiples_of_20["points"]] == [20]

    empty = tmp_path / "empty"
    (empty / "checkpoints").mkdir(parents=True)
    with pytest.raises(ValueError, match="--save_every"):
        success_curve(empty, episodes=1, temporal_agg=False)


def test_curves_from_written_results_group_by_run_and_mode(tiny_checkpoint, tmp_path):
    seeds = [TRAINING_EVAL_SEED_OFFSET + i for i in range(2)]
    results = evaluate_checkpoint(tiny_checkpoint, EvalConfig(seeds=seeds, max_steps=10, num_envs=2), progress=False)
    evaluated = save_results(tmp_path / "eval.json", results)
    earlier_curve = {"run_dir": "elsewhere", "model_kind": "modified", "temporal_agg": True, "points": [
        {"step": 100, "success_rate": 0.5, "successes": 1, "episodes": 2, "wilson_ci_95": [0.09, 0.91]}]}
    curve_file = tmp_path / "curve.json"
    curve_file.write_text(json.dumps(earlier_curve))

    curves = curves_from_results([curve_file, evaluated])
    assert curves[0] == earlier_curve
    from_eval = curves[1]
    assert (from_eval["model_kind"], from_eval["temporal_agg"]) == ("standard", False)
    assert from_eval["points"] == [{
        "step": results["checkpoint"]["step"], "success_rate": results["success_rate"],
        "successes": results["successes"], "episodes": 2, "wilson_ci_95": results["wilson_ci_95"],
    }]
    plot = tmp_path / "curve.png"
    plot_curves(curves, plot, "title")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="neither a curve file"):
        curves_from_results([foreign])
