"""scripts/diag_mirror.py on a real tiny checkpoint and real demonstrations."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "diag_mirror.py")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def test_reports_x_errors_on_recorded_and_mirrored_frames_reproducibly(tiny_checkpoint, tiny_demo_file):
    first = run("--checkpoint", tiny_checkpoint, "--data", tiny_demo_file, "--windows", "12", "--seed", "3")
    assert first.returncode == 0, first.stderr[-2000:]
    report = json.loads(first.stdout)
    assert report["windows"] == 12
    assert report["mean_abs_error_x"] >= 0 and report["mean_abs_error_x_mirrored"] >= 0
    assert -1.0 <= report["corr_predicted_expert_x"] <= 1.0 and -1.0 <= report["corr_predicted_expert_x_mirrored"] <= 1.0
    # the same seed draws the same frames and the policy is deterministic in eval mode
    again = run("--checkpoint", tiny_checkpoint, "--data", tiny_demo_file, "--windows", "12", "--seed", "3")
    assert json.loads(again.stdout) == report
    other = run("--checkpoint", tiny_checkpoint, "--data", tiny_demo_file, "--windows", "12", "--seed", "4")
    assert json.loads(other.stdout) != report


def test_refuses_a_missing_checkpoint_without_a_traceback(tiny_demo_file, tmp_path):
    done = run("--checkpoint", str(tmp_path / "none.pth"), "--data", tiny_demo_file)
    assert done.returncode != 0 and "Traceback" not in done.stderr
