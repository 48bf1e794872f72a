"""Collect scripted-expert demonstrations over randomized initial states into HDF5.

Episode ``k`` of a run uses seed ``config.seed + k``; an episode whose expert
fails is dropped and the next seed is tried, so the kept set is "the first
`num_demos` successful seeds from `config.seed` up", whatever the number of
workers. Each kept seed is a distinct initial state (see `metaworld_wrapper`).

"""

from __future__ import annotations

import importlib.metadata
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from tqdm import tqdm

from envs.experts import check_grasp_depth, expert_action, make_expert, reset_expert
from envs.hdf5_demos import DemoWriter, partial_path
from envs.metaworld_wrapper import (
    ACTION_DIM,
    COLLECTION_SEED_LIMIT,
    ENV_STATE_DIM,
    QPOS_DIM,
    EnvConfig,
    MetaWorldEnv,
    check_cameras,
    check_task,
)


@dataclass
class CollectConfig:
    task: str = "shelf-place-v3"  # MetaWorld v3 task name
    num_demos: int = 50  # successful episodes to keep
    output: str = "data/shelf-place-v3.hdf5"  # HDF5 file to write
    cameras: tuple[str, ...] = field(default_factory=lambda: ("behindGripper",))  # cameras to record
    image_size: int = 128  # square image side in pixels
    seed: int = 0  # first episode seed; episode k uses seed + k
    workers: int = 1  # parallel collection processes
    steps_after_success: int = 20  # steps recorded after the first success, so a policy learns to finish
    fast_render: bool = True  # shadows and reflections off
    overwrite: bool = False  # replace an existing output file
    resume: bool = False  # continue an interrupted run's .partial file
    max_attempts: int = 0  # seeds to try before giving up; 0 = 2 * num_demos + 20
    # DART-style noise injection: the executed hand motion is expert + N(0, action_noise²) per step
    # (x, y, z only; the gripper command is left clean), while the recorded label stays the clean
    # expert action, so the data shows the expert correcting small drifts. 0 = clean demonstrations.
    action_noise: float = 0.0
    # shelf-place-v3 only: the expert descends this many metres further onto the block before it
    # lifts (envs/experts.py DeeperGraspExpert), so the demos grasp with a wider height margin. 0 = MetaWorld's expert.
    grasp_depth: float = 0.0
    # shelf-place-v3 only: > 0 makes the expert descend with open fingers, close them standing still
    # for this many steps, then lift (DeeperGraspExpert), so the lift follows the fingers, not the height.
    grasp_hold: int = 0

    def __post_init__(self) -> None:
        check_task(self.task)
        self.cameras = check_cameras(self.cameras)
        if self.num_demos < 1:
            raise ValueError(f"num_demos must be at least 1, got {self.num_demos}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.steps_after_success < 0:
            raise ValueError(f"steps_after_success must be >= 0, got {self.steps_after_success}")
        if not 0.0 <= self.action_noise <= 1.0:
            raise ValueError(f"action_noise must be in [0, 1] (actions live in [-1, 1]), got {self.action_noise}")
        check_grasp_depth(self.task, self.grasp_depth, self.grasp_hold)
        if self.max_attempts == 0:
            self.max_attempts = 2 * self.num_demos + 20
        if self.max_attempts < self.num_demos:
            raise ValueError(f"max_attempts ({self.max_attempts}) is below num_demos ({self.num_demos})")
        if not 0 <= self.seed or self.seed + self.max_attempts > COLLECTION_SEED_LIMIT:
            raise ValueError(
                f"collection seeds must lie in [0, {COLLECTION_SEED_LIMIT}) so evaluation seeds stay held out; "
                f"seed {self.seed} + {self.max_attempts} seeds does not"
            )

    def seed_order(self) -> list[int]:
        """The `max_attempts` seeds to try, in the order they are tried."""
        return list(range(self.seed, self.seed + self.max_attempts))

    def env_config(self) -> EnvConfig:
        return EnvConfig(
            task=self.task, cameras=self.cameras, image_size=self.image_size, fast_render=self.fast_render
        )


def run_expert_episode(
    env: MetaWorldEnv, expert: Any, seed: int, steps_after_success: int, action_noise: float = 0.0
) -> dict[str, Any]:
    """Rolls the expert out from the initial state of `seed`.

    Records (observation_t, action_t) pairs until `steps_after_success` steps after
    the first success, or until the episode limit. ``success`` says whether it succeeded.
    With ``action_noise > 0`` the env executes the expert's action plus Gaussian noise on the hand
    motion (drawn from a generator seeded by `seed`), and ``actions`` still holds the clean labels.
    """
    obs = env.reset(seed)
    reset_expert(expert)
    initial = env.initial_positions()
    noise_rng = np.random.default_rng([seed, 7919])  # reproducible per episode, independent of the env's
    record: dict[str, Any] = {"qpos": [], "env_state": [], "actions": [], "images": {c: [] for c in obs["images"]}}
    first_success_step = -1
    for step in range(env.config.max_steps):
        action = expert_action(expert, obs["env_state"])  # (4,) clean label
        record["qpos"].append(obs["qpos"])
        record["env_state"].append(obs["env_state"])
        record["actions"].append(action)
        for camera, image in obs["images"].items():
            record["images"][camera].append(image)
        executed = action
        if action_noise > 0:
            executed = action.copy()
            executed[:3] += noise_rng.normal(0.0, action_noise, size=3)  # x, y, z only
        obs, _, success, _ = env.step(executed)
        if success and first_success_step < 0:
            first_success_step = step
        if first_success_step >= 0 and step - first_success_step >= steps_after_success:
            break
    return {
        "seed": seed,
        "success": first_success_step >= 0,
        "first_success_step": first_success_step,
        "qpos": np.stack(record["qpos"]),  # (T, 4)
        "env_state": np.stack(record["env_state"]),  # (T, 39)
        "actions": np.stack(record["actions"]),  # (T, 4)
        "images": {c: np.stack(frames) for c, frames in record["images"].items()},  # {cam: (T, H, W, 3)}
        "object_init_pos": initial["object_pos"],
        "goal_pos": initial["goal_pos"],
    }


# -- worker processes ---------------------------------------------------------------
_worker_state: dict[str, Any] = {}


def _worker_init(
    env_config: EnvConfig,
    steps_after_success: int,
    action_noise: float = 0.0,
    grasp_depth: float = 0.0,
    grasp_hold: int = 0,
    single_threaded_gl: bool = False,
) -> None:
    if single_threaded_gl:
        # Mesa's software rasteriser (llvmpipe) spreads one render over every core; with one
        # worker process per core that oversubscribes the CPU, so each worker renders on one thread.
        os.environ.setdefault("LP_NUM_THREADS", "1")
    _worker_state["env"] = MetaWorldEnv(env_config)
    _worker_state["expert"] = make_expert(env_config.task, grasp_depth, grasp_hold)
    _worker_state["steps_after_success"] = steps_after_success
    _worker_state["action_noise"] = action_noise


def _worker_episode(seed: int) -> dict[str, Any]:
    return run_expert_episode(
        _worker_state["env"], _worker_state["expert"], seed, _worker_state["steps_after_success"],
        _worker_state["action_noise"],
    )


def _episodes(config: CollectConfig, seeds: list[int]) -> Iterator[dict[str, Any]]:
    """Yields episodes in seed order, from this process or from a pool of workers."""
    if config.workers == 1:
        _worker_init(
            config.env_config(), config.steps_after_success, config.action_noise, config.grasp_depth, config.grasp_hold,
        )
        try:
            for seed in seeds:
                yield _worker_episode(seed)
        finally:
            _worker_state.pop("env").close()
        return
    # spawn, not fork: a forked child must not inherit this process's GL contexts.
    context = mp.get_context("spawn")
    with context.Pool(
        config.workers,
        initializer=_worker_init,
        initargs=(
            config.env_config(), config.steps_after_success, config.action_noise, config.grasp_depth,
            config.grasp_hold, config.workers >= (os.cpu_count() or 1),
        ),
    ) as pool:
        yield from pool.imap(_worker_episode, seeds, chunksize=1)
        pool.terminate()


def file_attributes(config: CollectConfig, command: str) -> dict[str, Any]:
    return {
        "task": config.task,
        "cameras": json.dumps(list(config.cameras)),
        "image_size": config.image_size,
        "fast_render": config.fast_render,
        "steps_after_success": config.steps_after_success,
        "action_noise": config.action_noise,
        "grasp_depth": config.grasp_depth,
        "grasp_hold": config.grasp_hold,
        "qpos_dim": QPOS_DIM,
        "env_state_dim": ENV_STATE_DIM,
        "action_dim": ACTION_DIM,
        "metaworld_version": importlib.metadata.version("metaworld"),
        "mujoco_version": mujoco.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command,
        "collect_config": json.dumps(asdict(config)),
    }


class OutputExistsError(FileExistsError):
    pass


def collect_demos(config: CollectConfig, command: str = "", progress: bool = True) -> dict[str, Any]:
    """Collects `config.num_demos` successful expert episodes into `config.output`; returns a summary.

    On KeyboardInterrupt the ``.partial`` file keeps every finished episode and
    the interrupt is re-raised; rerun with ``resume=True`` to continue.
    """
    output = Path(config.output)
    if output.exists() and not config.overwrite:
        raise OutputExistsError(f"{output} exists; pass --overwrite to replace it or choose another --output")
    if partial_path(output).exists() and not (config.resume or config.overwrite):
        raise OutputExistsError(
            f"{partial_path(output)} holds an interrupted collection; pass --resume to continue it "
            "or --overwrite to start again"
        )
    if config.resume and not partial_path(output).exists():
        raise OutputExistsError(f"nothing to resume: {partial_path(output)} does not exist; "
                                "drop --resume to start a new collection")
    writer = DemoWriter(output, file_attributes(config, command or " ".join(sys.argv)), resume=config.resume)
    already = writer.num_episodes
    done = writer.done_seeds
    seeds = [s for s in config.seed_order() if s not in done]
    kept_lengths: list[int] = []
    failed = 0
    frames = 0
    start = time.perf_counter()
    bar = tqdm(total=config.num_demos, initial=already, desc=f"collect {config.task}", unit="demo", disable=not progress)
    try:
        if already < config.num_demos:
            for episode in _episodes(config, seeds):
                frames += len(episode["actions"])
                if episode["success"]:
                    writer.append_episode(episode)
                    kept_lengths.append(len(episode["actions"]))
                    bar.update(1)
                else:
                    writer.add_failed_seed(episode["seed"])
                    failed += 1
                    bar.set_postfix(failed=failed)
                if writer.num_episodes >= config.num_demos:
                    break
        if writer.num_episodes < config.num_demos:
            raise RuntimeError(
                f"Only {writer.num_episodes}/{config.num_demos} successful episodes after "
                f"{config.max_attempts} seeds; the expert fails too often on {config.task} "
                f"(raise --max_attempts). Progress is kept in {writer.path}; rerun with --resume."
            )
        final_path = writer.finalize()
    except BaseException:
        writer.close()
        raise
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    return summarize(final_path, new_frames=frames, elapsed_s=elapsed, failed_this_run=failed)


def summarize(path: str | os.PathLike, new_frames: int = 0, elapsed_s: float = 0.0, failed_this_run: int = 0) -> dict[str, Any]:
    """Summary of a finished demonstration file: lengths, success rate, spread of initial states."""
    from envs.hdf5_demos import read_episode, validate_demo_file

    info = validate_demo_file(path)
    starts = [read_episode(path, i, with_images=False) for i in range(info.num_episodes)]
    object_pos = np.stack([e["object_init_pos"] for e in starts])  # (E, 3)
    goal_pos = np.stack([e["goal_pos"] for e in starts])  # (E, 3)
    failed_total = len(json.loads(info.attrs.get("failed_seeds", "[]")))
    lengths = np.array(info.episode_lengths)

    def spread(values: np.ndarray) -> dict[str, list[float]]:
        return {
            "std": values.std(axis=0).round(4).tolist(),
            "min": values.min(axis=0).round(4).tolist(),
            "max": values.max(axis=0).round(4).tolist(),
        }

    return {
        "output": str(path),
        "task": info.task,
        "cameras": list(info.cameras),
        "image_size": info.image_size,
        "episodes": info.num_episodes,
        "distinct_initial_states": len(np.unique(np.concatenate([object_pos, goal_pos], 1).round(6), axis=0)),
        "length_mean": round(float(lengths.mean()), 1),
        "length_min": int(lengths.min()),
        "length_max": int(lengths.max()),
        "expert_failures": failed_total,
        "expert_success_rate": round(info.num_episodes / (info.num_episodes + failed_total), 4),
        "kept_episodes_successful": round(float(np.mean([e["first_success_step"] >= 0 for e in starts])), 4),
        "frames_per_s": round(new_frames / elapsed_s, 1) if elapsed_s > 0 else None,
        "wall_s": round(elapsed_s, 1),
        "file_size_mb": round(os.path.getsize(path) / 2**20, 2),
        "object_init_pos_xyz": spread(object_pos),
        "goal_pos_xyz": spread(goal_pos),
        "failed_this_run": failed_this_run,
    }
