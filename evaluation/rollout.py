"""Closed-loop evaluation of a trained ACT policy on held-out initial states.

`evaluate(policy, config)` rolls out `num_envs` `envs.MetaWorldEnv` instances, in this process or in
`workers` processes that render side by side (evaluation/env_pool.py), and batches their model queries. Episode ``i`` starts from seed ``seeds[i]`` (default
``SPLIT_OFFSETS[split] + seed + i``: the validation range by default, the test range for reported
figures, both disjoint from every collection seed, see `envs.seeds`); whenever an environment's
episode ends, that environment takes the next unused seed, so the scored set of episodes is fixed by
the seed list and does not depend on `num_envs` or on which episodes finish first. Seeds of the
policy's own training demonstrations are always refused.

An episode is a success when MetaWorld reports success at any step; it stops at the first success
(``steps`` is then the number of actions taken to reach it) or after `max_steps`.

The environment is built from the checkpoint's metadata (`ACTPolicy.env_config`), so the task,
cameras, image size and rendering cannot silently differ from training; a caller that passes its own
`EnvConfig` is checked with `check_env_matches_policy`.

Result dict (also what ``scripts/evaluate_act_proper.py`` writes as JSON):

- ``success_rate``, ``successes``, ``episodes``, ``wilson_ci_95`` ([low, high]),
  ``mean_steps_to_success`` / ``median_steps_to_success`` (over successful episodes; None if none),
  ``episodes_per_minute`` and ``wall_s`` (everything, environment construction included),
  ``setup_s`` (environment construction alone), ``resumed_episodes`` (episodes taken from a journal
  of an interrupted run, `evaluation.journal`; 0 normally);
- ``per_episode``: one dict per episode, in seed order: ``seed``, ``object_init_pos``, ``goal_pos``,
  ``success``, ``steps``, ``return``, ``video`` (path or None), and what the object did (MetaWorld's
  state, recorded only): ``max_object_lift_m``, ``final_object_to_goal_m``, ``grasp_offset_m``
  (hand − object xyz when the fingers first closed halfway; None if they never did);
- ``settings``: the `EvalConfig` used (seeds resolved) plus the policy's execution settings;
- ``checkpoint``: path, sha256, step, model_kind, code_version, task, cameras, image_size, state_input;
- ``env``: the `EnvConfig` of the environments.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from envs import COLLECTION_SEED_LIMIT, EnvConfig
from envs.metaworld_wrapper import FINGER_OPENING, HAND_POS, OBJECT_POS
from envs.seeds import SPLIT_OFFSETS, SPLIT_SIZE, split_of_seed
from evaluation.env_pool import EnvPool
from evaluation.journal import EpisodeJournal, journal_key, journal_path
from evaluation.video import annotate, write_video
from training.atomic import write_json

if TYPE_CHECKING:
    from evaluation.policy import ACTPolicy

DEFAULT_EPISODES = 50
MIN_VIDEO_SIZE = 256


@dataclass
class EvalConfig:
    episodes: int | None = None  # episodes to run; None = len(seeds) if seeds are given, else 50
    split: str = "validation"  # seed range: "validation" (every choice) or "test" (reported figures only)
    seed: int = 0  # default seeds are the split's first seed + seed + i for episode i
    seeds: list[int] | None = None  # explicit episode seeds (override seed); demo seeds are refused
    max_steps: int = 500  # step limit per episode (MetaWorld's own limit is 500)
    num_envs: int = 1  # environments rolled out together, their model queries batched
    workers: int = 0  # processes that step and render those environments (0 = this one); the results are
    # identical, only faster where cores are free (evaluation/env_pool.py)
    temporal_agg: bool = False  # temporal aggregation (query every step) instead of chunk execution
    query_freq: int | None = None  # steps between model queries; None = 1 with temporal_agg, else chunk size
    k: float = 0.01  # temporal aggregation weight exp(-k * i), i = 0 for the oldest prediction
    video_dir: str | None = None  # folder for episode_<seed>.mp4 files
    num_videos: int = 0  # record the first num_videos episodes (needs video_dir)
    video_size: int | None = None  # video side in pixels; None = max(256, policy image size)
    video_camera: str | None = None  # camera the videos show (any of the task's); None = the policy's first
    device: str | None = None  # device to move the policy to; None = leave it where it is
    # diagnostic, never a result: replay the demonstrations' own initial states (training episodes
    # first) to tell under-fitting (fails there too) from poor generalisation (fails only on new states)
    on_demo_states: bool = False

    def __post_init__(self) -> None:
        if self.seeds is not None:
            self.seeds = [int(seed) for seed in self.seeds]
            if not self.seeds:
                raise ValueError("seeds is an empty list; give at least one seed or leave it None")
            if self.episodes is not None and self.episodes != len(self.seeds):
                raise ValueError(f"episodes={self.episodes} but {len(self.seeds)} seeds were given; drop one")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError("seeds repeat; every episode needs its own seed")
            if min(self.seeds) < 0:
                raise ValueError(f"seeds must be >= 0, got {min(self.seeds)}")
            self.episodes = len(self.seeds)
        elif self.episodes is None:
            self.episodes = DEFAULT_EPISODES
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.split not in SPLIT_OFFSETS:
            raise ValueError(f"split must be one of {', '.join(SPLIT_OFFSETS)}, got {self.split!r}")
        if self.seeds is None and self.seed + self.episodes > SPLIT_SIZE // 2:
            raise ValueError(f"seed + episodes must stay below {SPLIT_SIZE // 2} to remain inside the {self.split} range")
        if not 1 <= self.max_steps <= 500:
            raise ValueError(f"max_steps must be in [1, 500] (MetaWorld's limit), got {self.max_steps}")
        if self.num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {self.num_envs}")
        if self.query_freq is not None and self.query_freq < 1:
            raise ValueError(f"query_freq must be >= 1 (at most the chunk size), got {self.query_freq}")
        from evaluation.policy import check_temporal_agg_k

        check_temporal_agg_k(self.k)
        if self.num_videos < 0:
            raise ValueError(f"num_videos must be >= 0, got {self.num_videos}")
        if self.num_videos > 0 and not self.video_dir:
            raise ValueError("num_videos > 0 needs a video_dir to write the videos to")
        if self.num_videos > self.episodes:
            raise ValueError(f"num_videos={self.num_videos} exceeds the {self.episodes} episodes")
        if self.video_size is not None and self.video_size < 16:
            raise ValueError(f"video_size must be at least 16 pixels, got {self.video_size}")
        if self.video_camera is not None:
            from envs import check_cameras

            check_cameras((self.video_camera,))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % for z = 1.96); (0, 1) when n = 0."""
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, center - half_width), min(1.0, center + half_width)


def resolve_eval_seeds(config: EvalConfig, demo_seeds: list[int] | None) -> list[int]:
    """The episode seeds of `config`; raises ValueError if one is a training demonstration's seed.

    When the checkpoint does not record its demo seeds, explicit seeds below COLLECTION_SEED_LIMIT
    (the collection range) are refused too, since they might be training episodes.
    """
    if config.on_demo_states:
        if config.seeds is not None:
            raise ValueError("on_demo_states replays the demonstration seeds; do not pass seeds as well")
        if not demo_seeds:
            raise ValueError("the checkpoint does not record its demonstration seeds, so they cannot be replayed")
        if config.episodes > len(demo_seeds):
            raise ValueError(f"episodes={config.episodes} but the policy was trained on {len(demo_seeds)} demonstrations")
        return list(demo_seeds[: config.episodes])
    if config.seeds is not None:
        seeds = list(config.seeds)
    else:
        seeds = [SPLIT_OFFSETS[config.split] + config.seed + i for i in range(config.episodes)]
    if demo_seeds is None:
        risky = [seed for seed in seeds if seed < COLLECTION_SEED_LIMIT]
        if risky:
            raise ValueError(
                f"the checkpoint does not record its demonstration seeds, so seeds below {COLLECTION_SEED_LIMIT} "
                f"({risky[:5]}{'...' if len(risky) > 5 else ''}) might be training episodes; use seeds >= "
                f"{SPLIT_OFFSETS['validation']}"
            )
        return seeds
    overlap = sorted(set(seeds) & set(demo_seeds))
    if overlap:
        raise ValueError(
            f"evaluation seed(s) {overlap[:10]}{'...' if len(overlap) > 10 else ''} are seeds of the policy's "
            f"training demonstrations; evaluate on held-out seeds (the default seeds start at {SPLIT_OFFSETS['validation']})"
        )
    return seeds


def check_env_matches_policy(env_config: EnvConfig, policy: ACTPolicy) -> None:
    """Raises ValueError naming every difference between `env_config` and what the policy was trained on."""
    expected = {
        "task": policy.task,
        "cameras": tuple(policy.cameras),
        "image_size": policy.image_size,
        "fast_render": policy.fast_render,
    }
    got = {
        "task": env_config.task,
        "cameras": tuple(env_config.cameras),
        "image_size": env_config.image_size,
        "fast_render": env_config.fast_render,
    }
    problems = [
        f"{key}: checkpoint {expected[key]!r}, env {got[key]!r}" for key in expected if expected[key] != got[key]
    ]
    if problems:
        raise ValueError(
            "the environment differs from the one the checkpoint was trained on ("
            + "; ".join(problems)
            + "); build it with policy.env_config()"
        )


@dataclass
class _Episode:
    """The episode one environment is running."""

    index: int
    seed: int
    obs: dict[str, Any]
    object_init_pos: list[float]
    goal_pos: list[float]
    steps: int = 0
    episode_return: float = 0.0
    success: bool = False
    frames: list[np.ndarray] | None = None
    # what happened to the object (MetaWorld's own state; the policy never sees it): for failure modes
    max_object_lift: float = 0.0  # highest object z above its initial z, metres
    object_to_goal: float | None = None  # MetaWorld's info["obj_to_target"] after the last step, metres
    grasp_offset: list[float] | None = None  # hand − object xyz when the fingers first close halfway, metres

    def observe(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        env_state = obs["env_state"]  # MetaWorld observation: hand xyz, finger opening, object xyz, ...
        object_z = float(env_state[OBJECT_POS][2])
        self.max_object_lift = max(self.max_object_lift, object_z - self.object_init_pos[2])
        if self.grasp_offset is None and env_state[FINGER_OPENING] < GRASP_FINGER_OPENING:
            self.grasp_offset = (env_state[HAND_POS] - env_state[OBJECT_POS]).round(5).tolist()
        if "obj_to_target" in info:
            self.object_to_goal = float(info["obj_to_target"])

    def record(self, video: str | None) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "object_init_pos": self.object_init_pos,
            "goal_pos": self.goal_pos,
            "success": self.success,
            "steps": self.steps,
            "return": self.episode_return,
            "max_object_lift_m": self.max_object_lift,
            "final_object_to_goal_m": self.object_to_goal,
            "grasp_offset_m": self.grasp_offset,
            "video": video,
        }


# Fingers this far closed have met the object (or closed on air): where the hand was relative to the
# object then tells a grasp that slipped off an edge from one that was centred. MetaWorld's expert
# on shelf-place reaches it with the hand ~4.3 cm above the block's centre and within ~1 cm in x and y.
GRASP_FINGER_OPENING = 0.5
LIFTED_M = 0.02  # an object raised this far above its start has been picked up (MetaWorld's grasp test uses 2 cm)


def grasp_heights(env_state: np.ndarray) -> tuple[float | None, float]:
    """For one rollout's (T, 39) MetaWorld states: the hand's height above the object's centre when
    the fingers first close halfway (the per-episode ``grasp_offset_m`` z; None if they never do),
    and its lowest height while the object still rests within 1 cm of its start, metres."""
    above = env_state[:, HAND_POS][:, 2] - env_state[:, OBJECT_POS][:, 2]  # (T,)
    closed = np.flatnonzero(env_state[:, FINGER_OPENING] < GRASP_FINGER_OPENING)
    at_half_closed = float(above[closed[0]]) if len(closed) else None
    resting = env_state[:, OBJECT_POS][:, 2] < env_state[0, OBJECT_POS][2] + 0.01  # (T,)
    return at_half_closed, float(above[resting].min())


def failure_modes(per_episode: list[dict[str, Any]], task: str) -> dict[str, int]:
    """Failed episodes, split for tasks that pick an object up (`envs.task_sets.PICK_UP_TASKS`) by what the
    object did: never lifted (the grasp failed or never came) or lifted but not where it belongs when the
    episode ended (dropped, or carried to the wrong place). Other tasks get the count alone: a drawer's
    handle rises as it slides, a button never "lifts"."""
    from envs.task_sets import PICK_UP_TASKS

    failed = sum(not record["success"] for record in per_episode)
    if task not in PICK_UP_TASKS:
        return {"failed": failed}
    never_lifted = sum(map(failed_never_lifted, per_episode))
    return {"failed": failed, "never_lifted": never_lifted, "lifted_not_placed": failed - never_lifted}


def failed_never_lifted(record: dict[str, Any]) -> bool:
    """A per-episode record of a failure in which the object never rose `LIFTED_M` above its start."""
    return not record["success"] and record["max_object_lift_m"] < LIFTED_M


def _env_config_for(policy: ACTPolicy, config: EvalConfig, env_config: EnvConfig | None) -> EnvConfig:
    """The checkpoint's environment with the config's step limit (a caller's own one is checked first)."""
    if env_config is None:
        return policy.env_config(max_steps=config.max_steps)
    check_env_matches_policy(env_config, policy)
    return dataclasses.replace(env_config, max_steps=config.max_steps)


def open_journal(
    path: str | os.PathLike, policy: ACTPolicy, config: EvalConfig, env_config: EnvConfig | None = None
) -> EpisodeJournal:
    """The episode journal at `path` for evaluating `policy` with `config` (created if absent).

    Raises `JournalMismatch` (a ValueError) if `path` holds another checkpoint's or other settings'
    episodes. The policy is configured with the config's execution settings first, as `evaluate` does.
    """
    policy.configure(temporal_agg=config.temporal_agg, query_freq=config.query_freq, k=config.k)
    key = journal_key(policy.identity(), policy.settings(), _env_config_for(policy, config, env_config).to_dict(),
                      config.max_steps, config.on_demo_states)
    return EpisodeJournal(path, key)


def evaluate(
    policy: ACTPolicy,
    config: EvalConfig,
    progress: bool = True,
    env_config: EnvConfig | None = None,
    journal: EpisodeJournal | None = None,
) -> dict[str, Any]:
    """Rolls `policy` out on `config.episodes` held-out episodes; returns the result dict (module docstring).

    The policy is (re)configured with the config's execution settings (temporal_agg, query_freq, k)
    so that the result file records what was actually run. With a `journal` (`open_journal`), every
    finished episode is appended to it and episodes it already holds are not run again
    (``resumed_episodes`` in the result counts them; ``wall_s`` includes the time they took).
    """
    seeds = resolve_eval_seeds(config, policy.demo_seeds)
    if config.device is not None:
        policy.to(config.device)
    policy.configure(temporal_agg=config.temporal_agg, query_freq=config.query_freq, k=config.k)
    env_config = _env_config_for(policy, config, env_config)
    video_size = config.video_size or max(MIN_VIDEO_SIZE, policy.image_size)
    video_camera = config.video_camera or policy.cameras[0]
    records: dict[int, dict[str, Any]] = {}  # episode index -> record
    if journal is not None:
        records = {index: journal.records[seed] for index, seed in enumerate(seeds) if seed in journal.records}
    resumed = len(records)
    prior_wall_s = journal.wall_s if journal is not None and resumed else 0.0
    to_run = [(index, seed) for index, seed in enumerate(seeds) if index not in records]
    num_envs = min(config.num_envs, len(to_run))

    start_time = time.perf_counter()
    pool = EnvPool(env_config, num_envs, workers=config.workers)
    setup_s = time.perf_counter() - start_time
    pending = iter(to_run)
    bar = tqdm(total=len(seeds), initial=resumed, desc=f"eval {policy.task}", unit="episode",
               disable=not progress)
    video_spec = (video_camera, video_size)

    def start_episode(env_index: int) -> _Episode | None:
        index, seed = next(pending, (None, None))
        if index is None:
            return None
        recorded = index < config.num_videos
        obs, positions, frame = pool.reset(env_index, seed, video_spec if recorded else None)
        episode = _Episode(
            index=index,
            seed=seed,
            obs=obs,
            object_init_pos=positions["object_pos"].tolist(),
            goal_pos=positions["goal_pos"].tolist(),
        )
        if recorded:
            episode.frames = [annotate(frame, 0, False)]
        return episode

    def finish_episode(episode: _Episode) -> None:
        video = None
        if episode.frames is not None:
            video = str(Path(config.video_dir) / f"episode_{episode.seed}.mp4")
            write_video(video, np.stack(episode.frames))
        records[episode.index] = episode.record(video)
        if journal is not None:
            journal.add(records[episode.index], prior_wall_s + time.perf_counter() - start_time)
        bar.update(1)
        successes = sum(record["success"] for record in records.values())
        bar.set_postfix(success=f"{successes}/{len(records)}")

    try:
        policy.reset()
        running = [start_episode(env_index) for env_index in range(num_envs)]
        last_obs = [episode.obs for episode in running]  # every env has an episode at first
        while any(episode is not None for episode in running):
            active = np.array([episode is not None for episode in running])
            actions = policy.select_action(last_obs, env_mask=active)  # (E, A)
            ended = np.zeros(num_envs, dtype=bool)
            stepped = pool.step({int(i): actions[i] for i in np.flatnonzero(active)},
                                render={int(i): video_spec for i in np.flatnonzero(active) if running[i].frames is not None})
            for env_index in np.flatnonzero(active):
                episode = running[env_index]
                obs, reward, success, info, frame = stepped[int(env_index)]
                episode.steps += 1
                episode.episode_return += reward
                episode.success = episode.success or success
                last_obs[env_index] = obs
                episode.observe(obs, info)
                if episode.frames is not None:
                    episode.frames.append(annotate(frame, episode.steps, success))
                if success or info["truncated"]:
                    finish_episode(episode)
                    ended[env_index] = True
            if ended.any():
                policy.reset(ended)
                for env_index in np.flatnonzero(ended):
                    running[env_index] = start_episode(int(env_index))
                    if running[env_index] is not None:
                        last_obs[env_index] = running[env_index].obs
    finally:
        bar.close()
        pool.close()
    wall_s = prior_wall_s + time.perf_counter() - start_time

    per_episode = [records[index] for index in range(len(seeds))]
    successes = sum(record["success"] for record in per_episode)
    success_steps = [record["steps"] for record in per_episode if record["success"]]
    low, high = wilson_interval(successes, len(per_episode))
    settings = dict(config.to_dict(), seeds=seeds, num_envs=num_envs, video_size=video_size,
                    seed_splits=sorted({split_of_seed(seed) for seed in seeds}))
    settings.update(policy.settings())
    return {
        "success_rate": successes / len(per_episode),
        "successes": successes,
        "episodes": len(per_episode),
        "wilson_ci_95": [low, high],
        "mean_steps_to_success": statistics.fmean(success_steps) if success_steps else None,
        "median_steps_to_success": statistics.median(success_steps) if success_steps else None,
        "episodes_per_minute": 60.0 * len(per_episode) / wall_s,
        "wall_s": wall_s,
        "setup_s": setup_s,
        "resumed_episodes": resumed,
        "failure_modes": failure_modes(per_episode, env_config.task),
        "per_episode": per_episode,
        "settings": settings,
        "checkpoint": policy.identity(),
        "env": env_config.to_dict(),
    }


def evaluate_checkpoint(checkpoint: str | os.PathLike, config: EvalConfig, progress: bool = True) -> dict[str, Any]:
    """Loads the policy from `checkpoint` onto ``config.device`` (default cpu) and evaluates it."""
    from evaluation.policy import ACTPolicy

    policy = ACTPolicy.from_checkpoint(
        checkpoint, device=config.device or "cpu", temporal_agg=config.temporal_agg,
        query_freq=config.query_freq, k=config.k,
    )
    return evaluate(policy, config, progress=progress)


def evaluate_to_file(
    policy: ACTPolicy,
    config: EvalConfig,
    output: str | os.PathLike,
    resume: bool = False,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluates `policy` into the results file `output` (with `extra` keys added), journalling each
    finished episode in ``<output>.partial`` until the file is written, so an interrupted evaluation
    continues where it stopped when called again with ``resume=True``.

    Raises ValueError if a journal exists and `resume` is False, or if it holds other settings' episodes.
    """
    journal = journal_path(output)
    if journal.exists() and not resume:
        raise ValueError(f"{journal} holds an interrupted evaluation; pass --resume to continue it, "
                         "or delete it to start afresh")
    opened = open_journal(journal, policy, config)
    if opened.records:
        print(f"resuming: {len(opened.records)} finished episode(s) in {opened.path}")
    results = evaluate(policy, config, progress=progress, journal=opened)
    results.update(extra or {})
    save_results(output, results)
    opened.remove()
    return results


def save_results(path: str | os.PathLike, results: dict[str, Any]) -> Path:
    """Writes `results` as indented JSON to a temporary file beside `path`, then renames it."""
    return write_json(path, results)


def _format_steps(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _privileged_note(checkpoint: dict[str, Any]) -> str:
    """Marks results of policies that saw MetaWorld's full state (object and goal positions)."""
    return " + env_state (privileged)" if checkpoint.get("state_input", "qpos") == "env_state" else ""


def format_summary(results: dict[str, Any]) -> str:
    """A few aligned lines: what was evaluated and how well it did."""
    checkpoint, settings = results["checkpoint"], results["settings"]
    low, high = results["wilson_ci_95"]
    mode = "temporal aggregation" if settings["temporal_agg"] else "chunk execution"
    if settings.get("on_demo_states"):
        mode += "; DEMONSTRATION initial states (training-set diagnostic, not held-out)"
    success = f"{results['success_rate']:.3f} ({results['successes']}/{results['episodes']})"
    steps = _format_steps(results["mean_steps_to_success"]), _format_steps(results["median_steps_to_success"])
    envs = f"{settings['num_envs']} env(s)"
    rows = [
        ("checkpoint", f"{checkpoint['path']} (step {checkpoint['step']}, {checkpoint['model_kind']} ACT)"),
        ("task", f"{checkpoint['task']}, cameras {', '.join(checkpoint['cameras'])} at {checkpoint['image_size']} px"
                 + _privileged_note(checkpoint)),
        ("seeds", f"{settings.get('split', 'validation')} range, {', '.join(settings.get('seed_splits', []))}"),
        ("mode", f"{mode}, query every {settings['query_freq']} step(s), k={settings['k']}"),
        ("success rate", f"{success}, 95% CI [{low:.3f}, {high:.3f}]"),
        ("steps to success", f"mean {steps[0]}, median {steps[1]}"),
    ]
    modes = results.get("failure_modes")
    # the split says something only on pick-up tasks, and only where some object was lifted at all
    lifted_somewhere = any(e.get("max_object_lift_m", 0.0) >= LIFTED_M for e in results["per_episode"])
    if modes and modes["failed"] and "never_lifted" in modes and lifted_somewhere:
        failures = (f"{modes['never_lifted']} never lifted the object {LIFTED_M * 100:.0f} cm, "
                    f"{modes['lifted_not_placed']} lifted it but did not place it")
        rows.append(("failures", failures))
    rows += [
        ("speed", f"{results['episodes_per_minute']:.1f} episodes/min ({results['wall_s']:.1f} s, {envs})"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def results_markdown_table(results: list[dict[str, Any]], names: list[str] | None = None) -> str:
    """One markdown row per result dict: task, model, mode, success rate with its CI, steps, speed."""
    header = ("| run | task | model | cameras | train steps | mode | success | 95% CI | mean steps to success "
              "| episodes/min |")
    lines = [header, "|" + " --- |" * (header.count("|") - 1)]
    for position, result in enumerate(results):
        checkpoint, settings = result["checkpoint"], result["settings"]
        name = names[position] if names else checkpoint.get("path") or f"run {position}"
        mode = f"TA (k={settings['k']})" if settings["temporal_agg"] else f"chunk (every {settings['query_freq']})"
        if settings.get("on_demo_states"):
            mode += ", demo states (not held-out)"
        low, high = result["wilson_ci_95"]
        lines.append(
            f"| {name} | {checkpoint['task']} | {checkpoint['model_kind']} | "
            f"{' + '.join(checkpoint['cameras'])} @ {checkpoint['image_size']} px{_privileged_note(checkpoint)} | "
            f"{checkpoint['step']} | {mode} | "
            f"{result['success_rate']:.2f} ({result['successes']}/{result['episodes']}) | [{low:.2f}, {high:.2f}] | "
            f"{_format_steps(result['mean_steps_to_success'])} | {result['episodes_per_minute']:.1f} |"
        )
    return "\n".join(lines)
