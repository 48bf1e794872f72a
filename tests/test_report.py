"""Tables and plots over many result files (evaluation/report.py, scripts/results_table.py, plot_results.py)."""

from __future__ import annotations

import copy

import pytest
from conftest import run_main

from envs import EVAL_SEED_OFFSET
from envs.task_sets import MT10, VERY_HARD
from evaluation.report import DuplicateRunError, success_by_task, task_set_table
from evaluation.rollout import EvalConfig, evaluate_checkpoint, save_results, wilson_interval


@pytest.fixture(scope="module")
def real_result(tiny_checkpoint):
    """A real result file's content (the untrained policy, 2 short episodes)."""
    seeds = [EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + 1]
    return evaluate_checkpoint(tiny_checkpoint, EvalConfig(seeds=seeds, max_steps=4, num_envs=1), progress=False)


def as_run(result, task, model, successes, episodes=100, temporal_agg=False):
    """The real result relabelled as another task, model, mode and outcome (the fields the tables read)."""
    run = copy.deepcopy(result)
    run["checkpoint"]["task"], run["checkpoint"]["model_kind"] = task, model
    run["settings"]["temporal_agg"] = temporal_agg
    run["successes"], run["episodes"], run["success_rate"] = successes, episodes, successes / episodes
    run["wilson_ci_95"] = list(wilson_interval(successes, episodes))
    return run


def test_task_set_means_count_each_task_once_and_leave_out_short_runs(real_result):
    runs = [as_run(real_result, "reach-v3", "standard", 60), as_run(real_result, "push-v3", "standard", 100),
            # a second training seed of push: push counts once, at (100 + 90) / 2
            as_run(real_result, "push-v3", "standard", 90),
            as_run(real_result, "push-v3", "standard", 20, temporal_agg=True),
            as_run(real_result, "window-open-v3", "standard", 100, temporal_agg=True),  # n/n: a bar at 1.0
            as_run(real_result, "shelf-place-v3", "modified", 95),
            as_run(real_result, "drawer-close-v3", "standard", 0, episodes=20),  # too few episodes
            as_run(real_result, "assembly-v3", "standard", 0)]  # in no set
    table = task_set_table(runs).splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:] if line.startswith("| ")]
    assert rows == [
        ["MT10", "standard", "validation", f"{(0.60 + 0.95) / 2:.1%} (2/10)", "60.0% (2/10)", "push-v3, reach-v3"],
        ["very hard", "modified", "validation", "95.0% (1/5)", "-", "-"],
    ]
    assert table[-1] == "(1 result file(s) of fewer than 100 episodes left out of the means)"
    assert task_set_table([as_run(real_result, "assembly-v3", "standard", 50)]) == ""


def test_results_table_and_plot_scripts_on_real_files(real_result, tmp_path):
    files = []
    for task in (*MT10[:2], VERY_HARD[0]):  # the first at 100/100, whose interval ends a rounding error below 1
        for model in ("standard", "modified"):
            for temporal_agg in (False, True):
                path = tmp_path / f"{task}__{model}__{temporal_agg}.json"
                save_results(path, as_run(real_result, task, model, 100 - len(files), temporal_agg=temporal_agg))
                files.append(str(path))
    printed = run_main("results_table", *files)
    assert printed.returncode == 0, printed.stderr
    assert "| MT10 | modified | validation |" in printed.stdout and "| very hard | standard | validation |" in printed.stdout
    output = tmp_path / "success.png"
    made = run_main("plot_results", *files, "--output", str(output))
    assert made.returncode == 0, made.stderr
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # nothing is overwritten without --overwrite, and two runs of one task, model and mode cannot share a bar
    again = run_main("plot_results", *files, "--output", str(output))
    assert again.returncode == 2 and again.stderr.startswith("error:") and "--overwrite" in again.stderr
    twice = run_main("plot_results", files[0], files[0], "--output", str(tmp_path / "other.png"))
    assert twice.returncode == 2 and twice.stderr.count("\n") == 1 and "one run per task and model" in twice.stderr
    with pytest.raises(DuplicateRunError):
        success_by_task([real_result, real_result])
    order = [task for task, _, _ in success_by_task([as_run(real_result, task, "standard", 1)
                                                     for task in ("assembly-v3", VERY_HARD[1], MT10[3])])]
    assert order == [MT10[3], VERY_HARD[1], "assembly-v3"]
