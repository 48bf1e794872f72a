"""MetaWorld's scripted expert policies, looked up by task name, and a deeper-grasp variant."""

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
# hand descending ~1 cm per step it stops 4.2–4.6 cm above the centre, while a grasp closed 5.9 cm
# or higher misses the block (README → "How the grasp fails"): one step of slack.
_SHELF_PLACE_AIM_OFFSET = np.array([-0.005, 0.0, 0.015])
_SHELF_PLACE_OVER_BLOCK_M = 0.04  # sideways distance within which the expert descends and grasps
_SHELF_PLACE_LIFT_TOLERANCE_M = 0.04  # the expert lifts once |hand z − aim z| is below this
_SHELF_PLACE_GAIN = 25.0  # the expert's proportional gain on the position error
_SHELF_PLACE_GRIP = 0.7  # the expert's grip command while grasping

GRASP_DEPTH_TASKS = ("shelf-place-v3",)


def check_grasp_depth(task: str, grasp_depth: float) -> None:
    """Raises ValueError unless `grasp_depth` (metres, 0 = MetaWorld's expert) is usable for `task`."""
    if not 0.0 <= grasp_depth < _SHELF_PLACE_LIFT_TOLERANCE_M:
        raise ValueError(f"grasp_depth must be in [0, {_SHELF_PLACE_LIFT_TOLERANCE_M}) m, got {grasp_depth}")
    if grasp_depth and task not in GRASP_DEPTH_TASKS:
        raise ValueError(f"grasp_depth is implemented for {', '.join(GRASP_DEPTH_TASKS)} only, not {task!r}")


def make_expert(task: str, grasp_depth: float = 0.0) -> Any:
    """The scripted policy from ``metaworld.policies`` for `task` (``get_action(env_state) -> (4,)``).

    ``grasp_depth > 0`` (shelf-place-v3 only) returns :class:`DeeperGraspExpert`, which descends that
    many metres further onto the block before handing back to MetaWorld's expert to lift it.
    """
    if task not in ENV_POLICY_MAP:
        raise ValueError(f"MetaWorld ships no scripted expert for {task!r}")
    check_grasp_depth(task, grasp_depth)
    expert = ENV_POLICY_MAP[task]()
    return DeeperGraspExpert(expert, grasp_depth) if grasp_depth else expert


class DeeperGraspExpert:
    """MetaWorld's shelf-place expert, but its hand goes `depth` metres lower before it lifts the block.

    Its own rule lifts as soon as the hand is within 4 cm of its aim (1.5 cm above the block's
    centre), which leaves a learned policy about one step of slack: a lift started one step early
    closes the fingers on the block's top edge. This wrapper keeps descending (same gain, same grip
    command) until the hand is within ``0.04 − depth`` of the aim, then hands every later step back
    to the wrapped expert. Stateful within an episode: call :meth:`reset` before each one.
    """

    def __init__(self, expert: Any, depth: float) -> None:
        check_grasp_depth("shelf-place-v3", depth)
        self.expert = expert
        self.depth = depth
        self._reached = False

    def reset(self) -> None:
        self._reached = False

    def get_action(self, env_state: np.ndarray) -> np.ndarray:
        action = np.asarray(self.expert.get_action(env_state), dtype=np.float32)  # (4,)
        if self._reached:
            return action
        hand = env_state[HAND_POS]
        aim = env_state[OBJECT_POS] + _SHELF_PLACE_AIM_OFFSET  # (3,)
        over_block = np.linalg.norm(hand[:2] - aim[:2]) <= _SHELF_PLACE_OVER_BLOCK_M
        height_above_aim = hand[2] - aim[2]
        if not over_block or height_above_aim > _SHELF_PLACE_LIFT_TOLERANCE_M:
            return action  # still positioning or descending: the expert's own step
        if height_above_aim <= _SHELF_PLACE_LIFT_TOLERANCE_M - self.depth:
            self._reached = True
            return action
        # Where the expert would start lifting: keep descending onto the aim instead.
        deeper = action.copy()
        deeper[:3] = np.clip((aim - hand) * _SHELF_PLACE_GAIN, -1.0, 1.0)
        deeper[3] = _SHELF_PLACE_GRIP
        return deeper


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
