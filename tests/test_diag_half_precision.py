"""scripts/diag_half_precision.py on a real tiny checkpoint and demo file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "diag_half_precision.py")


def test_reports_a_small_nonzero_fp16_difference(tiny_checkpoint, tiny_demo_file):
    done = subprocess.run(
        [sys.executable, SCRIPT, "--checkpoint", tiny_checkpoint, "--data", tiny_demo_file],
        capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["frames"] == 3  # episode 0 of 3, steps 0, 30 and 60
    assert 0 < report["max_abs_action_difference"] < 0.05 * max(report["mean_abs_action"], 1e-3) + 0.01
    assert report["max_abs_first_action_difference"] <= report["max_abs_action_difference"]


def test_missing_checkpoint_is_a_clean_error(tiny_demo_file, tmp_path):
    done = subprocess.run(
        [sys.executable, SCRIPT, "--checkpoint", str(tmp_path / "none.pth"), "--data", tiny_demo_file],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2 and "no such checkpoint" in done.stderr and "Traceback" not in done.stderr
