"""scripts/check_mirror_world.py on the real shelf-place-v3 environment and its expert."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "check_mirror_world.py")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def test_runs_the_expert_in_a_seeds_world_and_its_mirror():
    done = run("--seeds", "3", "--cameras", "behindGripper", "--image_size", "64")
    assert done.returncode == 0, done.stderr[-2000:]
    row, summary = (json.loads(line) for line in done.stdout.strip().splitlines())
    assert row["seed"] == 3 and summary["summary"]["seeds"] == 1
    # the expert solves both worlds (it solves every seed it was measured on), in similar time
    assert all(isinstance(steps, int) and 50 < steps < 200 for steps in row["steps_to_success"])
    assert abs(row["steps_to_success"][0] - row["steps_to_success"][1]) < 20
    difference = row["behindGripper_first_frame_pixel_difference"]
    assert 0 < difference["vs_mirror_world_flipped"] < 40 and difference["vs_mirror_world_unflipped"] > 0
    assert len(row["max_hand_path_difference_m"]) == 3 and all(d >= 0 for d in row["max_hand_path_difference_m"])


def test_refuses_an_unknown_camera_without_a_traceback():
    done = run("--seeds", "0", "--cameras", "nocamera")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "nocamera" in done.stderr
