"""The KL-gradient diagnostic on real tiny training runs of both models."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from training.trainer import TrainConfig, Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "diag_kl_gradient.py")
TINY_MODEL = {
    "hidden_dim": 32, "n_heads": 2, "dim_feedforward": 64, "enc_layers": 1, "dec_layers": 1, "cvae_enc_layers": 1,
    "latent_dim": 8, "chunk_size": 5,
}


def tiny_run(data: str, tmp_path, model: str, name: str, **model_overrides) -> str:
    config = TrainConfig(
        data=data, model=model, steps=2, batch_size=2, log_every=1, val_every=2, val_batches=1, save_every=1,
        output_dir=str(tmp_path / "runs"), run_name=name, device="cpu", augment_shift=0,
    )
    return str(Trainer.start(config, {**TINY_MODEL, **model_overrides}).run(progress=False))


@pytest.mark.parametrize(("model", "overrides", "reaches_backbone"), [
    ("modified", {}, True),
    ("modified", {"cvae_image_grad": False}, False),
    ("standard", {}, False),
])
def test_kl_gradient_reaches_the_backbone_only_through_modified_image_tokens(
    tiny_demo_file, tmp_path, model, overrides, reaches_backbone
):
    run = tiny_run(tiny_demo_file, tmp_path, model, f"{model}-{len(overrides)}", **overrides)
    output = tmp_path / "kl.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--data", tiny_demo_file, "--initial", "--batch_size", "3", "--output", str(output),
         "--checkpoint", f"{run}/checkpoints/step_000001.pth", f"{run}/checkpoints/step_000002.pth"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(output.read_text())
    assert json.loads(done.stdout) == report and report["model_kind"] == model
    assert [row["step"] for row in report["rows"]] == [0, 1, 2]
    for row in report["rows"]:
        assert row["l1"]["backbone_grad_norm"] > 0 and row["kl"]["loss"] > 0
        assert (row["kl"]["backbone_grad_norm"] > 0) is reaches_backbone


def test_checkpoints_of_different_runs_are_refused(tiny_demo_file, tmp_path):
    first = tiny_run(tiny_demo_file, tmp_path, "modified", "a")
    second = tiny_run(tiny_demo_file, tmp_path, "standard", "b")
    done = subprocess.run(
        [sys.executable, SCRIPT, "--data", tiny_demo_file, "--checkpoint", f"{first}/checkpoints/last.pth",
         f"{second}/checkpoints/last.pth"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2 and "not from the same run" in done.stderr and "Traceback" not in done.stderr
