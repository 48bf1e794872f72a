"""MetaWorld's scripted expert policies, looked up by task name, and shelf-place grasp variants."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from metaworld.policies import ENV_POLICY_MAP

from envs.metaworld_wrapper import HAND_POS, OBJECT_POS

# MetaWorld's shelf-place-v3 expert (metaworld/policies/sawyer_shelf_place_v3_policy.py), as read
# from metaworld 3.1.1: it aims the hand at the block + (−0.005, 0, 0.015), closes the fingers once
# the hand is within 0.04 m sideways and 0.15 m vertically of the block, and starts to lift as soon
# as the hand is within 0.04 m of its aim height, i.e. 5.5 cm above the block's centre. With the
# hand descending ~1 cm per step it comes to rest 4.2–4.6 cm above the centre, while a grasp closed 5.9 cm
# or higher misses the block (README → "How the grasp fails"): one step of slack.
_SHELF_PLACE_AIM_OFFSET = np.array([-0.005, 0.0, 0.015])
_SHELF_PLACE_OVER_BLOCK_M = 0.04  # sideways distance within which the expert descends and grasps
_SHELF_PLACE_LIFT_TOLERANCE_M = 0.04  # the expert lifts once |hand z − aim z| is below this
_SHELF_PLACE_GAIN = 25.0  # the expert's proportional gain on the position error
_SHELF_PLACE_GRIP = 0.7  # the expert's grip command while grasping

GRASP_DEPTH_TASKS = ("shelf-place-v3",)
MAX_GRASP_HOLD = 50  # steps; MetaWorld's episodes last 500


def check_grasp_depth(task: str, grasp_depth: float, grasp_hold: int = 0) -> None:
    """Raises ValueError unless `grasp_depth` (metres, 0 = MetaWorld's expert) and `grasp_hold`
    (steps, 0 = MetaWorld's expert) are usable for `task`."""
    if not 0.0 <= grasp_depth < _SHELF_PLACE_LIFT_TOLERANCE_M:
        raise ValueError(f"grasp_depth must be in [0, {_SHELF_PLACE_LIFT_TOLERANCE_M}) m, got {grasp_depth}")
    if not 0 <= grasp_hold <= MAX_GRASP_HOLD:
        raise ValueError(f"grasp_hold must be in [0, {MAX_GRASP_HOLD}] steps, got {grasp_hold}")
    for name, value in (("grasp_depth", grasp_depth), ("grasp_hold", grasp_hold)):
        if value and task not in GRASP_DEPTH_TASKS:
            raise ValueError(f"{name} is implemented for {', '.join(GRASP_DEPTH_TASKS)} only, not {task!r}")


def make_expert(task: str, grasp_depth: float = 0.0, grasp_hold: int = 0) -> Any:
    """The scripted policy from ``metaworld.policies`` for `task` (``get_action(env_state) -> (4,)``).

    ``grasp_depth > 0`` or ``grasp_hold > 0`` (shelf-place-v3 only) returns
    :class:`DeeperGraspExpert`, which descends `grasp_depth` metres further onto the block (and, with
    `grasp_hold`, descends with open fingers and closes them standing still) before handing back to
    MetaWorld's expert to lift it.
    """
    if task not in ENV_POLICY_MAP:
        raise ValueError(f"MetaWorld ships no scripted expert for {task!r}")
    check_grasp_depth(task, grasp_depth, grasp_hold)
    expert = ENV_POLICY_MAP[task]()
    if grasp_depth or grasp_hold:
        return DeeperGraspExpert(expert, grasp_depth, grasp_hold)
    return expert


class DeeperGraspExpert:
    """MetaWorld's shelf-place expert, but its hand goes `depth` metres lower before it lifts the block.

    Its own rule lifts as soon as the hand is within 4 cm of its aim (1.5 cm above the block's
    centre), which leaves a learned policy about one step of slack: a lift started one step early
    closes the fingers on the block's top edge. This wrapper keeps descending (same gain, same grip
    command) until the hand is within ``0.04 − depth`` of the aim, then hands every later step back
    to the wrapped expert.

    MetaWorld's expert also commands the grip from 15 cm above the block while it descends at full
    speed, so its grasp is a race between the closing fingers and the falling hand, and its lift a
    threshold on the hand's height. With ``hold > 0`` the fingers stay open (−1) all the way down;
    at the bottom the hand is commanded to stay (zero motion; it settles within a few millimetres)
    for `hold` steps with the grip closed (+1), and only then does the wrapped expert take over and
    lift: the lift follows the finger state.

    Stateful within an episode: call :meth:`reset` before each one.
    """

    def __init__(self, expert: Any, depth: float, hold: int = 0) -> None:
        check_grasp_depth("shelf-place-v3", depth, hold)
        self.expert = expert
        self.depth = depth
        self.hold = hold
        self._reached = False
        self._held = 0  # steps spent closing at the bottom

    def reset(self) -> None:
        self._reached = False
        self._held = 0

    def get_action(self, env_state: np.ndarray) -> np.ndarray:
        action = np.asarray(self.expert.get_action(env_state), dtype=np.float32)  # (4,)
        if not self._reached:
            hand = env_state[HAND_POS]
            aim = env_state[OBJECT_POS] + _SHELF_PLACE_AIM_OFFSET  # (3,)
            over_block = np.linalg.norm(hand[:2] - aim[:2]) <= _SHELF_PLACE_OVER_BLOCK_M
            height_above_aim = hand[2] - aim[2]
            if over_block and height_above_aim <= _SHELF_PLACE_LIFT_TOLERANCE_M - self.depth:
                self._reached = True  # down: close (hold > 0) or let the expert lift
            else:
                step = action.copy()
                if over_block and height_above_aim <= _SHELF_PLACE_LIFT_TOLERANCE_M:
                    # Where the expert would start lifting: keep descending onto the aim instead.
                    step[:3] = np.clip((aim - hand) * _SHELF_PLACE_GAIN, -1.0, 1.0)
                    step[3] = _SHELF_PLACE_GRIP
                if self.hold:
                    step[3] = -1.0  # fingers open until the hand is down
                return step
        if self._held < self.hold:  # closing at the bottom, commanded to stay
            self._held += 1
            return np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32)
        return action


def reset_expert(expert: Any) -> None:
    """Starts a new episode for an expert that keeps per-episode state (MetaWorld's do not)."""
    reset = getattr(expert, "reset", None)
    if callable(reset):
        reset()


def expert_action(expert: Any, env_state: np.ndarray) -> np.ndarray:
    """The expert's action for `env_state`, clipped to the action space [-1, 1] as the env would."""
    with warnings.catch_warnings():
        # MetaWorld warns on every call that its gains may saturate; the env clips anyway.
        warnings.simplefilter("ignore", UserWarning)
        action = expert.get_action(env_state)
    return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)


def expert_success(task: str, seeds: list[int], max_steps: int = 500) -> dict[str, Any]:
    """MetaWorld's own scripted expert for `task`, rolled out from each seed's initial state.

    The states are the demonstrations' (``MetaWorldEnv.reset(seed)`` seeds and resets the raw env
    exactly so), but nothing is rendered: the wrapper needs a camera in its config and renders on
    every reset/step, so this seeds, resets and steps ``env.raw_env`` the same way, without images.
    An episode succeeds if MetaWorld's ``info["success"]`` is set at any of its first `max_steps`
    steps. ``mean_steps_to_success`` counts steps up to and including the first successful one
    (None if no episode succeeded).
    """
    from envs.metaworld_wrapper import EnvConfig, MetaWorldEnv  # wrapper already imported above

    env = MetaWorldEnv(EnvConfig(task=task, max_steps=max_steps))  # its camera is never rendered
    expert = make_expert(task)
    raw = env.raw_env
    steps_to_success: list[int] = []
    failed: list[int] = []
    try:
        for seed in seeds:
            raw.seed(int(seed))  # as MetaWorldEnv.reset(seed)
            env_state, _ = raw.reset()
            reset_expert(expert)
            first = 0
            for step in range(max_steps):
                action = expert_action(expert, env_state)  # (4,) float32 in [-1, 1], as the wrapper clips
                env_state, _, _, _, info = raw.step(action)
                if info["success"]:
                    first = step + 1
                    break
            if first:
                steps_to_success.append(first)
            else:
                failed.append(int(seed))
    finally:
        env.close()
    episodes, successes = len(seeds), len(steps_to_success)
    return {
        "task": task,
        "episodes": episodes,
        "successes": successes,
        "success_rate": successes / episodes if episodes else 0.0,
        "mean_steps_to_success": float(np.mean(steps_to_success)) if steps_to_success else None,
        "failed_seeds": failed,
    }
