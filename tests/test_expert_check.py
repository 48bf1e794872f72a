"""MetaWorld's scripted experts measured on demonstration seeds, and the check script's overwrite guard."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from envs.experts import expert_success

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_expert_success_counts_are_consistent():
    for task in ("drawer-close-v3", "reach-v3"):
        result = expert_success(task, [0, 1, 2])
        assert result["task"] == task and result["episodes"] == 3
        assert result["successes"] + len(result["failed_seeds"]) == 3
        assert set(result["failed_seeds"]) <= {0, 1, 2}
        assert 0.0 <= result["success_rate"] <= 1.0
        assert result["success_rate"] == result["successes"] / 3
        if result["successes"]:
            assert 1 <= result["mean_steps_to_success"] <= 500
        else:
            assert result["mean_steps_to_success"] is None


def test_check_script_refuses_to_overwrite(tmp_path):
    output = tmp_path / "expert_success.json"
    output.write_text("keep me")
    command = [sys.executable, os.path.join(ROOT, "scripts", "check_experts.py"),
               "--tasks", "reach-v3", "--episodes", "1", "--output", str(output)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert output.read_text() == "keep me"


def test_check_script_writes_each_task_with_its_interval(tmp_path):
    output = tmp_path / "experts.json"
    command = [sys.executable, os.path.join(ROOT, "scripts", "check_experts.py"),
               "--tasks", "drawer-close-v3", "--episodes", "2", "--output", str(output)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    [task] = json.loads(output.read_text())["tasks"]
    lo, hi = task["wilson_95"]
    assert task["episodes"] == 2 and 0.0 <= lo <= task["success_rate"] <= hi <= 1.0
