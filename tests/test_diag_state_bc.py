"""The privileged state-MLP diagnostic: its windows, its rollout loop on the real env, the script."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

from envs.experts import expert_action, make_expert
from envs.metaworld_wrapper import EnvConfig, MetaWorldEnv
from training.policy import TemporalAggregator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "diag_state_bc.py")


def _script_module():
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    spec = importlib.util.spec_from_file_location("diag_state_bc", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chunk_windows_repeat_the_last_action_past_the_end():
    diag = _script_module()
    actions = np.arange(8, dtype=np.float32).reshape(4, 2)  # (T=4, A=2)
    windows = diag.chunk_windows([actions, actions[:1]], 3)  # (5, 3, 2)
    assert windows.shape == (5, 3, 2)
    np.testing.assert_array_equal(windows[0], actions[[0, 1, 2]])
    np.testing.assert_array_equal(windows[3], actions[[3, 3, 3]])
    np.testing.assert_array_equal(windows[4], actions[[0, 0, 0]])


def test_rollout_succeeds_with_the_expert_and_fails_standing_still():
    diag = _script_module()
    expert = make_expert("shelf-place-v3")
    with MetaWorldEnv(EnvConfig(task="shelf-place-v3", image_size=16, max_steps=200)) as env:
        def expert_chunk(state):
            return np.repeat(expert_action(expert, state)[None], 4, axis=0)  # (4, A), same action

        assert diag.rollout(env.raw_env, expert_chunk, seed=3, max_steps=200, query_freq=1)[0]
        aggregator = TemporalAggregator(1, 4, 4, k=0.01)
        success, steps = diag.rollout(env.raw_env, expert_chunk, 3, 200, 1, aggregator)
        assert success and steps < 200
        still = diag.rollout(env.raw_env, lambda state: np.zeros((4, 4)), seed=3, max_steps=40, query_freq=4)
        assert still == (False, 40)

        from envs.action_repr import mocap_position

        def expert_target(state):  # (1, A): where the expert's next action sends the mocap
            action = np.clip(expert_action(expert, state), -1.0, 1.0)
            return np.concatenate([mocap_position(env.raw_env) + action[:3] * env.raw_env.action_scale, action[3:]])[None]

        assert diag.rollout(env.raw_env, expert_target, seed=3, max_steps=200, query_freq=1, absolute=True)[0]
        # the same targets read as deltas (no conversion) drive the hand into a wall: no success
        assert not diag.rollout(env.raw_env, expert_target, seed=3, max_steps=200, query_freq=1)[0]


def test_script_trains_rolls_out_and_writes_json(tiny_demo_file, tmp_path):
    output = tmp_path / "diag.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--data", tiny_demo_file, "--chunk_size", "1", "3", "--query_freq", "2",
         "--episodes", "2", "--steps", "20", "--hidden", "16", "--max_steps", "30", "--output", str(output)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text())
    assert json.loads(done.stdout) == report
    assert [run["chunk_size"] for run in report["runs"]] == [1, 3]
    assert [run["execution"] for run in report["runs"]] == ["first 1 of each chunk", "first 2 of each chunk"]
    assert all(run["episodes"] == 2 and 0 <= run["successes"] <= 2 for run in report["runs"])
    assert report["train_episodes"] == 2 and report["eval_seeds"] == [1_000_000, 1_000_001]
    missing = subprocess.run([sys.executable, SCRIPT, "--data", str(tmp_path / "none.hdf5")],
                             capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr


def test_absolute_targets_replay_the_simulator_mocap_and_the_expert_episode():
    """`mocap_path` rebuilds, from the actions alone, the mocap positions MuJoCo holds after each
    step of a real expert episode; driving the env with `deltas_from_targets` of those targets
    repeats the expert's success at the same step."""
    from envs.action_repr import MocapFrame, deltas_from_targets, mocap_path, mocap_position

    expert = make_expert("shelf-place-v3")
    with MetaWorldEnv(EnvConfig(task="shelf-place-v3", image_size=16, max_steps=200)) as env:
        raw = env.raw_env
        frame = MocapFrame.of(raw)
        raw.seed(3)
        state, _ = raw.reset()
        np.testing.assert_allclose(mocap_position(raw), frame.start, atol=1e-6)
        actions, mocaps, success_step = [], [], None
        for step in range(200):
            actions.append(expert_action(expert, state))
            state, _, _, _, info = raw.step(np.clip(actions[-1], -1.0, 1.0))
            mocaps.append(mocap_position(raw))
            if info["success"]:
                success_step = step + 1
                break
        assert success_step is not None
        targets = mocap_path(np.array(actions), frame)  # (T, 4)
        np.testing.assert_allclose(targets[:, :3], np.array(mocaps), atol=1e-6)
        np.testing.assert_array_equal(targets[:, 3], np.array(actions)[:, 3])
        assert np.abs(np.diff(targets[:, :3], axis=0)).max() <= frame.scale + 1e-9  # one step moves ≤ 1 cm per axis

        raw.seed(3)
        raw.reset()
        for step, target in enumerate(targets):
            delta = deltas_from_targets(target[None], mocap_position(raw), frame.scale)[0]
            _, _, _, _, info = raw.step(delta)
            if info["success"]:
                break
        assert info["success"] and step + 1 == success_step


def test_deltas_from_targets_clip_far_targets_to_full_speed():
    from envs.action_repr import deltas_from_targets

    mocap = np.array([[0.0, 0.6, 0.2], [0.1, 0.5, 0.1]])  # (2, 3)
    targets = np.array([[0.005, 0.6, 0.15, 0.7], [0.1, 0.5, 0.1, -3.0]])  # (2, 4)
    np.testing.assert_allclose(deltas_from_targets(targets, mocap, 0.01), [[0.5, 0.0, -1.0, 0.7], [0, 0, 0, -1.0]],
                               atol=1e-6)


def test_script_with_absolute_targets_runs(tiny_demo_file, tmp_path):
    done = subprocess.run(
        [sys.executable, SCRIPT, "--data", tiny_demo_file, "--chunk_size", "3", "--temporal_agg", "--action_repr",
         "absolute", "--episodes", "1", "--steps", "20", "--hidden", "16", "--max_steps", "30"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["action_repr"] == "absolute" and report["runs"][0]["episodes"] == 1
