"""Scoring an ACT checkpoint with MetaWorld's own evaluation loop (``metaworld.evaluation.evaluation``).

That loop is unmodified: it resets a gymnasium vector env, asks ``agent.eval_action(obs)`` for a
batch of actions, steps, and counts ``final_info["success"]`` and the episode return of every
finished episode (it turns terminate-on-success on through ``toggle_terminate_on_success``). It hands
the agent only the observation array, while ACT needs the joint state and the camera images.

Design: the vector env stays a standard MetaWorld-style env whose observation is the 39-float state,
so the harness and its ``Agent`` protocol are used exactly as written. Each sub-env is a
`SeededCameraEnv`: our `envs.MetaWorldEnv` (fresh seeded initial state per reset, seeds from
EVAL_SEED_OFFSET up, images rendered exactly as in collection) exposed as a ``gymnasium.Env`` that
keeps its latest full observation (qpos + images) in the attribute ``camera_observation``. It is
wrapped like MetaWorld's own envs (`AutoTerminateOnSuccessWrapper`, then
``RecordEpisodeStatistics``) and vectorised with ``SyncVectorEnv`` in SAME_STEP autoreset mode (what
the harness expects: ``final_info`` on the step an episode ends, and the next episode's first
observation returned at once). `ACTHarnessAgent` holds the vector env and reads
``envs.get_attr("camera_observation")`` in `eval_action`; because autoreset happens inside ``step``,
that attribute always belongs to the same state as the observation row the harness passes, and the
agent checks this (the 39-float state must match exactly) so a misaligned index cannot go unnoticed.

Sub-env ``i`` of ``n`` plays seeds ``EVAL_SEED_OFFSET + seed + i + j * n`` for its j-th episode.

Caveat of the harness itself: with more than one env it keeps the *first* ``num_episodes`` episodes
to finish, and successful episodes end early, so ``num_envs > 1`` biases its success rate upward.
`evaluation.rollout.evaluate` scores a fixed seed list instead; use it for reported numbers.
"""

from __future__ import annotations

import itertools
import os
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from metaworld.evaluation import evaluation as metaworld_evaluation
from metaworld.wrappers import AutoTerminateOnSuccessWrapper

from envs import EVAL_SEED_OFFSET, EnvConfig, MetaWorldEnv
from envs.metaworld_wrapper import ACTION_DIM, ENV_STATE_DIM
from evaluation.policy import ACTPolicy


class SeededCameraEnv(gym.Env):
    """`envs.MetaWorldEnv` as a gymnasium Env: observation = the 39-float MetaWorld state;
    ``camera_observation`` = the latest full observation dict (qpos, env_state, images)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, env_config: EnvConfig, seeds: Any, demo_seeds: list[int] | None = None) -> None:
        self._env = MetaWorldEnv(env_config)
        self._seeds = iter(seeds)
        self._demo_seeds = set(demo_seeds or ())
        # The harness maps the MetaWorld class name back to the task name.
        self.task_name = type(self._env.raw_env).__name__
        self.env_config = env_config  # what the agent checks against its policy
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (ENV_STATE_DIM,), dtype=np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), dtype=np.float32)
        self.camera_observation: dict[str, Any] | None = None
        self.episode_seed: int | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Starts the next scheduled seed's episode (an explicit `seed` replaces it)."""
        super().reset(seed=seed)
        episode_seed = int(seed) if seed is not None else int(next(self._seeds))
        if episode_seed in self._demo_seeds:
            raise ValueError(f"seed {episode_seed} is a training demonstration's seed; use held-out seeds")
        self.camera_observation = self._env.reset(episode_seed)
        self.episode_seed = episode_seed
        return self.camera_observation["env_state"], {"seed": episode_seed}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, _, info = self._env.step(action)
        self.camera_observation = obs
        return obs["env_state"], reward, False, bool(info["truncated"]), info

    def close(self) -> None:
        self._env.close()
        super().close()


def make_harness_envs(
    policy: ACTPolicy, num_envs: int = 1, seed: int = 0, max_steps: int = 500
) -> gym.vector.SyncVectorEnv:
    """The vector env ``metaworld.evaluation.evaluation`` needs, built from the policy's metadata."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    env_config = policy.env_config(max_steps=max_steps)

    def make(index: int) -> gym.Env:
        seeds = (EVAL_SEED_OFFSET + seed + index + j * num_envs for j in itertools.count())
        env: gym.Env = SeededCameraEnv(env_config, seeds, policy.demo_seeds)
        env = AutoTerminateOnSuccessWrapper(env)
        env.toggle_terminate_on_success(True)
        return gym.wrappers.RecordEpisodeStatistics(env)

    return gym.vector.SyncVectorEnv(
        [lambda index=index: make(index) for index in range(num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


class ACTHarnessAgent:
    """`metaworld.evaluation.Agent` around `ACTPolicy`: reads the images from the vector env."""

    def __init__(self, policy: ACTPolicy, envs: gym.vector.VectorEnv) -> None:
        """Raises ValueError unless `envs` were made by `make_harness_envs` for this policy's task and cameras."""
        try:
            configs = list(envs.get_attr("env_config"))
        except AttributeError:
            raise ValueError("the vector env must be made by make_harness_envs (its envs render the policy's "
                             "cameras)") from None
        expected = policy.env_config()
        for index, config in enumerate(configs):
            if (config.task, tuple(config.cameras), config.image_size) != (
                    expected.task, tuple(expected.cameras), expected.image_size):
                raise ValueError(
                    f"env {index} runs {config.task} with cameras {list(config.cameras)} at {config.image_size} px, "
                    f"but the policy was trained on {expected.task} with {list(expected.cameras)} at "
                    f"{expected.image_size} px; make the envs with make_harness_envs(policy)"
                )
        self.policy = policy
        self.envs = envs

    def reset(self, env_mask: np.ndarray) -> None:
        env_mask = np.asarray(env_mask, dtype=bool)
        if self.policy.num_envs is None or env_mask.all():
            self.policy.reset()
            self.policy.reset(env_mask)  # fixes the batch size to the vector env's
        elif env_mask.any():
            self.policy.reset(env_mask)

    def eval_action(self, observations: np.ndarray) -> np.ndarray:
        """(E, 4) float64 actions for the (E, 39) states the harness passes."""
        camera_observations = list(self.envs.get_attr("camera_observation"))
        for index, obs in enumerate(camera_observations):
            if obs is None or not np.array_equal(obs["env_state"], observations[index]):
                raise RuntimeError(
                    f"env {index}: its camera observation does not belong to the state the harness passed; "
                    "the vector env must be made by make_harness_envs (SyncVectorEnv, SAME_STEP autoreset)"
                )
        return self.policy.select_action(camera_observations).astype(np.float64)  # (E, 4)


def score_with_metaworld_harness(
    checkpoint: str | os.PathLike,
    num_episodes: int = 50,
    num_envs: int = 1,
    seed: int = 0,
    max_steps: int = 500,
    temporal_agg: bool = False,
    query_freq: int | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """MetaWorld's evaluation loop on `checkpoint`: mean success rate, mean return and per-episode returns."""
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    policy = ACTPolicy.from_checkpoint(checkpoint, device=device, temporal_agg=temporal_agg, query_freq=query_freq)
    envs = make_harness_envs(policy, num_envs=num_envs, seed=seed, max_steps=max_steps)
    try:
        success_rate, mean_return, per_task, returns = metaworld_evaluation(
            ACTHarnessAgent(policy, envs), envs, num_episodes=num_episodes
        )
    finally:
        envs.close()
    episode_returns = [float(value) for task_returns in returns.values() for value in task_returns]
    return {
        "success_rate": float(success_rate),
        "mean_return": float(mean_return),
        "episodes": len(episode_returns),
        "returns": episode_returns,
        "success_rate_per_task": {task: float(rate) for task, rate in per_task.items()},
        "settings": {
            "num_episodes": num_episodes, "num_envs": num_envs, "seed": seed, "max_steps": max_steps,
            **policy.settings(),
        },
        "checkpoint": policy.identity(),
    }
