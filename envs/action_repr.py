"""Two ways to write a MetaWorld action for a policy to predict.

MetaWorld's own action is a *delta*: ``a[:3]`` in [-1, 1] moves the hand's mocap target by
``a[:3] * action_scale`` (1 cm per unit), clipped to the mocap box; ``a[3]`` is the gripper
command. A chunk of deltas run open-loop adds up every error in it.

The ACT paper's policies predict *absolute* targets (joint positions) instead. The MetaWorld
equivalent is the mocap position itself: ``absolute`` actions are ``[mocap xyz after the step,
gripper]``. The mocap path of a demonstration is a pure function of its actions and the
task's fixed ``hand_init_pos`` (`mocap_path`), so existing demo files need no new field; at run
time `deltas_from_targets` turns a predicted target back into the delta MetaWorld takes, from
the mocap position the simulator reports (`mocap_position`). An error in one target then stays
one error: the next target is again absolute.

=============  ===============================================================
``delta``      MetaWorld's action, as recorded (the default)
``absolute``   mocap xyz after the step (metres) + the recorded gripper command
=============  ===============================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MocapFrame:
    """The constants that relate a delta action to the mocap target, read from a raw MetaWorld env."""

    start: np.ndarray  # (3,) mocap position after reset (the task's hand_init_pos)
    low: np.ndarray  # (3,) mocap box
    high: np.ndarray  # (3,)
    scale: float  # metres per action unit

    @classmethod
    def of(cls, raw_env: Any) -> MocapFrame:
        return cls(
            start=np.asarray(raw_env.hand_init_pos, dtype=np.float64).reshape(3).copy(),
            low=np.asarray(raw_env.mocap_low, dtype=np.float64).reshape(3).copy(),
            high=np.asarray(raw_env.mocap_high, dtype=np.float64).reshape(3).copy(),
            scale=float(raw_env.action_scale),
        )


def mocap_position(raw_env: Any) -> np.ndarray:
    """(3,) the mocap target the simulator holds now (where the last action sent the hand)."""
    return np.asarray(raw_env.data.mocap_pos, dtype=np.float64).reshape(-1, 3)[0].copy()


def mocap_path(actions: np.ndarray, frame: MocapFrame) -> np.ndarray:
    """(T, 4) absolute actions of one episode from its (T, 4) delta actions.

    Replays MetaWorld's update (clip the action to [-1, 1], add ``scale`` times it, clip to
    the mocap box) from ``frame.start``; row t is the mocap xyz after action t and action t's
    gripper command.
    """
    actions = np.asarray(actions, dtype=np.float64)  # (T, 4)
    targets = np.empty_like(actions)  # (T, 4)
    mocap = frame.start.copy()  # (3,)
    for t, action in enumerate(actions):
        mocap = np.clip(mocap + np.clip(action[:3], -1.0, 1.0) * frame.scale, frame.low, frame.high)
        targets[t, :3] = mocap
        targets[t, 3] = action[3]
    return targets


def deltas_from_targets(targets: np.ndarray, mocap: np.ndarray, scale: float) -> np.ndarray:
    """(N, 4) delta actions in [-1, 1] that move each env's mocap (N, 3) toward its target (N, 4).

    A target more than one step (``scale``) away is approached at full speed along each axis.
    """
    targets = np.asarray(targets, dtype=np.float64).reshape(-1, 4)  # (N, 4)
    mocap = np.asarray(mocap, dtype=np.float64).reshape(-1, 3)  # (N, 3)
    deltas = np.empty_like(targets)  # (N, 4)
    deltas[:, :3] = np.clip((targets[:, :3] - mocap) / scale, -1.0, 1.0)
    deltas[:, 3] = np.clip(targets[:, 3], -1.0, 1.0)
    return deltas.astype(np.float32)
