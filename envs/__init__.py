"""MetaWorld environments with cameras, seeded randomized resets and scripted experts.

Importing this package picks a headless OpenGL backend (see `gl_backend`) before
MuJoCo is imported. Nothing here imports torch.
MetaWorld itself is imported on first use of a name below, not by `import envs`.
"""

from typing import TYPE_CHECKING, Any

from envs.gl_backend import RenderBackendError, select_gl_backend
from envs.seeds import COLLECTION_SEED_LIMIT, EVAL_SEED_OFFSET

select_gl_backend()

# MetaWorld and MuJoCo load on first use of these names, so that modules which only read
# demonstration files (training on a machine without a simulator, say) never import them.
_WRAPPER_NAMES = (
    "CAMERA_NAMES",
    "EnvConfig",
    "MetaWorldEnv",
    "TaskNameError",
    "available_tasks",
    "check_cameras",
    "check_task",
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


def __getattr__(name: str) -> Any:
    if name in _WRAPPER_NAMES:
        from envs import metaworld_wrapper

        return getattr(metaworld_wrapper, name)
    raise AttributeError(f"module 'envs' has no attribute {name!r}")


if TYPE_CHECKING:
    from envs.metaworld_wrapper import (
        CAMERA_NAMES,
        EnvConfig,
        MetaWorldEnv,
        TaskNameError,
        available_tasks,
        check_cameras,
        check_task,
    )
