"""Checkpoint averaging (training.checkpoint.average_checkpoints, scripts/average_checkpoints.py)
on real tiny checkpoints: the averaged weights are the mean, the policy loads and acts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import run_main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "average_checkpoints.py")


def _perturbed_copy(tiny_checkpoint: str, path, step: int, seed: int) -> str:
    """The tiny checkpoint with every float weight moved by seeded noise, saved as step `step`."""
    from training.checkpoint import load_checkpoint, save_checkpoint

    checkpoint = load_checkpoint(tiny_checkpoint)
    generator = torch.Generator().manual_seed(seed)
    checkpoint["model_state"] = {
        name: value + torch.randn(value.shape, generator=generator) if torch.is_floating_point(value) else value
        for name, value in checkpoint["model_state"].items()
    }
    checkpoint["step"] = step
    checkpoint["optimizer_state"] = {"note": "not carried into the average"}
    del checkpoint["path"]
    save_checkpoint(path, checkpoint)
    return str(path)


def test_script_writes_the_mean_and_the_policy_runs(tiny_checkpoint, tmp_path):
    from evaluation.policy import ACTPolicy
    from training.checkpoint import load_checkpoint

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    paths = [
        _perturbed_copy(tiny_checkpoint, run / "checkpoints" / f"step_{step:06d}.pth", step, seed)
        for seed, step in enumerate((1000, 2000, 3000))
    ]
    output = run / "checkpoints" / "avg.pth"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--run", str(run), "--steps", "1000", "2000", "3000", "--output", str(output)],
        capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [source["step"] for source in json.loads(done.stdout)["averaged_from"]] == [1000, 2000, 3000]

    sources = [load_checkpoint(path) for path in paths]
    averaged = load_checkpoint(output)
    assert averaged["step"] == 3000 and "optimizer_state" not in averaged
    floats = [name for name, value in averaged["model_state"].items() if torch.is_floating_point(value)]
    assert floats
    for name in floats:
        expected = sum(source["model_state"][name] for source in sources) / 3
        torch.testing.assert_close(averaged["model_state"][name], expected)
        assert not torch.equal(averaged["model_state"][name], sources[-1]["model_state"][name])

    policy = ACTPolicy.from_checkpoint(output)
    assert [source["step"] for source in policy.identity()["averaged_from"]] == [1000, 2000, 3000]
    qpos = np.zeros((2, policy.qpos_dim), dtype=np.float32)  # (B, Q)
    images = np.zeros((2, len(policy.cameras), policy.image_size, policy.image_size, 3), dtype=np.uint8)  # (B, N, H, W, 3)
    chunks = policy.predict_chunks(qpos, images)  # (B, S, A)
    assert chunks.shape[0] == 2 and np.isfinite(chunks).all()


def test_checkpoints_of_different_models_are_refused(tiny_checkpoint, tmp_path):
    from training.checkpoint import CheckpointError, average_checkpoints, load_checkpoint

    first = load_checkpoint(tiny_checkpoint)
    other = load_checkpoint(tiny_checkpoint)
    other["model_kind"] = "modified"
    with pytest.raises(CheckpointError, match="model_kind differs"):
        average_checkpoints([first, other])
    with pytest.raises(CheckpointError, match="at least two"):
        average_checkpoints([first])


def test_user_mistakes_are_one_line_errors(tiny_checkpoint, tmp_path):
    for arguments, message in (
        (["--run", str(tmp_path), "--steps", "1000", "2000", "--output", str(tmp_path / "a.pth")], "no such checkpoint"),
        (["--checkpoints", tiny_checkpoint, "--output", str(tmp_path / "a.pth")], "at least two"),
        (["--checkpoints", tiny_checkpoint, tiny_checkpoint, "--output", tiny_checkpoint], "is one of the inputs"),
        (["--run", str(tmp_path), "--output", str(tmp_path / "a.pth")], "needs --steps"),
    ):
        done = run_main("average_checkpoints", *arguments)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
