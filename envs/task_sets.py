"""Named sets of MetaWorld tasks that results are summarised over (no MetaWorld import)."""

from __future__ import annotations

# MetaWorld's MT10 benchmark (Yu et al. 2019), in the order of metaworld.env_dict.MT10_V3
# (tests/test_envs.py checks the two agree).
MT10 = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)

# The "very hard" group of the difficulty split of Seo et al. 2022 (Masked World Models), which the
# 3D Diffusion Policy paper (Ze et al. 2024) reports group means over.
VERY_HARD = (
    "shelf-place-v3",
    "disassemble-v3",
    "stick-pull-v3",
    "stick-push-v3",
    "pick-place-wall-v3",
)

TASK_SETS: dict[str, tuple[str, ...]] = {"MT10": MT10, "very hard": VERY_HARD}

# Tasks whose scripted expert picks its object up: there a failure either never lifted the object or lifted it
# and did not finish. Elsewhere (a drawer slides, a door swings, a button sinks) "lifted" means nothing.
PICK_UP_TASKS = frozenset({
    "assembly-v3", "basketball-v3", "bin-picking-v3", "disassemble-v3", "hammer-v3", "peg-insert-side-v3",
    "pick-out-of-hole-v3", "pick-place-v3", "pick-place-wall-v3", "shelf-place-v3", "stick-pull-v3",
    "stick-push-v3",
})


def _key(name: str) -> str:
    return name.lower().replace(" ", "-").replace("_", "-")


def expand_tasks(names: list[str] | tuple[str, ...]) -> list[str]:
    """Task names with set names (``MT10``, ``very-hard``, any case) replaced by their tasks, in order, each
    task once. Names that are neither are returned as they are, for the caller to check."""
    sets = {_key(name): tasks for name, tasks in TASK_SETS.items()}
    tasks: list[str] = []
    for name in names:
        for task in sets.get(_key(name), (name,)):
            if task not in tasks:
                tasks.append(task)
    return tasks
