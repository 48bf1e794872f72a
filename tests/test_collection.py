"""Collection into HDF5: schema round trip, determinism, validation, interruption."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from envs import EnvConfig, MetaWorldEnv
from envs.collection import CollectConfig, OutputExistsError, collect_demos
from envs.hdf5_demos import (
    DemoFileError,
    demo_content_sha256,
    episode_name,
    file_sha256,
    partial_path,
    read_episode,
    validate_demo_file,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "collect_act_demos.py")


def test_schema_round_trip(tiny_demo_file):
    info = validate_demo_file(tiny_demo_file)
    assert info.task == "shelf-place-v3" and info.cameras == ("behindGripper",) and info.image_size == 64
    assert info.num_episodes == 3 and info.episode_seeds == [0, 1, 2]
    assert info.attrs["complete"] and info.attrs["schema_version"] == 1
    for key in ("metaworld_version", "mujoco_version", "command", "created"):
        assert info.attrs[key]
    for index in range(3):
        episode = read_episode(tiny_demo_file, index)
        length = episode["length"]
        assert episode["actions"].shape == (length, 4) and episode["actions"].dtype == np.float32
        assert np.abs(episode["actions"]).max() <= 1.0
        assert episode["qpos"].shape == (length, 4)
        np.testing.assert_allclose(episode["qpos"], episode["env_state"][:, :4], rtol=1e-6)
        assert episode["images"]["behindGripper"].shape == (length, 64, 64, 3)
        # success is kept after the first success for steps_after_success=5 steps
        assert 0 <= episode["first_success_step"] == length - 6
        assert episode["object_init_pos"].shape == (3,) and episode["goal_pos"].shape == (3,)


def test_demos_start_from_distinct_states(tiny_demo_file):
    starts = np.stack([read_episode(tiny_demo_file, i, with_images=False)["object_init_pos"] for i in range(3)])
    assert len(np.unique(starts.round(6), axis=0)) == 3
    assert starts[:, 0].std() > 0.01


def test_recorded_episode_replays_exactly(tiny_demo_file):
    """Same seed + same actions → the same states and images: the file is a faithful record."""
    episode = read_episode(tiny_demo_file, 1)
    with MetaWorldEnv(EnvConfig(task="shelf-place-v3", cameras=("behindGripper",), image_size=64)) as env:
        obs = env.reset(int(episode["seed"]))
        for step, action in enumerate(episode["actions"][:30]):
            np.testing.assert_array_equal(obs["env_state"], episode["env_state"][step])
            np.testing.assert_array_equal(obs["images"]["behindGripper"], episode["images"]["behindGripper"][step])
            obs, *_ = env.step(action)


def test_two_workers_collect_the_same_episodes(tiny_demo_file, tmp_path):
    output = tmp_path / "two_workers.hdf5"
    collect_demos(
        CollectConfig(num_demos=3, output=str(output), image_size=64, workers=2, steps_after_success=5),
        progress=False,
    )
    for index in range(3):
        a, b = read_episode(tiny_demo_file, index), read_episode(output, index)
        assert a["seed"] == b["seed"]
        np.testing.assert_array_equal(a["actions"], b["actions"])
        np.testing.assert_array_equal(a["images"]["behindGripper"], b["images"]["behindGripper"])
    # written at another time by another command: other bytes, the same content
    assert file_sha256(output) != file_sha256(tiny_demo_file)
    assert demo_content_sha256(output) == demo_content_sha256(tiny_demo_file)


def test_the_content_hash_sees_one_changed_action(tiny_demo_file, tmp_path):
    copy = tmp_path / "copy.hdf5"
    shutil.copy(tiny_demo_file, copy)
    before = demo_content_sha256(copy)
    with h5py.File(copy, "r+") as f:
        f.attrs["created"] = "another time"  # when it was written: not content
        assert demo_content_sha256(copy) == before
        actions = f[episode_name(1)]["actions"]
        actions[3, 0] = actions[3, 0] + 1e-3
    assert demo_content_sha256(copy) != before


def test_noise_injection_keeps_clean_expert_labels(tiny_demo_file):
    """action_noise perturbs what the env executes, never the recorded labels, and is reproducible."""
    from envs.collection import run_expert_episode
    from envs.experts import expert_action, make_expert

    clean = read_episode(tiny_demo_file, 0, with_images=False)
    expert = make_expert("shelf-place-v3")
    with MetaWorldEnv(EnvConfig(task="shelf-place-v3", cameras=("behindGripper",), image_size=16, max_steps=40)) as env:
        noisy = run_expert_episode(env, expert, int(clean["seed"]), steps_after_success=0, action_noise=0.3)
        again = run_expert_episode(env, expert, int(clean["seed"]), steps_after_success=0, action_noise=0.3)
    np.testing.assert_array_equal(noisy["env_state"], again["env_state"])  # seeded noise
    np.testing.assert_array_equal(noisy["env_state"][0], clean["env_state"][0])  # same initial state
    # the hand went elsewhere than in the clean demo ...
    assert np.abs(noisy["env_state"][1:40, :3] - clean["env_state"][1:40, :3]).max() > 1e-3
    # ... and every label is the clean expert's answer to the state actually visited
    for state, label in zip(noisy["env_state"], noisy["actions"], strict=True):
        np.testing.assert_array_equal(label, expert_action(expert, state))


def test_action_noise_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="action_noise"):
        CollectConfig(output=str(tmp_path / "x.hdf5"), action_noise=1.5)


def test_deeper_grasp_expert_grasps_lower_and_still_succeeds():
    """grasp_depth makes the expert go lower onto the block before lifting it, on the same start,
    and the episode still succeeds; the first steps (positioning above the block) are unchanged."""
    from envs.collection import run_expert_episode
    from envs.experts import DeeperGraspExpert, make_expert
    from evaluation.rollout import grasp_heights

    config = EnvConfig(task="shelf-place-v3", cameras=("behindGripper",), image_size=16, max_steps=200)
    with MetaWorldEnv(config) as env:
        for seed in (0, 3):
            plain = run_expert_episode(env, make_expert("shelf-place-v3"), seed, steps_after_success=0)
            expert = make_expert("shelf-place-v3", grasp_depth=0.015)
            assert isinstance(expert, DeeperGraspExpert)
            deep = run_expert_episode(env, expert, seed, steps_after_success=0)
            again = run_expert_episode(env, expert, seed, steps_after_success=0)  # reset between episodes
            assert plain["success"] and deep["success"]
            np.testing.assert_array_equal(deep["actions"], again["actions"])
            np.testing.assert_array_equal(deep["actions"][:10], plain["actions"][:10])
            assert grasp_heights(deep["env_state"])[1] < grasp_heights(plain["env_state"])[1] - 0.004


def test_grasp_hold_expert_descends_open_closes_standing_still_then_lifts():
    """grasp_hold: the fingers stay open all the way down, then `hold` steps of zero motion with the grip
    closed, then MetaWorld's expert lifts; the episode succeeds and a second episode repeats it."""
    from envs.collection import run_expert_episode
    from envs.experts import DeeperGraspExpert, make_expert

    hold = 10
    config = EnvConfig(task="shelf-place-v3", cameras=("behindGripper",), image_size=16, max_steps=250)
    with MetaWorldEnv(config) as env:
        for seed in (0, 3):
            plain = run_expert_episode(env, make_expert("shelf-place-v3"), seed, steps_after_success=0)
            expert = make_expert("shelf-place-v3", grasp_depth=0.015, grasp_hold=hold)
            assert isinstance(expert, DeeperGraspExpert)
            held = run_expert_episode(env, expert, seed, steps_after_success=0)
            again = run_expert_episode(env, expert, seed, steps_after_success=0)  # reset between episodes
            assert held["success"]
            np.testing.assert_array_equal(held["actions"], again["actions"])
            actions = held["actions"]  # (T, 4)
            first_grip = int(np.argmax(actions[:, 3] > 0))
            assert first_grip > 0 and np.all(actions[:first_grip, 3] == -1.0)  # open on the way down
            assert np.argmax(plain["actions"][:, 3] > 0) < first_grip  # MetaWorld's expert grips earlier
            np.testing.assert_array_equal(actions[first_grip:first_grip + hold], np.tile([0.0, 0.0, 0.0, 1.0], (hold, 1)))
            assert actions[first_grip + hold, 2] > 0  # then it lifts
            hand_z = held["env_state"][:, 2]  # the hand's height (HAND_POS = 0:3)
            # zero motion: the hand only settles onto its target (it lags it by a few mm), at well under
            # the ~1 cm a step of the descent before it
            assert np.abs(np.diff(hand_z[first_grip + 1:first_grip + hold])).max() < 0.004


def test_grasp_depth_is_refused_where_it_is_not_implemented(tmp_path):
    from envs.experts import make_expert

    with pytest.raises(ValueError, match="shelf-place-v3 only"):
        make_expert("pick-place-v3", grasp_depth=0.01)
    with pytest.raises(ValueError, match="grasp_depth must be in"):
        make_expert("shelf-place-v3", grasp_depth=0.04)
    with pytest.raises(ValueError, match="grasp_hold must be in"):
        make_expert("shelf-place-v3", grasp_hold=51)
    with pytest.raises(ValueError, match="grasp_hold is implemented for shelf-place-v3 only"):
        CollectConfig(task="reach-v3", output=str(tmp_path / "x.hdf5"), grasp_hold=5)
    with pytest.raises(ValueError, match="shelf-place-v3 only"):
        CollectConfig(task="reach-v3", output=str(tmp_path / "x.hdf5"), grasp_depth=0.01)


def _copy(src: str, dst) -> str:
    shutil.copy(src, dst)
    return str(dst)


def test_validation_errors(tiny_demo_file, tmp_path):
    garbage = tmp_path / "garbage.hdf5"
    garbage.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DemoFileError, match="not a readable HDF5"):
        validate_demo_file(garbage)

    foreign = tmp_path / "foreign.hdf5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("action", data=np.zeros((3, 4)))
    with pytest.raises(DemoFileError, match="not a demonstration file of this project"):
        validate_demo_file(foreign)

    with pytest.raises(DemoFileError, match="no such file"):
        validate_demo_file(tmp_path / "missing.hdf5")

    missing_key = _copy(tiny_demo_file, tmp_path / "missing_key.hdf5")
    with h5py.File(missing_key, "a") as f:
        del f[f"{episode_name(1)}/obs/qpos"]
    with pytest.raises(DemoFileError, match="episode_000001 is missing 'obs/qpos'"):
        validate_demo_file(missing_key)

    wrong_dtype = _copy(tiny_demo_file, tmp_path / "wrong_dtype.hdf5")
    with h5py.File(wrong_dtype, "a") as f:
        actions = f[f"{episode_name(0)}/actions"][()]
        del f[f"{episode_name(0)}/actions"]
        f[f"{episode_name(0)}/actions"] = actions.astype(np.float64)
    with pytest.raises(DemoFileError, match="dtype float64, expected float32"):
        validate_demo_file(wrong_dtype)

    wrong_shape = _copy(tiny_demo_file, tmp_path / "wrong_shape.hdf5")
    with h5py.File(wrong_shape, "a") as f:
        images = f[f"{episode_name(2)}/obs/images/behindGripper"][()]
        del f[f"{episode_name(2)}/obs/images/behindGripper"]
        f[f"{episode_name(2)}/obs/images/behindGripper"] = images[:, :32, :32]
    with pytest.raises(DemoFileError, match="has shape"):
        validate_demo_file(wrong_shape)

    newer = _copy(tiny_demo_file, tmp_path / "newer.hdf5")
    with h5py.File(newer, "a") as f:
        f.attrs["schema_version"] = 99
    with pytest.raises(DemoFileError, match="schema version 99"):
        validate_demo_file(newer)


def test_existing_output_is_not_overwritten(tiny_demo_file):
    before = os.path.getmtime(tiny_demo_file)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        collect_demos(CollectConfig(num_demos=1, output=tiny_demo_file, image_size=64), progress=False)
    assert os.path.getmtime(tiny_demo_file) == before


def _run_script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--task", "shelf-plac"], "Did you mean: shelf-place-v3"),
        (["--cameras", "wrist"], "valid cameras: topview, corner"),
        (["--num_demos", "0"], "must be a positive integer"),
        (["--image_size", "-8"], "at least 16 pixels"),
        (["--workers", "0"], "must be a positive integer"),
        (["--action_noise", "-0.1"], "action_noise must be in [0, 1]"),
        (["--grasp_depth", "0.05"], "grasp_depth must be in [0, 0.04)"),
        (["--task", "reach-v3", "--grasp_depth", "0.01"], "grasp_depth is implemented for shelf-place-v3 only"),
        (["--grasp_hold", "-1"], "grasp_hold must be in [0, 50]"),
        (["--task", "reach-v3", "--grasp_hold", "10"], "grasp_hold is implemented for shelf-place-v3 only"),
        (["--resume", "--num_demos", "1"], "nothing to resume"),
    ],
)
def test_bad_arguments_give_a_message_not_a_traceback(args, expected, tmp_path):
    done = _run_script(*args, "--output", str(tmp_path / "x.hdf5"))
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.hdf5").exists()


def test_killed_collection_leaves_no_complete_file_and_resumes(tiny_demo_file, tmp_path):
    output = tmp_path / "killed.hdf5"
    common = ["--num_demos", "3", "--image_size", "64", "--steps_after_success", "5", "--quiet", "--output", str(output)]
    # Ask for more demos than we let it finish, so it is surely killed mid-run.
    killed_run = [arg if arg != "3" else "8" for arg in common]
    process = subprocess.Popen([sys.executable, SCRIPT, *killed_run], cwd=ROOT, stderr=subprocess.DEVNULL)
    partial = partial_path(output)
    deadline = time.time() + 120
    # Kill as soon as the first episode is on disk, mid-way through the second.
    while time.time() < deadline:
        if partial.exists():
            try:
                with h5py.File(partial, "r", locking=False) as f:
                    if episode_name(0) in f:
                        break
            except OSError:
                pass
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not output.exists()
    with pytest.raises(DemoFileError, match="--resume"):
        validate_demo_file(output)
    with pytest.raises(DemoFileError, match="complete=False"):
        validate_demo_file(partial)

    refused = _run_script(*common)
    assert refused.returncode == 2 and "--resume" in refused.stderr

    # resuming with settings that change the demonstrations would mix two experiments in one file
    for other in (["--seed", "500"], ["--action_noise", "0.3"]):
        mixed = _run_script(*common, *other, "--resume")
        assert mixed.returncode == 2 and "Cannot resume" in mixed.stderr and other[0][2:] in mixed.stderr, mixed.stderr
    resumed = _run_script(*common, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["episodes"] == 3 and not partial.exists()
    info = validate_demo_file(output)
    assert info.episode_seeds == [0, 1, 2]
    for index in range(3):  # the resumed file equals an uninterrupted collection
        np.testing.assert_array_equal(read_episode(output, index)["actions"], read_episode(tiny_demo_file, index)["actions"])

