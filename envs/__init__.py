"""MetaWorld environments with cameras, seeded randomized resets and scripted experts.

Importing this package picks a headless OpenGL backend (see `gl_backend`) before
MuJoCo is imported. Nothing here imports torch.
"""

from envs.gl_backend import RenderBackendError, select_gl_backend

select_gl_backend()

from envs.metaworld_wrapper import (
    CAMERA_NAMES,
    COLLECTION_SEED_LIMIT,
    EVAL_SEED_OFFSET,
    EnvConfig,
    MetaWorldEnv,
    TaskNameError,
    available_tasks,
    check_cameras,
    check_task,
)

__all__ = [
    "CAMERA_NAMES",
    "COLLECTION_SEED_LIMIT",
    "EVAL_SEED_OFFSET",
    "EnvConfig",
    "MetaWorldEnv",
    "RenderBackendError",
    "TaskNameError",
    "available_tasks",
    "check_cameras",
    "check_task",
]
