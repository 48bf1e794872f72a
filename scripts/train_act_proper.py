#!/usr/bin/env python
"""Train Standard or Modified ACT on a demonstration HDF5 file.

    python scripts/train_act_proper.py --model modified --data data/shelf-place-v3.hdf5
    python scripts/train_act_proper.py --resume runs/<run folder>      # continue an interrupted run

Model flags left unset take the ACT paper's defaults (models/config.py).
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_float, non_negative_int, positive_float, positive_int, stop_cleanly_on_signals

# Model flags map one-to-one onto ACTConfig fields; unset ones keep ACTConfig's defaults.
MODEL_FLAGS = {
    "chunk_size": positive_int,
    "hidden_dim": positive_int,
    "dim_feedforward": positive_int,
    "n_heads": positive_int,
    "enc_layers": positive_int,
    "dec_layers": positive_int,
    "cvae_enc_layers": positive_int,
    "latent_dim": positive_int,
    "dropout": non_negative_float,
    "kl_weight": non_negative_float,
    "backbone_norm": str,
}


# What --resume may be given: the run to continue, its model (checked), a new step target, quiet.
RESUME_FLAGS = ("resume", "model", "steps", "quiet")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--model", choices=["standard", "modified"], default=None, help="ACT variant (default standard)")
    parser.add_argument("--data", default="data/shelf-place-v3.hdf5", help="demonstration HDF5 file")
    parser.add_argument("--cameras", nargs="+", default=None, help="cameras to use (default: all in the file)")
    parser.add_argument(
        "--state_input", choices=["qpos", "env_state"], default="qpos",
        help="state vector the model sees: qpos (hand xyz + gripper, default) or env_state (MetaWorld's 39 floats "
        "with object and goal positions: a privileged upper bound, not a vision policy)",
    )
    parser.add_argument("--steps", type=positive_int, default=None, help="optimiser steps (default 20000)")
    parser.add_argument("--epochs", type=positive_float, default=None, help="alternative to --steps: passes over the training frames")
    parser.add_argument("--batch_size", type=positive_int, default=8)
    parser.add_argument("--lr", type=positive_float, default=1e-4)
    parser.add_argument("--lr_backbone", type=positive_float, default=1e-4)
    parser.add_argument(
        "--lr_schedule", choices=["constant", "cosine"], default="constant",
        help="constant (ACT's default) or cosine decay to --lr_min_ratio × lr at the last step",
    )
    parser.add_argument("--lr_min_ratio", type=non_negative_float, default=0.1, help="cosine: final lr / initial lr")
    parser.add_argument("--warmup_steps", type=non_negative_int, default=0, help="linear lr warm-up steps")
    parser.add_argument("--weight_decay", type=non_negative_float, default=1e-4)
    parser.add_argument(
        "--amp", choices=["off", "bf16"], default="off",
        help="bf16: forward pass under bfloat16 autocast (faster on GPUs and on CPUs with AVX512-BF16/AMX)",
    )
    parser.add_argument(
        "--compile", action="store_true",
        help="torch.compile the training forward pass: fewer, fused kernels for GPUs, where a step is bound by "
        "kernel launches (the first steps wait for the compiler; needs a C++ compiler on a CPU)",
    )
    parser.add_argument("--grad_clip", type=positive_float, default=10.0)
    parser.add_argument(
        "--action_loss", choices=["l1", "l2", "huber"], default="l1",
        help="reconstruction term of the loss: l1 (ACT's), l2, or huber (quadratic within --huber_delta of the "
        "target, L1 beyond): with L1 the many frames whose target is exactly 0 hold a prediction at 0 as hard as "
        "the few where it moves pull it away (training/loss.py)",
    )
    parser.add_argument("--huber_delta", type=positive_float, default=1.0,
                        help="huber: the error in normalised action units below which the loss is quadratic")
    parser.add_argument(
        "--ema_decay", type=non_negative_float, default=0.0,
        help="> 0 (e.g. 0.999): checkpoints hold an exponential moving average of the weights (0 = off, ACT's)",
    )
    parser.add_argument("--augment_shift", type=non_negative_int, default=4, help="random-shift augmentation, pixels (0 = off)")
    parser.add_argument("--val_fraction", type=non_negative_float, default=0.1)
    parser.add_argument(
        "--init_weights", default="",
        help="start from this checkpoint's weights and normaliser (same --model and architecture); "
        "the step count, optimiser and schedule start afresh",
    )
    for flag, kind in MODEL_FLAGS.items():
        parser.add_argument(f"--{flag}", type=kind, default=None, help="model config (default: ACT paper)")
    parser.add_argument("--pretrained_backbone", action="store_true", help="start ResNet18 from ImageNet weights (download)")
    parser.add_argument(
        "--cvae_detach_images", action="store_true",
        help="Modified ACT: its CVAE encoder sees the image tokens without passing the KL gradient to the backbone",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--output_dir", default="runs")
    parser.add_argument("--run_name", default="", help="run folder name (default <task>__<model>__seed<k>__<time>)")
    parser.add_argument("--resume", default=None, help="run folder (or last.pth) to continue")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--num_workers", type=non_negative_int, default=0, help="DataLoader worker processes")
    parser.add_argument(
        "--data_on_device", action="store_true",
        help="hold the training windows on the training device (images as uint8) and draw batches there, "
        "instead of DataLoader workers reading HDF5 (same batches; --num_workers is then unused)",
    )
    parser.add_argument("--log_every", type=positive_int, default=50)
    parser.add_argument("--val_every", type=positive_int, default=500, help="steps between validation + checkpoints")
    parser.add_argument("--save_every", type=non_negative_int, default=0, help="keep step_<k>.pth snapshots (0 = none)")
    parser.add_argument("--eval_every", type=non_negative_int, default=0, help="steps between rollouts (0 = never)")
    parser.add_argument("--eval_episodes", type=positive_int, default=10)
    parser.add_argument("--eval_max_steps", type=positive_int, default=500, help="step limit of those rollouts")
    parser.add_argument("--eval_chunked", action="store_true", help="rollouts without temporal aggregation")
    parser.add_argument("--select_best", choices=["val_loss", "success"], default="val_loss")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.steps is not None and args.epochs is not None:
        parser.error("pass --steps or --epochs, not both")
    # the flags given with a value other than their default: what a resumed run would have to change
    args.changed = sorted(name for name, value in vars(args).items() if value != parser.get_default(name))
    if args.resume:
        refused = [name for name in args.changed if name not in RESUME_FLAGS]
        if refused:
            parser.error(
                "--resume continues a run with the settings it was started with; "
                + ", ".join(f"--{name}" for name in refused)
                + " would change it. Start a new run (another --run_name) to train with other settings"
            )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from evaluation.training_rollouts import attach_rollout_eval
    from training.trainer import TrainConfig, Trainer, TrainSetupError

    try:
        if args.resume:
            trainer = Trainer.resume(args.resume, expected_model=args.model, steps=args.steps)
            if args.steps is not None and args.steps < trainer.step:
                raise TrainSetupError(
                    f"the run is at step {trainer.step}, past --steps {args.steps}; "
                    f"give more than {trainer.step} steps to continue it"
                )
            if args.steps is not None and args.steps != trainer.stored_steps:
                print(f"resuming with steps = {trainer.config.steps} (was {trainer.stored_steps})")
        else:
            model_overrides = {flag: getattr(args, flag) for flag in MODEL_FLAGS if getattr(args, flag) is not None}
            if args.pretrained_backbone:
                model_overrides.update(pretrained_backbone=True, backbone_norm="frozen_batch")
            if args.cvae_detach_images:
                if (args.model or "standard") != "modified":
                    raise TrainSetupError("--cvae_detach_images needs --model modified (Standard's CVAE sees no images)")
                model_overrides.update(cvae_image_grad=False)
            config = TrainConfig(
                data=args.data,
                model=args.model or "standard",
                cameras=tuple(args.cameras or ()),
                state_input=args.state_input,
                steps=args.steps or 20000,
                batch_size=args.batch_size,
                lr=args.lr,
                lr_backbone=args.lr_backbone,
                weight_decay=args.weight_decay,
                amp=args.amp,
                compile=args.compile,
                lr_schedule=args.lr_schedule,
                lr_min_ratio=args.lr_min_ratio,
                warmup_steps=args.warmup_steps,
                grad_clip=args.grad_clip,
                action_loss=args.action_loss,
                huber_delta=args.huber_delta,
                ema_decay=args.ema_decay,
                augment_shift=args.augment_shift,
                init_weights=args.init_weights,
                val_fraction=args.val_fraction,
                seed=args.seed,
                output_dir=args.output_dir,
                device=args.device,
                num_workers=args.num_workers,
                data_on_device=args.data_on_device,
                log_every=args.log_every,
                val_every=args.val_every,
                save_every=args.save_every,
                eval_every=args.eval_every,
                eval_episodes=args.eval_episodes,
                eval_max_steps=args.eval_max_steps,
                eval_temporal_agg=not args.eval_chunked,
                select_best=args.select_best,
                run_name=args.run_name,
                epochs=args.epochs or 0.0,
            )
            trainer = Trainer.start(config, model_overrides)
    except TrainSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if trainer.config.eval_every > 0:
        attach_rollout_eval(trainer)
    print(
        f"run folder: {trainer.run_dir}\n"
        f"model: {trainer.config.model} ACT, {sum(p.numel() for p in trainer.model.parameters()) / 1e6:.1f}M parameters, "
        f"cameras {', '.join(trainer.model_config.camera_names)} at {trainer.model_config.image_size}px, "
        f"chunk {trainer.model_config.chunk_size}"
        + (", state input env_state (privileged: object and goal positions)"
           if trainer.config.state_input == "env_state" else "")
        + f"; {len(trainer.train_episodes)} train / "
        f"{len(trainer.val_episodes)} val episodes; device {trainer.device}, {torch.get_num_threads()} threads; "
        f"step {trainer.step} of {trainer.config.steps}",
        flush=True,
    )
    try:
        run_dir = trainer.run(progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted at step {trainer.step}; saved. Continue with: "
              f"python scripts/train_act_proper.py --resume {trainer.run_dir}", file=sys.stderr)
        return 130
    print(json.dumps({"run_dir": str(run_dir), "step": trainer.step, **(trainer.history[-1] if trainer.history else {})}))
    return 0


if __name__ == "__main__":
    stop_cleanly_on_signals()
    sys.exit(main())
