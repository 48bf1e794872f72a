"""The training command (scripts/train_act_proper.py): flags from TrainConfig and ACTConfig, start or resume, data-parallel under torchrun."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipeline.cli import (
    ConfigError,
    Parser,
    add_fields,
    build,
    changed_flags,
    config_section,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)

# What --resume may be given: the run to continue, its model (checked), a new step target, quiet.
RESUME_FLAGS = ("resume", "model", "steps", "quiet")
# ACTConfig fields the data determines, not the user
MODEL_SHAPE_FIELDS = ("state_dim", "action_dim", "camera_names", "image_size")
# TrainConfig fields with flags of their own below
TRAIN_OWN_FLAGS = ("model", "data")


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    from models import MODEL_KINDS, ACTConfig
    from models.config import BACKBONE_NORMS, SUPPORTED_BACKBONES
    from training.trainer import AMP_MODES, TrainConfig

    argv = sys.argv[1:] if argv is None else argv
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--model", default=None)
    kind = early.parse_known_args(argv)[0].model  # a recipe's [modified.train], [modified.model] apply to it
    try:
        config_file, train_values = config_section(argv, "train", TrainConfig, exclude=("model", "run_name", "output_dir"),
                                                   model=kind)
        _, model_values = config_section(argv, "model", ACTConfig, exclude=MODEL_SHAPE_FIELDS, model=kind)
    except ConfigError as error:
        Parser().error(str(error))
    parser = Parser(description)
    parser.add_argument("--config", default=config_file,
                        help="recipe file (configs/*.toml) whose [train] and [model] tables set the defaults")
    parser.add_argument("--model", choices=MODEL_KINDS, default=None, help="ACT variant (default standard)")
    parser.add_argument("--data", default=train_values.get("data", TrainConfig.data), help="demonstration HDF5 file")
    parser.add_argument("--resume", default=None, help="run folder (or last.pth) to continue with its own settings")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    train_fields = add_fields(
        parser, TrainConfig, values=train_values, exclude=TRAIN_OWN_FLAGS, title="training (TrainConfig)",
        types_={"steps": positive_int, "epochs": non_negative_float, "batch_size": positive_int, "lr": positive_float,
                "lr_backbone": positive_float, "lr_min_ratio": non_negative_float, "warmup_steps": non_negative_int,
                "weight_decay": non_negative_float, "grad_clip": positive_float, "huber_delta": positive_float,
                "ema_decay": non_negative_float, "augment_shift": non_negative_int, "val_fraction": non_negative_float,
                "seed": non_negative_int, "num_workers": non_negative_int, "log_every": positive_int,
                "val_every": positive_int, "val_batches": positive_int, "save_every": non_negative_int,
                "eval_every": non_negative_int, "eval_episodes": positive_int, "eval_max_steps": positive_int},
        choices={"amp": AMP_MODES, "action_loss": ("l1", "l2", "huber"), "lr_schedule": ("constant", "cosine"),
                 "state_input": ("qpos", "env_state"), "device": ("auto", "cpu", "cuda"),
                 "select_best": ("val_loss", "success"), "logger": ("jsonl", "tensorboard")},
    )
    model_fields = add_fields(
        parser, ACTConfig, values=model_values, exclude=MODEL_SHAPE_FIELDS, title="model (ACTConfig; ACT paper defaults)",
        types_={name: positive_int for name in ("chunk_size", "hidden_dim", "n_heads", "dim_feedforward", "enc_layers",
                                                "dec_layers", "cvae_enc_layers", "latent_dim")}
        | {"dropout": non_negative_float, "kl_weight": non_negative_float},
        choices={"backbone": SUPPORTED_BACKBONES, "backbone_norm": BACKBONE_NORMS},
    )
    # the names these switches have always had
    parser.add_argument("--cvae_detach_images", dest="cvae_image_grad", action="store_false",
                        help="Modified ACT: its CVAE encoder sees the image tokens detached (= --no-cvae_image_grad)")
    parser.add_argument("--eval_chunked", dest="eval_temporal_agg", action="store_false",
                        help="rollouts during training without temporal aggregation (= --no-eval_temporal_agg)")
    args = parser.parse_args(argv)
    args.train_fields, args.model_fields = train_fields, model_fields
    # the flags given with a value other than their default: what a resumed run would have to change
    args.changed = [name for name in changed_flags(parser, args) if name not in ("train_fields", "model_fields")]
    if "steps" in args.changed and args.epochs > 0:
        parser.error("pass --steps or --epochs, not both")
    if args.resume:
        refused = [name for name in args.changed if name not in RESUME_FLAGS]
        if refused:
            parser.error(
                "--resume continues a run with the settings it was started with; "
                + ", ".join(f"--{name}" for name in refused)
                + " would change it. Start a new run (another --run_name) to train with other settings"
            )
    return args


def main(argv: list[str] | None = None, description: str | None = None) -> int:
    args = parse_args(argv, description)
    import torch

    from training import distributed

    # under torchrun: one process per rank (gloo on CPUs, NCCL on GPUs), rank 0 prints and writes
    world = distributed.launched_world()
    if world.distributed and not args.resume and args.batch_size % world.size:
        if world.is_main:
            print(f"error: batch_size {args.batch_size} (the global batch) cannot be split evenly over {world.size} "
                  "processes; choose a multiple of the process count", file=sys.stderr)
        return 2
    distributed.init_process_group(world, use_cuda=torch.cuda.is_available() and args.device != "cpu")
    args.quiet = args.quiet or not world.is_main
    try:
        return train(args, world)
    finally:
        distributed.close(world)


def train(args: argparse.Namespace, world: Any) -> int:
    from evaluation.training_rollouts import attach_rollout_eval
    from training.trainer import TrainConfig, Trainer, TrainSetupError

    try:
        if args.resume:
            trainer = Trainer.resume(args.resume, expected_model=args.model, steps=args.steps if "steps" in args.changed else None)
            if "steps" in args.changed and args.steps < trainer.step:
                raise TrainSetupError(
                    f"the run is at step {trainer.step}, past --steps {args.steps}; "
                    f"give more than {trainer.step} steps to continue it"
                )
            if "steps" in args.changed and args.steps != trainer.stored_steps:
                print(f"resuming with steps = {trainer.config.steps} (was {trainer.stored_steps})")
        else:
            model_overrides = {name: getattr(args, name) for name in args.model_fields}
            if args.pretrained_backbone and "backbone_norm" not in args.changed:
                model_overrides["backbone_norm"] = "frozen_batch"  # ImageNet statistics, as the original ACT
            if not args.cvae_image_grad and (args.model or "standard") != "modified":
                raise TrainSetupError("--cvae_detach_images needs --model modified (Standard's CVAE sees no images)")
            config = build(TrainConfig, args, args.train_fields, model=args.model or "standard", data=args.data)
            trainer = Trainer.start(config, model_overrides)
    except TrainSetupError as error:
        if world.is_main:
            print(f"error: {error}", file=sys.stderr)
        return 2
    if trainer.config.eval_every > 0:
        attach_rollout_eval(trainer)
    if world.is_main:
        print(run_summary(trainer, world), flush=True)
    try:
        run_dir = trainer.run(progress=not args.quiet)
    except KeyboardInterrupt:
        if world.is_main:
            print(f"\ninterrupted at step {trainer.step}; saved. Continue with: "
                  f"python scripts/train_act_proper.py --resume {trainer.run_dir}", file=sys.stderr)
        return 130
    if not world.is_main:
        return 0
    print(json.dumps({"run_dir": str(run_dir), "step": trainer.step, **(trainer.history[-1] if trainer.history else {})}))
    return 0



def run_summary(trainer: Any, world: Any) -> str:
    """The lines printed when training starts: run folder, model, data, device and step."""
    import torch

    config, model_config = trainer.config, trainer.model_config
    parameters = sum(p.numel() for p in trainer.model.parameters()) / 1e6
    processes = (f" x {world.size} processes (global batch {config.batch_size}, {config.batch_size // world.size} each)"
                 if world.distributed else "")
    return (
        f"run folder: {trainer.run_dir}\n"
        f"model: {config.model} ACT, {parameters:.1f}M parameters, cameras {', '.join(model_config.camera_names)} "
        f"at {model_config.image_size}px, chunk {model_config.chunk_size}"
        + (", state input env_state (privileged: object and goal positions)" if config.state_input == "env_state" else "")
        + f"; {len(trainer.train_episodes)} train / {len(trainer.val_episodes)} val episodes; "
        f"device {trainer.device}, {torch.get_num_threads()} threads{processes}; step {trainer.step} of {config.steps}"
    )
