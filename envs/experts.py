"""MetaWorld's scripted expert policies, looked up by task name."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from metaworld.policies import ENV_POLICY_MAP


def make_expert(task: str) -> Any:
    """The scripted policy from ``metaworld.policies`` for `task` (``get_action(env_state) -> (4,)``)."""
    if task not in ENV_POLICY_MAP:
        raise ValueError(f"MetaWorld ships no scripted expert for {task!r}")
    return ENV_POLICY_MAP[task]()


def expert_action(expert: Any, env_state: np.ndarray) -> np.ndarray:
    """The expert's action for `env_state`, clipped to the action space [-1, 1] as the env would."""
    with warnings.catch_warnings():
        # MetaWorld warns on every call that its gains may saturate; the env clips anyway.
        warnings.simplefilter("ignore", UserWarning)
        action = expert.get_action(env_state)
    return np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
