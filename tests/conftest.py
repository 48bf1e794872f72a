"""Shared fixtures: a tiny real dataset made by the real collector, tiny configs."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pytest

TINY_TASK = "shelf-place-v3"
TINY_CAMERAS = ("behindGripper",)
TINY_IMAGE_SIZE = 64


@pytest.fixture(scope="session")
def tiny_demo_file(tmp_path_factory) -> str:
    """Three real shelf-place demonstrations at 64 px, one camera."""
    from envs.collection import CollectConfig, collect_demos

    path = tmp_path_factory.mktemp("demos") / "tiny.hdf5"
    collect_demos(
        CollectConfig(
            task=TINY_TASK,
            num_demos=3,
            output=str(path),
            cameras=TINY_CAMERAS,
            image_size=TINY_IMAGE_SIZE,
            seed=0,
            steps_after_success=5,
        ),
        command="pytest fixture",
        progress=False,
    )
    return str(path)
