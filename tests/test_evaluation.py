"""Tests of evaluation (evaluation/rollout.py, evaluation/video.py, evaluation/metaworld_harness.py and
scripts/evaluate_act_proper.py) on real environments with the tiny checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import imageio.v2 as imageio
import numpy as np
import pytest

from envs import EVAL_SEED_OFFSET, EnvConfig
from envs.experts import expert_action, make_expert
from envs.hdf5_demos import read_episode, validate_demo_file
from evaluation.journal import JournalMismatch, journal_path
from evaluation.metaworld_harness import ACTHarnessAgent, make_harness_envs, score_with_metaworld_harness
from evaluation.policy import ACTPolicy
from evaluation.rollout import (
    EvalConfig,
    check_env_matches_policy,
    evaluate,
    evaluate_checkpoint,
    failure_modes,
    format_summary,
    open_journal,
    resolve_eval_seeds,
    wilson_interval,
)
from evaluation.video import SUCCESS_COLOR, write_demo_videos
from training.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ExpertPolicy(ACTPolicy):
    """Acts with MetaWorld's scripted expert on the full state: a policy that solves the task, so
    success detection and step counting can be checked against the recorded demonstrations."""

    def select_action(self, obs_batch, env_mask=None):
        mask = np.ones(len(obs_batch), dtype=bool) if env_mask is None else np.asarray(env_mask)
        actions = np.zeros((len(obs_batch), 4), dtype=np.float32)
        for index in np.flatnonzero(mask):
            actions[index] = expert_action(self.expert, obs_batch[index]["env_state"])
        return actions

    @property
    def demo_seeds(self):
        return []  # the expert was trained on nothing, so the demo seeds may be replayed


@pytest.fixture
def expert_policy(tiny_checkpoint):
    policy = ExpertPolicy.from_checkpoint(tiny_checkpoint)
    policy.expert = make_expert(policy.task)
    return policy


def is_success_frame(frame: np.ndarray) -> bool:
    """The green success border is drawn around the frame."""
    return bool(np.abs(frame[1, frame.shape[1] // 2].astype(int) - SUCCESS_COLOR).max() < 40)


def read_video(path) -> list[np.ndarray]:
    with imageio.get_reader(path) as reader:
        return list(reader.iter_data())  # list(reader) fails: its length is reported as inf


# -- statistics and configuration ------------------------------------------------------------
def test_wilson_interval_known_values():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"episodes": 5, "seeds": [1, 2]}, "episodes=5 but 2 seeds"),
        ({"seeds": [3, 3]}, "seeds repeat"),
        ({"max_steps": 501}, "max_steps"),
        ({"num_videos": 2}, "needs a video_dir"),
        ({"episodes": 2, "num_videos": 3, "video_dir": "x"}, "exceeds the 2 episodes"),
        ({"num_envs": 0}, "num_envs"),
    ],
)
def test_eval_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EvalConfig(**kwargs)


def test_default_seeds_avoid_demo_seeds_and_overlap_is_refused(tiny_checkpoint):
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    demo_seeds = policy.demo_seeds
    assert demo_seeds == [0, 1, 2]
    seeds = resolve_eval_seeds(EvalConfig(episodes=50, seed=3), demo_seeds)
    assert seeds == [EVAL_SEED_OFFSET + 3 + i for i in range(50)]
    assert not set(seeds) & set(demo_seeds)
    assert EvalConfig(seeds=[5, 9]).episodes == 2
    with pytest.raises(ValueError, match=r"seed\(s\) \[1\] are seeds of the policy's training demonstrations"):
        evaluate(policy, EvalConfig(seeds=[EVAL_SEED_OFFSET, 1]), progress=False)
    # A demo seed in the evaluation range is refused too, default seeds included.
    with pytest.raises(ValueError, match=rf"\[{EVAL_SEED_OFFSET + 1}\]"):
        resolve_eval_seeds(EvalConfig(episodes=3), [EVAL_SEED_OFFSET + 1])
    # Without recorded demo seeds, only seeds outside the collection range are accepted.
    with pytest.raises(ValueError, match="does not record its demonstration seeds"):
        resolve_eval_seeds(EvalConfig(seeds=[5]), None)
    assert resolve_eval_seeds(EvalConfig(seeds=[2 * EVAL_SEED_OFFSET]), None) == [2 * EVAL_SEED_OFFSET]


def test_demo_state_diagnostic_replays_training_starts_and_is_marked(tiny_checkpoint, tmp_path):
    """--on_demo_states replays the demonstrations' own initial states, and every output says so."""
    from evaluation.rollout import format_summary, results_markdown_table

    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    assert resolve_eval_seeds(EvalConfig(episodes=2, on_demo_states=True), policy.demo_seeds) == [0, 1]
    with pytest.raises(ValueError, match="trained on 3 demonstrations"):
        resolve_eval_seeds(EvalConfig(episodes=4, on_demo_states=True), policy.demo_seeds)
    with pytest.raises(ValueError, match="do not pass seeds as well"):
        resolve_eval_seeds(EvalConfig(seeds=[EVAL_SEED_OFFSET], on_demo_states=True), policy.demo_seeds)
    with pytest.raises(ValueError, match="cannot be replayed"):
        resolve_eval_seeds(EvalConfig(episodes=1, on_demo_states=True), None)
    results = evaluate(policy, EvalConfig(episodes=2, max_steps=2, on_demo_states=True), progress=False)
    assert [record["seed"] for record in results["per_episode"]] == [0, 1]
    assert results["settings"]["on_demo_states"] is True
    assert "not held-out" in format_summary(results) and "not held-out" in results_markdown_table([results])
    output = tmp_path / "demo_states.json"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "evaluate_act_proper.py"), "--checkpoint", tiny_checkpoint,
         "--episodes", "1", "--max_steps", "2", "--on_demo_states", "--device", "cpu", "--quiet",
         "--output", str(output)],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(output.read_text())["per_episode"][0]["seed"] == 0


def test_env_mismatch_is_refused_with_a_clear_message(tiny_checkpoint):
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    check_env_matches_policy(policy.env_config(), policy)
    with pytest.raises(ValueError, match=r"cameras: checkpoint \('behindGripper',\), env \('corner',\)"):
        check_env_matches_policy(EnvConfig(cameras=("corner",), image_size=64), policy)
    with pytest.raises(ValueError, match="image_size: checkpoint 64, env 128"):
        evaluate(policy, EvalConfig(episodes=1), progress=False, env_config=EnvConfig(image_size=128))
    with pytest.raises(ValueError, match="task: checkpoint 'shelf-place-v3', env 'reach-v3'"):
        check_env_matches_policy(EnvConfig(task="reach-v3", image_size=64), policy)


# -- rollouts -----------------------------------------------------------------------------------
def test_evaluate_stops_at_first_success_and_counts_steps(expert_policy, tiny_demo_file, tmp_path):
    demos = [read_episode(tiny_demo_file, index, with_images=False) for index in range(2)]
    config = EvalConfig(
        seeds=[int(demo["seed"]) for demo in demos], max_steps=150, num_envs=2,
        video_dir=str(tmp_path), num_videos=1, video_size=64,
    )
    results = evaluate(expert_policy, config, progress=False)
    steps_to_success = [int(demo["first_success_step"]) + 1 for demo in demos]  # actions taken
    assert [record["success"] for record in results["per_episode"]] == [True, True]
    assert [record["steps"] for record in results["per_episode"]] == steps_to_success
    assert results["mean_steps_to_success"] == pytest.approx(np.mean(steps_to_success))
    assert results["success_rate"] == 1.0 and results["successes"] == 2
    for record, demo in zip(results["per_episode"], demos, strict=True):
        np.testing.assert_allclose(record["object_init_pos"], demo["object_init_pos"])
        np.testing.assert_allclose(record["goal_pos"], demo["goal_pos"])
        assert record["return"] > 0
    for record in results["per_episode"]:  # the block ends on the shelf, ~28 cm above the table
        assert record["max_object_lift_m"] > 0.2 and record["final_object_to_goal_m"] < 0.07
        # the expert closes its fingers centred over the block (x, y within 2 cm), the hand 3–6 cm above its centre
        dx, dy, dz = record["grasp_offset_m"]
        assert abs(dx) < 0.02 and abs(dy) < 0.02 and 0.03 < dz < 0.06, record["grasp_offset_m"]
    assert results["failure_modes"] == {"failed": 0, "never_lifted": 0, "lifted_not_placed": 0}
    frames = read_video(results["per_episode"][0]["video"])
    assert len(frames) == steps_to_success[0] + 1  # the reset frame, then one per action
    assert is_success_frame(frames[-1]) and not is_success_frame(frames[-2])
    assert results["per_episode"][1]["video"] is None


def test_failure_modes_tell_a_missed_grasp_from_a_block_not_placed(expert_policy, tiny_demo_file):
    demo = read_episode(tiny_demo_file, 0, with_images=False)
    seed, first_success = int(demo["seed"]), int(demo["first_success_step"])
    # cut the expert off 15 steps before success: the block is in the hand, in the air, not on the shelf
    carried = evaluate(expert_policy, EvalConfig(seeds=[seed], max_steps=first_success - 15), progress=False)
    record = carried["per_episode"][0]
    assert not record["success"] and record["max_object_lift_m"] >= 0.02 and record["final_object_to_goal_m"] > 0.07
    assert carried["failure_modes"] == {"failed": 1, "never_lifted": 0, "lifted_not_placed": 1}
    # on a task that picks nothing up (a drawer's handle rises as it slides) only the count is kept
    assert failure_modes(carried["per_episode"], "drawer-open-v3") == {"failed": 1}
    assert "failures" not in format_summary({**carried, "failure_modes": {"failed": 1}})
    assert "0 never lifted the object 2 cm, 1 lifted it but did not place it" in format_summary(carried)
    # 10 steps of the expert only reach towards the block
    reaching = evaluate(expert_policy, EvalConfig(seeds=[seed], max_steps=10), progress=False)
    assert reaching["per_episode"][0]["max_object_lift_m"] < 0.005
    assert reaching["per_episode"][0]["grasp_offset_m"] is None  # the fingers are still open
    assert reaching["failure_modes"] == {"failed": 1, "never_lifted": 1, "lifted_not_placed": 0}
    assert "failures" not in format_summary(reaching)  # nothing was lifted anywhere: the split says nothing


def test_evaluate_script_end_to_end(tiny_checkpoint, tmp_path):
    output = tmp_path / "results.json"
    video_dir = tmp_path / "videos"
    command = [
        sys.executable, os.path.join(ROOT, "scripts", "evaluate_act_proper.py"), "--checkpoint", tiny_checkpoint,
        "--episodes", "3", "--max_steps", "20", "--num_envs", "2", "--video_dir", str(video_dir),
        "--num_videos", "1", "--output", str(output), "--device", "cpu", "--quiet",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "success rate" in done.stdout
    results = json.loads(output.read_text())
    for key in ("success_rate", "successes", "episodes", "wilson_ci_95", "mean_steps_to_success",
                "median_steps_to_success", "episodes_per_minute", "wall_s", "settings", "checkpoint"):
        assert key in results, key
    assert results["episodes"] == 3 and 0.0 <= results["success_rate"] <= 1.0
    assert results["resumed_episodes"] == 0 and not (tmp_path / "results.json.partial").exists()
    low, high = results["wilson_ci_95"]
    assert 0.0 <= low <= results["success_rate"] <= high <= 1.0
    seeds = [EVAL_SEED_OFFSET + i for i in range(3)]
    assert [record["seed"] for record in results["per_episode"]] == seeds
    for record in results["per_episode"]:
        assert set(record) >= {"seed", "object_init_pos", "goal_pos", "success", "steps", "return"}
        assert len(record["object_init_pos"]) == len(record["goal_pos"]) == 3
        assert 1 <= record["steps"] <= 20
    assert results["settings"]["seeds"] == seeds and results["settings"]["num_envs"] == 2
    assert results["settings"]["query_freq"] == 5 and results["settings"]["temporal_agg"] is False
    identity = results["checkpoint"]
    assert identity["sha256"] == ACTPolicy.from_checkpoint(tiny_checkpoint).identity()["sha256"]
    assert (identity["task"], identity["cameras"], identity["image_size"]) == ("shelf-place-v3", ["behindGripper"], 64)
    assert identity["step"] == load_checkpoint(tiny_checkpoint)["step"]
    assert sorted(os.listdir(video_dir)) == [f"episode_{EVAL_SEED_OFFSET}.mp4"]
    frames = read_video(video_dir / f"episode_{EVAL_SEED_OFFSET}.mp4")
    assert len(frames) == results["per_episode"][0]["steps"] + 1
    assert frames[0].shape == (256, 256, 3)
    headline = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "results_table.py"), str(output)],
                              capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    assert headline[0].startswith("| task | model | recipe | seed | seeds | chunk execution")
    assert [cell.strip() for cell in headline[2].strip("|").split("|")][:7] == [
        "shelf-place-v3", "standard", "-", "0", "validation",
        f"{results['successes']}/{results['episodes']} [{low:.2f}, {high:.2f}]", "-"]
    table = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "results_table.py"), "--per_file", str(output)],
                           capture_output=True, text=True, timeout=120, check=True).stdout.splitlines()
    assert len(table) == 3 and table[0].startswith("| run | task | model | cameras | train steps |")
    row = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert row[:6] == ["results", "shelf-place-v3", "standard", "behindGripper @ 64 px", str(identity["step"]),
                       "chunk (every 5)"]
    assert row[6] == f"{results['success_rate']:.2f} ({results['successes']}/3)"


def test_journal_resumes_an_evaluation_with_only_the_missing_episodes(tiny_checkpoint, tmp_path):
    """An evaluation cut short after 2 of 3 episodes, resumed from its journal, gives the result of an
    uninterrupted one and plays only the third episode; other settings, or a torn line, are handled."""
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    journal_file = tmp_path / "run.json.partial"
    first = evaluate(policy, EvalConfig(episodes=2, max_steps=6), progress=False,
                     journal=open_journal(journal_file, policy, EvalConfig(episodes=2, max_steps=6)))
    assert len(journal_file.read_text().splitlines()) == 1 + 2  # the key, then one line per episode
    with open(journal_file, "a") as f:
        f.write('{"record": {"seed": 12')  # a crash mid-write
    config = EvalConfig(episodes=3, max_steps=6)
    journal = open_journal(journal_file, policy, config)
    assert sorted(journal.records) == [EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + 1]
    resumed = evaluate(policy, config, progress=False, journal=journal)
    assert resumed["resumed_episodes"] == 2 and resumed["episodes"] == 3
    assert len(journal_file.read_text().splitlines()) == 1 + 3
    assert resumed["wall_s"] >= first["wall_s"]
    uninterrupted = evaluate(policy, config, progress=False)
    assert uninterrupted["resumed_episodes"] == 0
    for key in ("seed", "success", "steps", "object_init_pos", "goal_pos"):
        assert [e[key] for e in resumed["per_episode"]] == [e[key] for e in uninterrupted["per_episode"]], key
    assert resumed["per_episode"][:2] == first["per_episode"]
    # the journal of one evaluation is never mixed into another's
    with pytest.raises(JournalMismatch, match=r"differs in: execution"):
        open_journal(journal_file, policy, EvalConfig(episodes=3, max_steps=6, temporal_agg=True))
    with pytest.raises(JournalMismatch, match=r"differs in: env, max_steps"):
        open_journal(journal_file, policy, EvalConfig(episodes=3, max_steps=7))


def test_evaluate_script_resumes_only_when_asked(tiny_checkpoint, tmp_path):
    output = tmp_path / "results.json"
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    evaluate(policy, EvalConfig(episodes=1, max_steps=6), progress=False,
             journal=open_journal(journal_path(output), policy, EvalConfig(episodes=1, max_steps=6)))
    command = [
        sys.executable, os.path.join(ROOT, "scripts", "evaluate_act_proper.py"), "--checkpoint", tiny_checkpoint,
        "--episodes", "2", "--max_steps", "6", "--output", str(output), "--device", "cpu", "--quiet",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "holds an interrupted evaluation; pass --resume" in refused.stderr and not output.exists()
    other = subprocess.run(command + ["--resume", "--temporal_agg"], capture_output=True, text=True, env=env,
                           timeout=300, check=False)
    assert other.returncode == 2 and "holds episodes of another evaluation (differs in: execution)" in other.stderr
    done = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "resuming: 1 finished episode(s)" in done.stdout
    results = json.loads(output.read_text())
    assert results["resumed_episodes"] == 1 and results["episodes"] == 2
    assert [e["seed"] for e in results["per_episode"]] == [EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + 1]
    assert not journal_path(output).exists()  # the results file replaces the journal


def test_videos_can_show_another_camera_than_the_policy_sees(tiny_checkpoint, tmp_path):
    """--video_camera renders the videos from a fixed view; the policy still sees its own camera."""
    from envs import MetaWorldEnv

    config = EvalConfig(episodes=1, max_steps=2, video_dir=str(tmp_path), num_videos=1, video_size=64,
                        video_camera="corner2")
    results = evaluate_checkpoint(tiny_checkpoint, config, progress=False)
    first = read_video(results["per_episode"][0]["video"])[0].astype(float)
    env = MetaWorldEnv(EnvConfig(task="shelf-place-v3", cameras=("behindGripper",), image_size=64))
    try:
        env.reset(EVAL_SEED_OFFSET)
        corner2, behind = (env.render(camera, 64).astype(float) for camera in ("corner2", "behindGripper"))
    finally:
        env.close()
    below_label = slice(16, None)  # the "step 0" label covers the top-left corner
    assert np.abs(first[below_label] - corner2[below_label]).mean() < 0.3 * np.abs(first[below_label] - behind[below_label]).mean()
    assert results["checkpoint"]["cameras"] == ["behindGripper"]
    with pytest.raises(ValueError, match="corner9"):
        EvalConfig(video_camera="corner9")


def test_evaluate_script_reports_user_errors_in_one_line(tmp_path):
    command = [sys.executable, os.path.join(ROOT, "scripts", "evaluate_act_proper.py"),
               "--checkpoint", str(tmp_path / "missing.pth"), "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no such checkpoint" in lines[0], done.stderr


def test_demo_video_replays_recorded_frames(tiny_demo_file, tmp_path):
    info = validate_demo_file(tiny_demo_file)
    demo = read_episode(tiny_demo_file, 0, with_images=False)
    (path,) = write_demo_videos(tiny_demo_file, tmp_path, num_videos=1, size=128)
    assert path.name == f"demo_{info.episode_seeds[0]}.mp4"
    frames = read_video(path)
    assert len(frames) == info.episode_lengths[0] and frames[0].shape == (128, 128, 3)
    first_success = int(demo["first_success_step"])
    assert not is_success_frame(frames[first_success]) and is_success_frame(frames[first_success + 1])


# -- MetaWorld's own evaluation loop -------------------------------------------------------------
def test_metaworld_harness_scores_the_tiny_checkpoint(tiny_checkpoint):
    scores = score_with_metaworld_harness(tiny_checkpoint, num_episodes=3, num_envs=2, max_steps=10)
    assert scores["episodes"] == 3 and len(scores["returns"]) == 3
    assert 0.0 <= scores["success_rate"] <= 1.0
    assert scores["success_rate_per_task"].keys() == {"shelf-place-v3"}


def test_metaworld_harness_agrees_with_evaluate(expert_policy):
    from metaworld.evaluation import evaluation as metaworld_evaluation

    envs = make_harness_envs(expert_policy, num_envs=1, seed=0, max_steps=150)
    try:
        agent = ACTHarnessAgent(expert_policy, envs)
        success_rate, _, _, returns = metaworld_evaluation(agent, envs, num_episodes=2)
        with pytest.raises(RuntimeError, match="does not belong to the state"):
            agent.eval_action(np.zeros((1, 39)))
    finally:
        envs.close()
    ours = evaluate(expert_policy, EvalConfig(seeds=[EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + 1], max_steps=150),
                    progress=False)
    assert success_rate == ours["success_rate"]
    np.testing.assert_allclose(returns["shelf-place-v3"], [r["return"] for r in ours["per_episode"]], rtol=1e-6)


def test_harness_envs_play_held_out_seeds_in_order(tiny_checkpoint):
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    envs = make_harness_envs(policy, num_envs=2, seed=10, max_steps=3)
    try:
        observations, _ = envs.reset()
        assert observations.shape == (2, 39)
        assert envs.get_attr("episode_seed") == (EVAL_SEED_OFFSET + 10, EVAL_SEED_OFFSET + 11)
        for _ in range(3):  # the third step truncates and autoresets both envs
            envs.step(np.zeros((2, 4)))
        assert envs.get_attr("episode_seed") == (EVAL_SEED_OFFSET + 12, EVAL_SEED_OFFSET + 13)
    finally:
        envs.close()



def test_harness_agent_refuses_envs_of_another_task(tiny_checkpoint):
    """A shelf-place policy handed reach-v3 environments is refused before any episode, naming both."""
    import gymnasium as gym

    from envs import EnvConfig
    from evaluation.metaworld_harness import SeededCameraEnv

    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    config = EnvConfig(task="reach-v3", cameras=policy.cameras, image_size=policy.image_size, max_steps=3)
    envs = gym.vector.SyncVectorEnv([lambda: SeededCameraEnv(config, iter(range(EVAL_SEED_OFFSET, EVAL_SEED_OFFSET + 9)))])
    try:
        with pytest.raises(ValueError, match="runs reach-v3 .* trained on shelf-place-v3"):
            ACTHarnessAgent(policy, envs)
    finally:
        envs.close()
    with pytest.raises(ValueError, match="make_harness_envs"):
        ACTHarnessAgent(policy, gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")]))


def test_evaluation_in_worker_processes_equals_the_in_process_one(tiny_checkpoint, tmp_path):
    """--workers moves stepping and rendering into processes; the episodes, their seeds, actions and
    outcomes stay those of the in-process loop (videos included)."""
    runs = {}
    for workers in (0, 2):
        policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
        config = EvalConfig(episodes=5, max_steps=12, num_envs=3, workers=workers, num_videos=1,
                            video_dir=str(tmp_path / f"videos_{workers}"))
        runs[workers] = evaluate(policy, config, progress=False)
    serial, parallel = runs[0], runs[2]
    for ours, theirs in zip(serial["per_episode"], parallel["per_episode"], strict=True):
        assert {k: v for k, v in ours.items() if k != "video"} == {k: v for k, v in theirs.items() if k != "video"}
    assert [r["seed"] for r in parallel["per_episode"]] == [r["seed"] for r in serial["per_episode"]]
    assert parallel["settings"]["workers"] == 2
    import imageio.v3 as iio

    video = "episode_" + str(serial["per_episode"][0]["seed"]) + ".mp4"
    assert np.array_equal(iio.imread(tmp_path / "videos_0" / video), iio.imread(tmp_path / "videos_2" / video))
