"""Shared fixtures: a tiny real dataset made by the real collector, tiny configs."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pytest

import training  # noqa: F401  (loads torchvision before any fixture makes a GL context)

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


TINY_CHECKPOINT_STEP = 7


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_demo_file, tmp_path_factory) -> str:
    """An untrained tiny standard ACT saved as a full checkpoint, with the tiny demo file's
    normaliser statistics and environment metadata (what the trainer writes)."""
    import numpy as np
    import torch

    from envs.hdf5_demos import read_episode, validate_demo_file
    from models import ACTConfig, build_model
    from training.checkpoint import save_checkpoint
    from training.normalizer import Normalizer

    info = validate_demo_file(tiny_demo_file)
    episodes = [read_episode(tiny_demo_file, index, with_images=False) for index in range(info.num_episodes)]
    normalizer = Normalizer.from_data(
        np.concatenate([episode["qpos"] for episode in episodes]),
        np.concatenate([episode["actions"] for episode in episodes]),
    )
    config = ACTConfig(
        hidden_dim=32, n_heads=2, dim_feedforward=64, enc_layers=1, dec_layers=1, cvae_enc_layers=1,
        latent_dim=8, chunk_size=5, image_size=info.image_size, camera_names=info.cameras,
    )
    torch.manual_seed(0)
    model = build_model("standard", config)
    path = tmp_path_factory.mktemp("checkpoints") / "tiny.pth"
    save_checkpoint(
        path,
        {
            "model_kind": "standard",
            "model_config": config.to_dict(),
            "model_state": model.state_dict(),
            "normalizer": normalizer.state_dict(),
            "env": {
                "task": info.task,
                "cameras": list(info.cameras),
                "image_size": info.image_size,
                "fast_render": bool(info.attrs.get("fast_render", True)),
                "qpos_dim": info.qpos_dim,
                "action_dim": info.action_dim,
                "demo_seeds": list(info.episode_seeds),
                "dataset": str(tiny_demo_file),
            },
            "train_config": {"note": "untrained tiny test checkpoint"},
            "step": TINY_CHECKPOINT_STEP,
            "code_version": "test",
        },
    )
    return str(path)


class ScriptRun:
    """What an entry point's ``main(argv)`` returned and printed (a subprocess's returncode, stdout, stderr)."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_main(script: str, *argv: str) -> ScriptRun:
    """Runs ``scripts/<script>.py``'s ``main(argv)`` in this process, as its console script would (an argparse
    error's SystemExit becomes the exit code), capturing what it prints. For the many one-line-error checks:
    the same code path as the command, without a new interpreter's imports; tests of signals and of exit
    codes end to end run the script as a subprocess."""
    import contextlib
    import importlib
    import io

    module = importlib.import_module(f"scripts.{script.removeprefix('scripts/').removesuffix('.py')}")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = module.main(list(argv))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return ScriptRun(int(code or 0), stdout.getvalue(), stderr.getvalue())
