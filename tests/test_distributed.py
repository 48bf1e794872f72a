"""Data-parallel training (training/distributed.py) with real processes: torchrun, gloo, 2 CPU ranks."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys

import torch

from training.checkpoint import load_checkpoint
from training.distributed import SINGLE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HELPER = os.path.join(ROOT, "tests", "ddp_gradients.py")


def torchrun(*args: str, processes: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *args]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_ranks_at_half_the_batch_give_one_process_gradient(tiny_demo_file, tmp_path):
    """Step 1 of a recipe with image shifts, CVAE noise and uneven padding: 2 ranks at batch 4 each
    compute, after DDP's all-reduce, the gradient 1 process computes at batch 8 (to float tolerance),
    for both models."""
    two = tmp_path / "two.pt"
    torchrun(HELPER, tiny_demo_file, str(tmp_path / "runs"), str(two))
    ranks_by_model = torch.load(two, weights_only=True)
    one_process = runpy.run_path(HELPER)["gradient_of_a_step"]
    for model, ranks in ranks_by_model.items():
        single = one_process(tiny_demo_file, str(tmp_path / "runs"), model, SINGLE)
        # the padding falls unevenly between the two halves: a per-rank mean would weigh it wrongly
        assert single["padded_rows"] == ranks["padded_rows"] > 0
        assert ranks["padded_rows_rank0"] * 2 != ranks["padded_rows"]
        torch.testing.assert_close(ranks["loss"], single["loss"], rtol=1e-5, atol=1e-6)
        assert single["gradients"].keys() == ranks["gradients"].keys()
        for name, gradient in single["gradients"].items():
            scale = gradient.abs().max().item() + 1e-8
            torch.testing.assert_close(ranks["gradients"][name], gradient, rtol=1e-4, atol=1e-5 * scale,
                                       msg=f"{model}: {name}")


def test_a_torchrun_run_writes_one_run_folder_and_resumes_exactly(tiny_demo_file, tmp_path):
    """2 ranks train 2 steps, then the run is resumed to 4 under torchrun: rank 0 alone wrote the folder
    (every step logged once) and the weights equal an uninterrupted 2-rank run of 4 steps bit for bit."""
    common = ["scripts/train_act_proper.py", "--data", tiny_demo_file, "--output_dir", str(tmp_path),
              "--batch_size", "4", "--val_every", "2", "--log_every", "1", "--val_fraction", "0", "--device", "cpu",
              "--hidden_dim", "32", "--n_heads", "2", "--dim_feedforward", "64", "--enc_layers", "1", "--dec_layers", "1",
              "--cvae_enc_layers", "1", "--latent_dim", "8", "--chunk_size", "5", "--quiet"]
    first = torchrun(*common, "--steps", "2", "--run_name", "stopped")
    assert first.stdout.count("run folder:") == 1  # rank 0 alone prints
    torchrun("scripts/train_act_proper.py", "--resume", str(tmp_path / "stopped"), "--steps", "4", "--quiet")
    torchrun(*common, "--steps", "4", "--run_name", "straight")
    records = [json.loads(line) for line in (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train/loss" in r] == [1, 2, 3, 4]
    resumed = load_checkpoint(tmp_path / "stopped" / "checkpoints" / "last.pth")
    straight = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pth")
    assert resumed["step"] == straight["step"] == 4
    assert resumed["provenance"]["processes"] == 2 and resumed["provenance"]["resumed"][0]["processes"] == 2
    for name, tensor in straight["model_state"].items():
        assert torch.equal(resumed["model_state"][name], tensor), name


def test_a_global_batch_that_does_not_split_evenly_is_refused(tiny_demo_file, tmp_path):
    """Checked before the process group forms (rank 0 of the world torchrun describes in the environment)."""
    command = [sys.executable, "scripts/train_act_proper.py", "--data", tiny_demo_file, "--output_dir", str(tmp_path),
               "--batch_size", "5", "--steps", "2", "--device", "cpu", "--quiet"]
    environment = {**os.environ, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: batch_size 5 (the global batch) cannot be split evenly over 2 processes; "
                                   "choose a multiple of the process count")
    assert not any(tmp_path.iterdir())
