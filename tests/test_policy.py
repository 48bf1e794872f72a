"""Tests of the rollout policy (evaluation/policy.py): temporal aggregation, chunk execution,
per-environment resets, observation checks and checkpoint loading."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch
from torch import nn

from evaluation.policy import ACTPolicy, TemporalAggregator
from training.checkpoint import CheckpointError, load_checkpoint

CAMERA = "behindGripper"
SIZE = 64


def make_obs(num_envs: int, seed: int, camera: str = CAMERA, size: int = SIZE) -> dict:
    """A random observation batch in the policy's input format."""
    rng = np.random.default_rng(seed)
    return {
        "qpos": rng.standard_normal((num_envs, 4)).astype(np.float32),
        "images": {camera: rng.integers(0, 256, (num_envs, size, size, 3), dtype=np.uint8)},
    }


class RecordingModel(nn.Module):
    """Wraps the real model and records the batch size and output of every call."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.batch_sizes: list[int] = []
        self.outputs: list[torch.Tensor] = []

    def forward(self, qpos, images, action_chunk=None, is_pad=None):
        pred_actions, mu, logvar = self.inner(qpos, images, action_chunk, is_pad)
        self.batch_sizes.append(qpos.shape[0])
        self.outputs.append(pred_actions.detach().clone())
        return pred_actions, mu, logvar


@pytest.fixture
def recording_policy(tiny_checkpoint):
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    policy.model = RecordingModel(policy.model)
    return policy


def played(policy: ACTPolicy, call: int) -> np.ndarray:
    """(B, S, A) unnormalised chunk the policy got from its `call`-th model call."""
    return policy.normalizer.unnormalize_actions(policy.model.outputs[call]).numpy()


# -- temporal aggregation ---------------------------------------------------------------------
def test_temporal_aggregation_matches_hand_computed_vote():
    k = 0.5
    aggregator = TemporalAggregator(num_envs=1, chunk_size=3, action_dim=2, k=k)
    chunk_0 = np.array([[[0.0, 0.0], [2.0, 1.0], [1.0, 0.0]]])  # predicted at step 0
    chunk_1 = np.array([[[6.0, 3.0], [4.0, 1.0], [9.0, 9.0]]])  # predicted at step 1
    chunk_2 = np.array([[[10.0, 2.0], [7.0, 7.0], [5.0, 5.0]]])  # predicted at step 2
    chunk_3 = np.array([[[3.0, 8.0], [0.0, 0.0], [0.0, 0.0]]])  # predicted at step 3

    aggregator.add(chunk_0, steps=0)
    np.testing.assert_allclose(aggregator.action(0), [[0.0, 0.0]])

    aggregator.add(chunk_1, steps=1)
    # Step 1: chunk_0[1] = (2, 1) is the oldest (weight 1), chunk_1[0] = (6, 3) weighs e^-0.5.
    w_old, w_new = 1.0, math.exp(-0.5)
    expected_1 = [(2 * w_old + 6 * w_new) / (w_old + w_new), (1 * w_old + 3 * w_new) / (w_old + w_new)]
    np.testing.assert_allclose(aggregator.action(1), [expected_1])

    aggregator.add(chunk_2, steps=2)
    # Step 2: chunk_0[2] = (1, 0), chunk_1[1] = (4, 1), chunk_2[0] = (10, 2) with weights 1, e^-0.5, e^-1.
    w = [1.0, math.exp(-0.5), math.exp(-1.0)]
    expected_2 = [
        (1 * w[0] + 4 * w[1] + 10 * w[2]) / sum(w),  # = 3.5985...
        (0 * w[0] + 1 * w[1] + 2 * w[2]) / sum(w),  # = 0.6799...
    ]
    np.testing.assert_allclose(aggregator.action(2), [expected_2])
    assert expected_2[0] == pytest.approx(3.59850, abs=1e-4)

    aggregator.add(chunk_3, steps=3)
    # Step 3: chunk_0 no longer covers it; chunk_1[2] = (9, 9) is now the oldest (weight 1).
    expected_3 = [(9 * w[0] + 7 * w[1] + 3 * w[2]) / sum(w), (9 * w[0] + 7 * w[1] + 8 * w[2]) / sum(w)]
    np.testing.assert_allclose(aggregator.action(3), [expected_3])


def offline_vote(history: list[tuple[int, np.ndarray]], step: int, chunk_size: int, k: float) -> np.ndarray:
    """Naive ACT ensembling: every chunk ever predicted that covers `step`, oldest first."""
    covering = [chunk[step - start] for start, chunk in history if start <= step < start + chunk_size]
    weights = np.exp(-k * np.arange(len(covering)))
    return (weights[:, None] * np.stack(covering)).sum(0) / weights.sum()


@pytest.mark.parametrize("k", [0.3, -0.7])  # older predictions favoured, then newer ones
def test_online_aggregator_equals_offline_weighted_average(k):
    num_envs, chunk_size, action_dim, num_steps = 3, 5, 3, 23
    query_every = [1, 2, 5]  # env e gets a new chunk every query_every[e] steps
    rng = np.random.default_rng(0)
    aggregator = TemporalAggregator(num_envs, chunk_size, action_dim, k)
    buffer_shape = aggregator.chunks.shape
    history: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(num_envs)]
    for step in range(num_steps):
        chunks = rng.standard_normal((num_envs, chunk_size, action_dim))
        due = np.array([step % every == 0 for every in query_every])
        aggregator.add(chunks, steps=step, env_mask=due)
        for env in np.flatnonzero(due):
            history[env].append((step, chunks[env]))
        online = aggregator.action(step)
        for env in range(num_envs):
            np.testing.assert_allclose(online[env], offline_vote(history[env], step, chunk_size, k), rtol=1e-12)
    assert aggregator.chunks.shape == buffer_shape == (num_envs, chunk_size, chunk_size, action_dim)


def test_negative_k_follows_the_newest_prediction():
    aggregator = TemporalAggregator(num_envs=1, chunk_size=4, action_dim=1, k=-8.0)
    for step, value in enumerate((1.0, 2.0, 3.0)):
        aggregator.add(np.full((1, 4, 1), value), steps=step)
    assert aggregator.action(2)[0, 0] == pytest.approx(3.0, abs=1e-3)
    with pytest.raises(ValueError, match="k must be in"):
        TemporalAggregator(num_envs=1, chunk_size=4, action_dim=1, k=float("inf"))


def test_aggregator_refuses_a_step_no_chunk_covers():
    aggregator = TemporalAggregator(num_envs=2, chunk_size=3, action_dim=1)
    aggregator.add(np.ones((2, 3, 1)), steps=0)
    with pytest.raises(RuntimeError, match=r"environment\(s\) \[0, 1\]"):
        aggregator.action(3)


# -- chunk execution and per-environment state --------------------------------------------------
def test_query_freq_calls_model_every_n_steps_and_plays_chunk_in_order(recording_policy):
    policy = recording_policy
    policy.configure(temporal_agg=False, query_freq=3)
    actions = [policy.select_action(make_obs(2, seed=step)) for step in range(7)]
    assert policy.model.batch_sizes == [2, 2, 2]  # queried at steps 0, 3 and 6 only
    for step, action in enumerate(actions):
        np.testing.assert_array_equal(action, played(policy, step // 3)[:, step % 3])
    assert not np.allclose(played(policy, 0), played(policy, 1))  # the chunks really differ


def test_default_query_freq_is_chunk_size_or_one_with_temporal_agg(recording_policy):
    policy = recording_policy
    policy.configure(temporal_agg=False)
    for step in range(7):
        policy.select_action(make_obs(1, seed=step))
    assert policy.query_freq == policy.chunk_size == 5
    assert len(policy.model.batch_sizes) == 2  # steps 0 and 5
    policy.configure(temporal_agg=True)
    for step in range(4):
        policy.select_action(make_obs(1, seed=step))
    assert len(policy.model.batch_sizes) == 2 + 4


@pytest.mark.parametrize("query_freq", [0, 6])
def test_query_freq_outside_chunk_is_refused(tiny_checkpoint, query_freq):
    with pytest.raises(ValueError, match=r"query_freq must be in \[1, chunk_size=5\]"):
        ACTPolicy.from_checkpoint(tiny_checkpoint, query_freq=query_freq)


def test_reset_of_one_env_clears_only_its_aggregation_buffers(recording_policy):
    policy = recording_policy
    policy.configure(temporal_agg=True)
    for step in range(4):
        policy.select_action(make_obs(3, seed=step))
    kept_chunks = policy.aggregator.chunks[[0, 2]].copy()
    kept_starts = policy.aggregator.start_steps[[0, 2]].copy()

    policy.reset(np.array([False, True, False]))

    np.testing.assert_array_equal(policy.steps, [4, 0, 4])
    assert (policy.aggregator.start_steps[1] == -1).all()
    np.testing.assert_array_equal(policy.aggregator.chunks[[0, 2]], kept_chunks)
    np.testing.assert_array_equal(policy.aggregator.start_steps[[0, 2]], kept_starts)
    action = policy.select_action(make_obs(3, seed=10))
    newest = played(policy, -1)  # (3, S, A) chunks predicted at this step
    np.testing.assert_allclose(action[1], newest[1, 0], rtol=1e-6)  # fresh episode: its only chunk
    assert not np.allclose(action[0], newest[0, 0])  # others still average 4 older chunks in
    np.testing.assert_array_equal(policy.steps, [5, 1, 5])


def test_reset_of_one_env_in_chunk_mode_requeries_only_that_env(recording_policy):
    policy = recording_policy
    policy.configure(temporal_agg=False)
    policy.select_action(make_obs(3, seed=0))
    policy.select_action(make_obs(3, seed=1))
    first_chunks = played(policy, 0)
    policy.reset(np.array([False, True, False]))
    action = policy.select_action(make_obs(3, seed=2))
    assert policy.model.batch_sizes == [3, 1]  # only env 1 needed a new chunk
    np.testing.assert_array_equal(action[1], played(policy, 1)[0, 0])
    np.testing.assert_array_equal(action[[0, 2]], first_chunks[[0, 2], 2])


def test_list_of_env_observations_equals_batched_dict(tiny_checkpoint):
    obs = make_obs(2, seed=3)
    as_list = [{"qpos": obs["qpos"][i], "images": {CAMERA: obs["images"][CAMERA][i]}} for i in range(2)]
    first = ACTPolicy.from_checkpoint(tiny_checkpoint).select_action(obs)
    second = ACTPolicy.from_checkpoint(tiny_checkpoint).select_action(as_list)
    assert first.dtype == np.float32 and first.shape == (2, 4)
    np.testing.assert_array_equal(first, second)


def test_env_mask_skips_inactive_envs(recording_policy):
    policy = recording_policy
    actions = policy.select_action(make_obs(3, seed=0), env_mask=np.array([True, False, True]))
    assert policy.model.batch_sizes == [2]
    np.testing.assert_array_equal(actions[1], 0.0)
    np.testing.assert_array_equal(policy.steps, [1, 0, 1])


# -- observation and checkpoint checks ----------------------------------------------------------
def test_observation_with_other_camera_or_size_is_refused(tiny_checkpoint):
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    with pytest.raises(ValueError, match=r"observation cameras \['corner'\].*\['behindGripper'\]"):
        policy.select_action(make_obs(1, seed=0, camera="corner"))
    with pytest.raises(ValueError, match=r"\(1, 64, 64, 3\) \(64 px\), got uint8 \(1, 32, 32, 3\)"):
        policy.select_action(make_obs(1, seed=0, size=32))
    with pytest.raises(ValueError, match=r"holds 3 environments but the current episodes have 1"):
        policy.select_action(make_obs(1, seed=0))
        policy.select_action(make_obs(3, seed=0))


def test_env_config_and_identity_come_from_the_checkpoint(tiny_checkpoint, tiny_demo_file):
    from envs.hdf5_demos import validate_demo_file

    info = validate_demo_file(tiny_demo_file)
    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    env_config = policy.env_config(max_steps=20)
    assert (env_config.task, env_config.cameras, env_config.image_size) == (info.task, info.cameras, info.image_size)
    assert env_config.max_steps == 20
    assert policy.demo_seeds == info.episode_seeds
    identity = policy.identity()
    with open(tiny_checkpoint, "rb") as f:
        assert identity["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert identity["step"] == load_checkpoint(tiny_checkpoint)["step"] == 7
    assert identity["model_kind"] == "standard"


def test_missing_or_foreign_checkpoint_raises_checkpoint_error(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        ACTPolicy.from_checkpoint(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        ACTPolicy.from_checkpoint(garbage)
    foreign = tmp_path / "foreign.pth"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not an ACT checkpoint"):
        ACTPolicy.from_checkpoint(foreign)
    inconsistent = load_checkpoint(tiny_checkpoint)
    inconsistent["env"] = dict(inconsistent["env"], cameras=["corner"])
    with pytest.raises(CheckpointError, match="disagrees with the model config"):
        ACTPolicy.from_checkpoint(inconsistent)
