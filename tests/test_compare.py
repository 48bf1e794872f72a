"""Paired comparison of evaluation results (evaluation/compare.py, scripts/compare_results.py)."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys

import pytest

from envs import EVAL_SEED_OFFSET
from evaluation.compare import (
    IncompatibleResults,
    UnpairedResults,
    exact_mcnemar_p,
    paired_comparison,
    pooled_success,
)
from evaluation.rollout import EvalConfig, evaluate_checkpoint, save_results, wilson_interval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "compare_results.py")
POOL_SCRIPT = os.path.join(ROOT, "scripts", "pool_results.py")


def test_exact_mcnemar_p_is_the_two_sided_binomial_tail_of_the_discordant_pairs() -> None:
    assert exact_mcnemar_p(0, 0) == 1.0
    assert exact_mcnemar_p(0, 5) == pytest.approx(2 / 32)  # 5 of 5 one way
    assert exact_mcnemar_p(1, 25) == pytest.approx(2 * (1 + 26) / 2**26)
    assert exact_mcnemar_p(25, 1) == exact_mcnemar_p(1, 25)
    assert exact_mcnemar_p(3, 3) == 1.0  # an even split is capped at 1
    assert exact_mcnemar_p(9, 6) == pytest.approx(2 * sum(math.comb(15, k) for k in range(7)) / 2**15)
    with pytest.raises(ValueError):
        exact_mcnemar_p(-1, 2)


def test_real_results_are_paired_by_seed_and_unpaired_ones_refused(tiny_checkpoint, tmp_path):
    seeds = [EVAL_SEED_OFFSET + i for i in range(3)]
    first = evaluate_checkpoint(tiny_checkpoint, EvalConfig(seeds=seeds, max_steps=8, num_envs=1), progress=False)
    # The same policy against itself: every episode agrees.
    same = paired_comparison(first, first)
    assert same["only_a"] == same["only_b"] == 0 and same["exact_mcnemar_p"] == 1.0
    assert same["both"] + same["neither"] == 3 and same["successes_a"] == first["successes"]

    # Outcomes set by hand on the real results (the untrained policy fails everywhere): the first
    # succeeds on seed 0; the second, listed in the reverse seed order, on seeds 0 and 1. Paired by
    # seed that is one shared success and one discordant pair, in favour of the second (paired by
    # list position it would be three discordant pairs).
    assert first["successes"] == 0
    first["per_episode"].sort(key=lambda record: record["seed"])
    first["per_episode"][0]["success"] = True
    second = copy.deepcopy(first)
    second["per_episode"][1]["success"] = True
    second["per_episode"].reverse()
    comparison = paired_comparison(first, second)
    assert (comparison["both"], comparison["only_a"], comparison["only_b"], comparison["neither"]) == (1, 0, 1, 1)
    assert (comparison["successes_a"], comparison["successes_b"]) == (1, 2)
    assert comparison["exact_mcnemar_p"] == 1.0

    path_a, path_b = save_results(tmp_path / "a.json", first), save_results(tmp_path / "b.json", second)
    done = subprocess.run([sys.executable, SCRIPT, str(path_a), str(path_b)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert {key: printed[key] for key in comparison} == comparison

    other_seeds = evaluate_checkpoint(
        tiny_checkpoint, EvalConfig(seeds=[EVAL_SEED_OFFSET + 10], max_steps=8, num_envs=1), progress=False
    )
    with pytest.raises(UnpairedResults, match="different episode seeds"):
        paired_comparison(first, other_seeds)
    other_task = copy.deepcopy(first)
    other_task["env"]["task"] = "reach-v3"
    with pytest.raises(UnpairedResults, match="different task"):
        paired_comparison(first, other_task)
    other_limit = copy.deepcopy(first)
    other_limit["env"]["max_steps"] = 500
    with pytest.raises(UnpairedResults, match="different max_steps"):
        paired_comparison(first, other_limit)
    path_c = save_results(tmp_path / "c.json", other_seeds)
    refused = subprocess.run([sys.executable, SCRIPT, str(path_a), str(path_c)], capture_output=True, text=True,
                             timeout=120, check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("error: the results played different episode seeds")
    assert "Traceback" not in refused.stderr
    missing = subprocess.run([sys.executable, SCRIPT, str(path_a), str(tmp_path / "nope.json")], capture_output=True,
                             text=True, timeout=120, check=False)
    assert missing.returncode == 2 and "nope.json" in missing.stderr and "Traceback" not in missing.stderr


def test_results_of_several_training_seeds_are_pooled_and_mixed_modes_refused(tiny_checkpoint, tmp_path):
    seeds = [EVAL_SEED_OFFSET + i for i in range(2)]
    chunked = evaluate_checkpoint(tiny_checkpoint, EvalConfig(seeds=seeds, max_steps=8, num_envs=1), progress=False)
    # Two more "seeds" of the same recipe: the real result with counts set by hand (the untrained
    # policy fails everywhere), 3 of 4 and 1 of 4 episodes, next to the real 0 of 2.
    assert chunked["successes"] == 0 and chunked["episodes"] == 2
    good, poor = copy.deepcopy(chunked), copy.deepcopy(chunked)
    good["successes"], good["episodes"] = 3, 4
    poor["successes"], poor["episodes"] = 1, 4
    pooled = pooled_success([chunked, good, poor])
    assert (pooled["successes"], pooled["episodes"]) == (4, 10)
    assert pooled["success_rate"] == pytest.approx(0.4)
    assert pooled["wilson_ci_95"] == pytest.approx(list(wilson_interval(4, 10)))
    assert (pooled["lowest_rate"], pooled["highest_rate"]) == (0.0, 0.75)
    assert [run["successes"] for run in pooled["runs"]] == [0, 3, 1]
    assert pooled["runs"][1]["wilson_ci_95"] == pytest.approx(list(wilson_interval(3, 4)))
    assert pooled["task"] == chunked["env"]["task"] and pooled["temporal_agg"] is False

    aggregated = evaluate_checkpoint(
        tiny_checkpoint, EvalConfig(seeds=seeds, max_steps=8, num_envs=1, temporal_agg=True), progress=False
    )
    with pytest.raises(IncompatibleResults, match="temporal_agg"):
        pooled_success([chunked, aggregated])
    other_model = copy.deepcopy(chunked)
    other_model["checkpoint"]["model_kind"] = "modified" if chunked["checkpoint"]["model_kind"] == "standard" else "standard"
    with pytest.raises(IncompatibleResults, match="model_kind"):
        pooled_success([chunked, other_model])
    with pytest.raises(IncompatibleResults, match="at least two"):
        pooled_success([chunked])

    path_a, path_b = save_results(tmp_path / "a.json", chunked), save_results(tmp_path / "b.json", good)
    done = subprocess.run([sys.executable, POOL_SCRIPT, str(path_a), str(path_b)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert (printed["successes"], printed["episodes"]) == (3, 6)
    assert [run["file"] for run in printed["runs"]] == [str(path_a), str(path_b)]
    path_c = save_results(tmp_path / "c.json", aggregated)
    refused = subprocess.run([sys.executable, POOL_SCRIPT, str(path_a), str(path_c)], capture_output=True,
                             text=True, timeout=120, check=False)
    assert refused.returncode == 2 and refused.stderr.startswith("error: result 1 differs from result 0 in temporal_agg")
    assert "Traceback" not in refused.stderr
