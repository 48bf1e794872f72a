"""scripts/diag_grasp.py on a real tiny checkpoint: the policy and the expert from the same initial state."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from envs.hdf5_demos import read_episode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "diag_grasp.py")


def test_expert_grasp_is_centred_and_lifts_while_an_untrained_policy_does_not(tiny_checkpoint, tiny_demo_file, tmp_path):
    demo = read_episode(tiny_demo_file, 0, with_images=False)
    seed, first_success = int(demo["seed"]), int(demo["first_success_step"])
    trace_file = tmp_path / "trace.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--checkpoint", tiny_checkpoint, "--seeds", str(seed),
         "--max_steps", str(first_success + 5), "--query_freq", "5", "--trace", str(trace_file)],
        capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["settings"] == {"temporal_agg": False, "query_freq": 5, "k": 0.01}
    report = report["seeds"][str(seed)]
    expert, policy = report["expert"], report["policy"]
    # the expert reproduces its recorded demonstration: closes over the block, lifts it, succeeds
    assert expert["success"] and expert["lifted"] and expert["steps"] == first_success + 1
    assert 0 < expert["close_step"] < first_success and expert["object_pushed_before_close_m"] < 0.01
    dx, dy, _ = expert["hand_minus_object_at_close_m"]
    assert abs(dx) < 0.03 and abs(dy) < 0.03
    # it starts lifting once the hand is within 5.5 cm of the block's centre (its rule), after closing
    assert expert["lift_step"] > expert["close_step"] and 0.03 < expert["hand_above_object_at_lift_m"] <= 0.056
    # an untrained policy does not lift the block and runs to the step limit
    assert not policy["success"] and not policy["lifted"] and policy["steps"] == first_success + 5
    traces = json.loads(trace_file.read_text())[str(seed)]
    assert len(traces["expert"]) == first_success + 2  # the reset state, then one per action
    assert traces["expert"][expert["close_step"]]["gripper_cmd"] > 0
    assert all(t["action"][3] == t["gripper_cmd"] and len(t["action"]) == 4 for t in traces["expert"][:-1])
    assert all(t["gripper_cmd"] <= 0 for t in traces["expert"][: expert["close_step"]])
    assert traces["expert"][-1]["action"] is None and traces["expert"][-1]["success"]


def test_missing_checkpoint_is_a_clean_error(tmp_path):
    done = subprocess.run(
        [sys.executable, SCRIPT, "--checkpoint", str(tmp_path / "none.pth"), "--seeds", "1000000"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2 and "no such checkpoint" in done.stderr and "Traceback" not in done.stderr


def test_qpos_offset_changes_what_the_policy_sees_and_only_that(tiny_checkpoint, tmp_path):
    def first_actions(*extra: str) -> tuple[list, list]:
        trace_file = tmp_path / "trace.json"
        done = subprocess.run(
            [sys.executable, SCRIPT, "--checkpoint", tiny_checkpoint, "--seeds", "1000000", "--max_steps", "3",
             "--trace", str(trace_file), *extra],
            capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ, OMP_NUM_THREADS="1"),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        traces = json.loads(trace_file.read_text())["1000000"]
        return traces["policy"][0]["action"], traces["expert"][0]["action"]

    policy_plain, expert_plain = first_actions()
    policy_shifted, expert_shifted = first_actions("--qpos_offset", "0", "0", "0.5", "0")
    assert policy_shifted != policy_plain  # the model reads the shifted hand height
    assert expert_shifted == expert_plain  # the expert and the environment are untouched
