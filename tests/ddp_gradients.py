"""Helper of tests/test_distributed.py (not a test): the gradient of training step 0, written to a file.

    python tests/ddp_gradients.py DATA RUNS OUTPUT                               # one process, batch B
    torchrun --standalone --nproc_per_node 2 tests/ddp_gradients.py DATA RUNS OUTPUT   # 2 ranks, B/2 each

Both build the trainer the training script builds (rank 0 writes the run folder) and compute the
parameters' gradients for step 1 of the same tiny recipe, for Standard and Modified ACT; rank 0
saves them with the loss.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from training import distributed
from training.trainer import TrainConfig, Trainer

# chunk 40 on demos of ~100 steps: many windows run past an episode's end, so padding falls
# unevenly between the ranks' halves of a batch
MODEL = {"hidden_dim": 32, "n_heads": 2, "dim_feedforward": 64, "enc_layers": 1, "dec_layers": 1,
         "cvae_enc_layers": 1, "latent_dim": 8, "chunk_size": 40, "dropout": 0.0}


def main(data: str, runs: str, output: str) -> None:
    world = distributed.launched_world()
    distributed.init_process_group(world, use_cuda=False)
    results = {model: gradient_of_a_step(data, runs, model, world) for model in ("standard", "modified")}
    if world.is_main:
        torch.save(results, output)
    distributed.close(world)


def gradient_of_a_step(data: str, runs: str, model: str, world: distributed.World) -> dict:
    config = TrainConfig(data=data, model=model, steps=2, batch_size=8, val_fraction=0, augment_shift=4,
                         action_loss="l1", output_dir=runs, run_name=f"{model}_{world.size}", device="cpu", seed=3)
    trainer = Trainer.start(config, MODEL)
    step = 1  # a step whose batch runs into episode ends for this seed (the test checks it)
    trainer.step = step
    batch = trainer.batch(step)
    losses = trainer.backward(batch)
    loss = distributed.all_reduce_mean(losses["loss"].detach().clone(), world)
    padded_here = batch["is_pad"].sum().float()  # padded (window, step) rows of this rank's part
    padded = distributed.all_reduce_sum(padded_here.clone(), world)
    gradients = {name: p.grad.detach().clone() for name, p in trainer.model.named_parameters() if p.grad is not None}
    trainer.release()
    return {"gradients": gradients, "loss": loss, "padded_rows": padded, "padded_rows_rank0": padded_here}


if __name__ == "__main__":
    main(*sys.argv[1:])
