"""A seeded, image-rendering wrapper around one MetaWorld v3 task.

Why not ``gym.make('Meta-World/MT1', ...)``: MT1 pre-samples 50 initial
configurations and every reset picks one of them, so "randomized" demos repeat
states and evaluation overlaps training. Here every ``reset(seed)`` draws a fresh
initial state (object and goal positions) from the environment's own random
reset space with its own seeded generator (`seeded_rand_vec`), so one seed is one
initial state, reproducibly, and disjoint seed ranges give disjoint states.

Observation dict returned by `reset` and `step` (numpy only):

================  ==================  =========================================
key               shape, dtype        meaning
================  ==================  =========================================
``qpos``          (4,) float32        hand xyz + gripper opening (what the policy sees)
``env_state``     (39,) float64       MetaWorld's full observation, goal included
``images``        {camera: (H, W, 3)  upright RGB images, one per configured camera
                  uint8}
================  ==================  =========================================

Collection and evaluation both use this class, so images are rendered the same
way in both.
"""

from __future__ import annotations

import difflib
import pickle
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import metaworld
import mujoco
import numpy as np
from metaworld.env_dict import ALL_V3_ENVIRONMENTS, ML1_ARGS_KWARGS

from envs.seeds import COLLECTION_SEED_LIMIT, EVAL_SEED_OFFSET  # noqa: F401  (re-exported)

# Cameras defined in every MetaWorld v3 task: five fixed, two mounted on the hand.
CAMERA_NAMES = ("topview", "corner", "corner2", "corner3", "corner4", "behindGripper", "gripperPOV")


QPOS_DIM = 4  # hand xyz + gripper opening
ENV_STATE_DIM = 39
ACTION_DIM = 4
# Where things are in MetaWorld's 39-float observation (`env_state`), read by the experts and the evaluator.
HAND_POS = slice(0, 3)  # the hand's xyz
FINGER_OPENING = 3  # the fingers' opening, 1 = open
OBJECT_POS = slice(4, 7)  # the (first) object's xyz


class TaskNameError(ValueError):
    """Unknown task or camera name; the message lists the valid choices."""


def available_tasks() -> list[str]:
    """Names of every MetaWorld v3 task, sorted."""
    return sorted(ALL_V3_ENVIRONMENTS)


def check_task(task: str) -> str:
    """Returns `task` if it names a MetaWorld v3 task, else raises with the close matches."""
    if task in ALL_V3_ENVIRONMENTS:
        return task
    close = difflib.get_close_matches(task, available_tasks(), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise TaskNameError(
        f"Unknown MetaWorld task {task!r}.{hint} "
        f"All {len(ALL_V3_ENVIRONMENTS)} tasks: {', '.join(available_tasks())}"
    )


def check_cameras(cameras: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Returns the cameras as a tuple if every name is a MetaWorld camera, else raises."""
    cameras = tuple(cameras)
    if not cameras:
        raise TaskNameError(f"At least one camera is needed; choose from {', '.join(CAMERA_NAMES)}")
    unknown = [name for name in cameras if name not in CAMERA_NAMES]
    if unknown:
        raise TaskNameError(
            f"Unknown camera(s) {', '.join(map(repr, unknown))}; valid cameras: {', '.join(CAMERA_NAMES)}"
        )
    if len(set(cameras)) != len(cameras):
        raise TaskNameError(f"Camera names repeat: {', '.join(cameras)}")
    return cameras


@dataclass
class EnvConfig:
    task: str = "shelf-place-v3"  # MetaWorld v3 task name
    cameras: tuple[str, ...] = field(default_factory=lambda: ("behindGripper",))  # cameras rendered each step
    image_size: int = 128  # square image side in pixels
    fast_render: bool = True  # shadows and reflections off (about 3x faster, see README)
    max_steps: int = 500  # MetaWorld's episode limit

    def __post_init__(self) -> None:
        check_task(self.task)
        self.cameras = check_cameras(self.cameras)
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16 pixels, got {self.image_size}")
        if not 1 <= self.max_steps <= 500:
            raise ValueError(f"max_steps must be in [1, 500] (MetaWorld's limit), got {self.max_steps}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cameras"] = list(self.cameras)
        return out


def _make_metaworld_env(task: str) -> Any:
    """The raw MetaWorld env for `task`, goal observable, with seeded per-reset randomization."""
    env_cls = ALL_V3_ENVIRONMENTS[task]
    env = env_cls()
    kwargs = dict(ML1_ARGS_KWARGS[task]["kwargs"])
    kwargs.pop("task_id", None)
    # A Task is how MetaWorld configures an env; its rand_vec is replaced on every reset below.
    task_data = dict(kwargs, env_cls=env_cls, rand_vec=np.zeros(0), partially_observable=False)
    env.set_task(metaworld.Task(env_name=task, data=pickle.dumps(task_data)))
    # Draw a fresh initial state from env.np_random at each reset instead of the frozen one.
    env._freeze_rand_vec = False
    env.seeded_rand_vec = True
    return env


def _start_positions(raw_env: Any) -> dict[str, np.ndarray]:
    """Object and goal positions a raw MetaWorld env drew at its last reset (3 floats each)."""
    return {
        "object_pos": np.asarray(raw_env.obj_init_pos, dtype=np.float64).reshape(-1)[:3].copy(),
        "goal_pos": np.asarray(raw_env._target_pos, dtype=np.float64).reshape(-1)[:3].copy(),
    }


class MetaWorldEnv:
    """One MetaWorld task with cameras. ``reset(seed)`` → obs; ``step(action)`` → obs, reward, success, info."""

    def __init__(self, config: EnvConfig) -> None:
        self.config = config
        self._env = _make_metaworld_env(config.task)
        self._renderers: dict[tuple[str, int], mujoco.Renderer] = {}
        self.steps = 0
        self.seed: int | None = None

    # -- rendering ---------------------------------------------------------------
    def _renderer(self, size: int) -> mujoco.Renderer:
        # One renderer per image size, reused across steps and episodes; a context is
        # expensive to create (and leaks GPU/GL memory if made per frame).
        key = ("any", size)
        if key not in self._renderers:
            model = self._env.model
            model.vis.global_.offwidth = max(model.vis.global_.offwidth, size)
            model.vis.global_.offheight = max(model.vis.global_.offheight, size)
            renderer = mujoco.Renderer(model, size, size)
            if self.config.fast_render:
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
                renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
            self._renderers[key] = renderer
        return self._renderers[key]

    def render(self, camera: str, size: int | None = None) -> np.ndarray:
        """(size, size, 3) uint8 upright RGB image from `camera` (mujoco.Renderer flips rows for us)."""
        renderer = self._renderer(size or self.config.image_size)
        renderer.update_scene(self._env.data, camera=camera)
        return renderer.render().copy()  # (H, W, 3) uint8

    def _observation(self, env_state: np.ndarray) -> dict[str, Any]:
        return {
            "qpos": env_state[:QPOS_DIM].astype(np.float32),  # (4,)
            "env_state": env_state.astype(np.float64),  # (39,)
            "images": {cam: self.render(cam) for cam in self.config.cameras},  # {cam: (H, W, 3)}
        }

    # -- episode API -------------------------------------------------------------
    def reset(self, seed: int) -> dict[str, Any]:
        """Starts an episode whose initial state is a pure function of `seed`."""
        self._env.seed(int(seed))
        env_state, _ = self._env.reset()
        self.seed = int(seed)
        self.steps = 0
        return self._observation(env_state)

    def step(self, action: np.ndarray) -> tuple[dict[str, Any], float, bool, dict[str, Any]]:
        """Applies `action` (4 floats in [-1, 1]); returns (obs, reward, success, info).

        ``info["truncated"]`` is True on the last allowed step (``config.max_steps``).
        """
        if self.seed is None:
            raise RuntimeError("Call reset(seed) before step().")
        if self.steps >= self.config.max_steps:
            raise RuntimeError(f"Episode is over ({self.config.max_steps} steps); call reset(seed).")
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(ACTION_DIM), -1.0, 1.0)
        env_state, reward, _, _, info = self._env.step(action)
        self.steps += 1
        info = dict(info, truncated=self.steps >= self.config.max_steps)
        return self._observation(env_state), float(reward), bool(info["success"]), info

    def initial_positions(self) -> dict[str, np.ndarray]:
        """Object and goal positions drawn at the last reset (3 floats each)."""
        return _start_positions(self._env)

    @property
    def raw_env(self) -> Any:
        """The underlying MetaWorld environment (for the scripted expert and the evaluation harness)."""
        return self._env

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        self._env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
