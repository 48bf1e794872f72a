"""The ACT training loop: data, optimiser, logging, validation, checkpoints, resume.

Run layout (one folder per run)::

    <output_dir>/<task>__<model>__seed<k>__<YYYYmmdd-HHMMSS>/
        config.json          resolved TrainConfig + ACTConfig + env metadata
        metrics.jsonl        one JSON object per log event (train/*, val/*, eval/*, perf/*)
        plots/loss.png       train and validation loss, refreshed at every validation
        checkpoints/last.pth latest state (resume point)
        checkpoints/best.pth lowest validation loss, or highest eval success (select_best); absent
                             when the run has neither a validation split nor rollouts
        checkpoints/step_<k>.pth  weights every save_every steps (for success-vs-steps curves)

With ``ema_decay`` > 0 the trainer keeps an exponential moving average of the weights beside
the optimiser's: every checkpoint's ``model_state`` is then the average (the policy that is
validated and evaluated), and last.pth also holds the optimiser's own weights under
``train_model_state`` so that a resume continues both.

Determinism: every random draw of step k is a function of (seed, k): its batch (see
`training.dataset.StepBatchSampler`), its image shifts and its CVAE noise (drawn for the whole batch),
and its dropout masks (torch's generator is reseeded with (seed, k, rank) before the step). So
``--resume`` reproduces the uninterrupted run's weights bit for bit on CPU, after an interrupt at any
point, and data-parallel processes (`training.distributed`) compute one process's batch.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from envs.hdf5_demos import DemoFileInfo, demo_file_provenance, validate_demo_file
from models import MODEL_KINDS, ACTConfig, build_model
from training import batch_keys
from training import distributed as dist_
from training.atomic import atomic_path, write_json, write_text
from training.augment import random_shift
from training.checkpoint import CheckpointError, code_state, code_version, load_checkpoint, save_checkpoint
from training.dataset import (
    STATE_INPUTS,
    DeviceWindows,
    EpisodeWindowDataset,
    StepBatchSampler,
    fit_normalizer,
    split_episodes,
)
from training.loggers import LOGGERS, LoggerError, TensorBoardLogger, middle_frame
from training.loss import action_dim_names, check_reconstruction, forward_and_loss
from training.normalizer import Normalizer, normalize_images

SELECT_BEST = ("val_loss", "success")
LR_SCHEDULES = ("constant", "cosine")
AMP_MODES = ("off", "bf16", "auto")


def build_optimizer(
    model: torch.nn.Module, lr: float, lr_backbone: float, weight_decay: float, fused: bool = True
) -> torch.optim.AdamW:
    """AdamW over two groups: the ResNet backbone at `lr_backbone`, everything else at `lr`.

    `fused` runs the update as one kernel over all tensors instead of a dozen small ops per
    tensor: on a 2-core CPU the optimiser step of the CPU recipe's model falls from about 110 to
    about 27 ms, a sixth of a batch-8 step (`python benchmarks/bench_train.py --configs
    small_96px_chunk50 --amp bf16 --adamw loop fused`). The update is the same AdamW.
    """
    backbone_params = [p for p in model.backbone.parameters() if p.requires_grad]
    backbone_ids = {id(p) for p in backbone_params}
    other_params = [p for p in model.parameters() if p.requires_grad and id(p) not in backbone_ids]
    return torch.optim.AdamW(
        [{"params": other_params, "lr": lr}, {"params": backbone_params, "lr": lr_backbone}],
        weight_decay=weight_decay,
        **({"fused": True} if fused else {"foreach": False}),
    )


class TrainSetupError(ValueError):
    """A user-fixable problem found before training starts; the message says what to change."""


@dataclass
class TrainConfig:
    data: str = "data/shelf-place-v3.hdf5"  # demonstration HDF5 file made by collect_act_demos.py
    model: str = "standard"  # "standard" or "modified" ACT
    cameras: tuple[str, ...] = ()  # cameras fed to the model; empty = every camera in the file
    state_input: str = "qpos"  # state vector fed to the model: "qpos" (hand, the default) or "env_state"
    # (MetaWorld's 39 floats with object and goal positions: a privileged upper bound, not a vision policy)
    steps: int = 20000  # optimiser steps
    epochs: float = 0.0  # if > 0, overrides steps: passes over the training frames
    batch_size: int = 8  # windows per step (ACT paper: 8)
    lr: float = 1e-4  # AdamW learning rate of the transformer and heads
    lr_backbone: float = 1e-4  # AdamW learning rate of the ResNet backbone
    lr_schedule: str = "constant"  # "constant" (ACT's) or "cosine": decays both lrs to lr_min_ratio × lr by `steps`
    lr_min_ratio: float = 0.1  # cosine: final lr as a share of the initial lr
    warmup_steps: int = 0  # linear warm-up from 0 over the first steps (any schedule)
    weight_decay: float = 1e-4  # AdamW weight decay (ACT paper: 1e-4)
    amp: str = "off"  # "bf16": forward pass under bfloat16 autocast (weights, optimiser and loss stay fp32);
    # "auto": bf16 where the device computes it natively (a GPU, or a CPU with AVX512-BF16 or AMX), else off.
    # The run records what was used
    compile: bool = False  # torch.compile the training forward pass (fewer, fused kernels: for GPUs, where a
    # step is bound by kernel launches; the first steps wait for the compiler). The same batches and function;
    # dropout and the CVAE's z are drawn from the compiler's random stream, so not bit-identical to eager
    grad_clip: float = 10.0  # max global gradient norm
    action_loss: str = "l1"  # reconstruction term: "l1" (ACT's), "l2" or "huber" (training/loss.py)
    huber_delta: float = 1.0  # huber: the error (normalised action units) below which it is quadratic
    ema_decay: float = 0.0  # > 0 (e.g. 0.999): checkpoints hold an exponential moving average of the weights
    augment_shift: int = 4  # random-shift augmentation in pixels (0 = off)
    val_fraction: float = 0.1  # share of episodes held out for validation loss
    init_weights: str = ""  # a checkpoint of the same model and architecture whose weights (and joint
    # state / action normaliser) start this run; step, optimiser and schedule start afresh ("" = random init)
    seed: int = 0  # seeds the split, the batches, the augmentation and the initial weights
    output_dir: str = "runs"  # parent folder of run folders
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    num_workers: int = 0  # DataLoader worker processes (each opens the HDF5 file itself)
    data_on_device: bool = False  # hold every training window on the training device and draw batches there
    # (no DataLoader, num_workers unused): the same batches, without per-sample HDF5 reads and copies
    log_every: int = 50  # steps between train metric lines
    val_every: int = 500  # steps between validation passes (and best/last checkpoints)
    val_batches: int = 8  # batches per validation pass (a fixed set of windows)
    save_every: int = 0  # steps between kept snapshots checkpoints/step_<k>.pth for learning curves (0 = none)
    eval_every: int = 0  # steps between policy rollouts in the environment (0 = never)
    eval_episodes: int = 10  # rollouts per evaluation during training
    eval_temporal_agg: bool = True  # use temporal aggregation in evaluation during training
    eval_max_steps: int = 500  # step limit of those rollouts (MetaWorld's: 500)
    select_best: str = "val_loss"  # what best.pth maximises: "val_loss" (lowest) or "success" (highest)
    run_name: str = ""  # run folder name; empty = <task>__<model>__seed<k>__<time>
    logger: str = "jsonl"  # "jsonl": metrics.jsonl only; "tensorboard": also the same scalars and a rollout
    # frame in <run>/tensorboard/ (needs the tensorboard package)

    def __post_init__(self) -> None:
        self.cameras = tuple(self.cameras)
        if self.model not in MODEL_KINDS:
            raise TrainSetupError(f"model must be one of {', '.join(MODEL_KINDS)}, got {self.model!r}")
        if self.state_input not in STATE_INPUTS:
            raise TrainSetupError(f"state_input must be one of {', '.join(STATE_INPUTS)}, got {self.state_input!r}")
        if self.select_best not in SELECT_BEST:
            raise TrainSetupError(f"select_best must be one of {', '.join(SELECT_BEST)}, got {self.select_best!r}")
        if self.select_best == "success" and self.eval_every <= 0:
            raise TrainSetupError("select_best=success needs evaluation during training: set eval_every > 0")
        for name in ("steps", "batch_size", "log_every", "val_every", "val_batches", "eval_episodes", "eval_max_steps"):
            if getattr(self, name) < 1:
                raise TrainSetupError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.save_every < 0:
            raise TrainSetupError(f"save_every must be >= 0, got {self.save_every}")
        if self.logger not in LOGGERS:
            raise TrainSetupError(f"logger must be one of {', '.join(LOGGERS)}, got {self.logger!r}")
        if self.amp not in AMP_MODES:
            raise TrainSetupError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise TrainSetupError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not 0.0 <= self.lr_min_ratio <= 1.0 or not 0 <= self.warmup_steps < self.steps:
            raise TrainSetupError(
                f"need 0 <= lr_min_ratio <= 1 and 0 <= warmup_steps < steps, got {self.lr_min_ratio} and {self.warmup_steps}"
            )
        for name in ("lr", "lr_backbone"):
            if not getattr(self, name) > 0:
                raise TrainSetupError(f"{name} must be positive, got {getattr(self, name)}")
        try:
            check_reconstruction(self.action_loss, self.huber_delta)
        except ValueError as error:
            raise TrainSetupError(str(error)) from None
        if self.huber_delta != 1.0 and self.action_loss != "huber":
            raise TrainSetupError("huber_delta needs action_loss huber")
        if not 0.0 <= self.ema_decay < 1.0:
            raise TrainSetupError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise TrainSetupError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.weight_decay < 0 or self.grad_clip <= 0 or self.augment_shift < 0 or self.num_workers < 0:
            raise TrainSetupError("weight_decay, augment_shift and num_workers must be >= 0 and grad_clip > 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise TrainSetupError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise TrainSetupError("device=cuda asked for, but torch sees no CUDA GPU; use --device cpu")

    def lr_factor(self, step: int) -> float:
        """Multiplier of the base learning rates for optimiser step `step` (0-based): a pure function
        of the step, so a resumed run continues the same schedule without saved scheduler state."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.lr_schedule == "constant":
            return 1.0
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps))
        return self.lr_min_ratio + (1.0 - self.lr_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


TRAIN_CONFIG_FIELDS = {field.name for field in dataclasses.fields(TrainConfig)}
# Options older checkpoints record that have left the product, with the value meaning "off": such a
# run resumes only if it had them off.
REMOVED_TRAIN_FIELDS = {"augment_mirror": False, "augment_mirror_prob": 0.5}


def _check_data(config: TrainConfig, chunk_size: int) -> DemoFileInfo:
    try:
        info = validate_demo_file(config.data)
    except ValueError as error:  # DemoFileError
        raise TrainSetupError(f"dataset check failed: {error}") from error
    if max(info.episode_lengths) < chunk_size:
        raise TrainSetupError(
            f"chunk_size {chunk_size} is longer than every episode in {config.data} "
            f"(longest: {max(info.episode_lengths)} steps); pass --chunk_size {max(info.episode_lengths)} or less"
        )
    missing = [c for c in config.cameras if c not in info.cameras]
    if missing:
        raise TrainSetupError(
            f"{config.data} has no camera {', '.join(missing)}; it recorded {', '.join(info.cameras)}"
        )
    if info.num_episodes < 2 and config.val_fraction > 0:
        raise TrainSetupError(f"{config.data} holds 1 episode; pass --val_fraction 0 or collect more demos")
    return info


def env_metadata(
    info: DemoFileInfo, cameras: tuple[str, ...], demo_seeds: list[int], state_input: str = "qpos"
) -> dict[str, Any]:
    """What evaluation needs to rebuild the environment the model was trained for."""
    return {
        "task": info.task,
        "cameras": list(cameras),
        "image_size": info.image_size,
        "fast_render": bool(info.attrs.get("fast_render", True)),
        "qpos_dim": state_dim(info, state_input),
        "state_input": state_input,
        "action_dim": info.action_dim,
        "demo_seeds": [int(s) for s in demo_seeds],
        "dataset": os.path.abspath(info.path),
    }


def state_dim(info: DemoFileInfo, state_input: str) -> int:
    """Size of the state vector the model sees."""
    return int(info.attrs["env_state_dim"]) if state_input == "env_state" else info.qpos_dim


def _initial_weights(config: TrainConfig, model_config: ACTConfig) -> dict[str, Any]:
    """The checkpoint named by ``config.init_weights``, checked to fit the model this run builds."""
    try:
        checkpoint = load_checkpoint(config.init_weights)
    except CheckpointError as error:
        raise TrainSetupError(f"init_weights: {error}") from error
    if checkpoint["model_kind"] != config.model:
        raise TrainSetupError(
            f"init_weights {config.init_weights} holds a {checkpoint['model_kind']} ACT model, this run trains {config.model}"
        )
    theirs, ours = checkpoint["model_config"], model_config.to_dict()
    differing = sorted(key for key in set(theirs) | set(ours) if theirs.get(key) != ours.get(key))
    if differing:
        raise TrainSetupError(
            f"init_weights {config.init_weights} has another architecture: "
            + ", ".join(f"{key} {theirs.get(key)} there, {ours.get(key)} here" for key in differing)
        )
    return checkpoint


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_amp(amp: str, device: torch.device) -> str:
    """`amp` with "auto" replaced by what the device runs natively ("bf16" or "off")."""
    if amp != "auto":
        return amp
    return "bf16" if native_bf16(device) else "off"


def machine_description() -> dict[str, Any]:
    """The CPU model, its core count and native bf16 support, and the GPU when one is used (for result tables)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cpu_native_bf16": native_bf16(torch.device("cpu")),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def training_provenance(config: TrainConfig) -> dict[str, Any]:
    """What a run is trained from, fixed when it starts: code commit (clean or dirty), the demo file's
    sha256 and collection attributes, start time, torch version and threads."""
    return {
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "code": code_state(),
        "demo": demo_file_provenance(config.data),
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "processes": dist_.current_world().size,  # data-parallel training processes (torchrun)
        "machine": machine_description(),
        "resumed": [],
    }


class Trainer:
    """Owns one run: build with `Trainer.start(...)` or `Trainer.resume(...)`, then `run()`."""

    def __init__(
        self,
        config: TrainConfig,
        model_config: ACTConfig,
        run_dir: Path,
        info: DemoFileInfo,
        normalizer: Normalizer,
        train_episodes: list[int],
        val_episodes: list[int],
    ) -> None:
        config = dataclasses.replace(config, amp=resolve_amp(config.amp, config.resolved_device()))
        self.world = dist_.current_world()
        if config.batch_size % self.world.size:
            raise TrainSetupError(
                f"batch_size {config.batch_size} (the global batch) cannot be split evenly over {self.world.size} "
                "processes; choose a multiple of the process count"
            )
        self.config = config
        self.model_config = model_config
        self.run_dir = run_dir
        self.info = info
        self.normalizer = normalizer
        self.train_episodes = train_episodes
        self.val_episodes = val_episodes
        self.device = config.resolved_device()
        if self.device.type == "cuda" and self.world.distributed:
            self.device = torch.device("cuda", self.world.local_rank)  # one GPU per process
        if self.device.type == "cuda":
            # fixed input shapes: let cuDNN pick its fastest convolutions; TF32 matmuls on Ampere and later
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
        torch.manual_seed(config.seed)
        self.model = build_model(config.model, model_config).to(self.device)
        self.optimizer = build_optimizer(self.model, config.lr, config.lr_backbone, config.weight_decay)
        # the module train_step calls: the model itself, or its compiled wrapper (same parameters;
        # validation, EMA and checkpoints use self.model, so nothing compiled is saved or evaluated)
        self.train_forward_model: torch.nn.Module = self.model
        if self.world.distributed:  # gradients averaged over the processes during backward
            self.train_forward_model = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if config.compile:
            self.train_forward_model = torch.compile(self.train_forward_model)
        # the moving average of the weights (ema_decay > 0): a frozen copy updated after every step
        self.ema_model: torch.nn.Module | None = None
        if config.ema_decay > 0:
            self.ema_model = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.step = 0
        self.provenance: dict[str, Any] = {}  # set by start() and resume()
        self.train_wall_s = 0.0  # seconds spent in run() by every call that trained this run, before this one
        self._tensorboard: TensorBoardLogger | None = None
        self.last_rollout_video: Path | None = None  # set by the rollout evaluation (evaluation/training_rollouts.py)
        self._run_started: float | None = None
        self.best_value: float | None = None
        self.history: list[dict[str, Any]] = []
        demo_seeds = [info.episode_seeds[e] for e in train_episodes + val_episodes]
        self.env_meta = env_metadata(info, model_config.camera_names, demo_seeds, config.state_input)
        self.eval_fn: Callable[[Trainer], dict[str, float]] | None = None
        self._train_set = EpisodeWindowDataset(
            config.data, train_episodes, model_config.chunk_size, model_config.camera_names, normalizer,
            config.state_input,
        )
        self._val_set = (
            EpisodeWindowDataset(
                config.data, val_episodes, model_config.chunk_size, model_config.camera_names, normalizer,
                config.state_input,
            )
            if val_episodes
            else None
        )

    # -- construction ---------------------------------------------------------------
    @classmethod
    def start(cls, config: TrainConfig, model_overrides: dict[str, Any]) -> Trainer:
        chunk_size = model_overrides.get("chunk_size", ACTConfig.chunk_size)
        info = _check_data(config, chunk_size)
        cameras = config.cameras or info.cameras
        config = dataclasses.replace(config, cameras=tuple(cameras))
        try:
            model_config = ACTConfig(
                state_dim=state_dim(info, config.state_input),
                action_dim=info.action_dim,
                camera_names=tuple(cameras),
                image_size=info.image_size,
                **model_overrides,
            )
        except (TypeError, ValueError) as error:
            raise TrainSetupError(f"model config: {error}") from error
        train_episodes, val_episodes = split_episodes(info.num_episodes, config.val_fraction, config.seed)
        init = _initial_weights(config, model_config) if config.init_weights else None
        normalizer = (
            Normalizer.from_state_dict(init["normalizer"])  # the statistics its weights expect
            if init is not None
            else fit_normalizer(config.data, train_episodes, config.state_input)
        )
        if config.epochs > 0:
            train_frames = sum(info.episode_lengths[e] for e in train_episodes)
            config = dataclasses.replace(config, steps=max(1, math.ceil(config.epochs * train_frames / config.batch_size)))
        world = dist_.current_world()
        name = dist_.broadcast(config.run_name or (  # rank 0's clock names a data-parallel run
            f"{info.task}__{config.model}__seed{config.seed}__{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        ), world)
        check_run_name(name)
        run_dir = Path(config.output_dir) / name

        def claim_run_folder() -> Any:
            lock = hold_run_lock(run_dir)
            remove_stale_temporaries(run_dir)
            if any((run_dir / marker).exists() for marker in ("config.json", "metrics.jsonl", "checkpoints/last.pth")):
                lock.close()
                raise TrainSetupError(f"{run_dir} already holds a run; pass --resume {run_dir} or another --run_name")
            return lock

        lock = dist_.on_main(world, claim_run_folder)  # rank 0 alone writes the run folder
        trainer = cls(config, model_config, run_dir, info, normalizer, train_episodes, val_episodes)
        trainer._lock = lock
        # rank 0 alone writes checkpoints: only it reads and hashes the demo file for the record
        trainer.provenance = training_provenance(config) if world.is_main else {}
        if init is not None:
            trainer.model.load_state_dict(init["model_state"])
            if trainer.ema_model is not None:
                trainer.ema_model.load_state_dict(init["model_state"])
        if world.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "config.json", trainer.describe())
        return trainer

    @classmethod
    def resume(cls, path: str | os.PathLike, expected_model: str | None = None, steps: int | None = None) -> Trainer:
        """Continues the run whose ``last.pth`` is at `path` (a run folder or the file itself)."""
        path = Path(path)
        last = path / "checkpoints" / "last.pth" if path.is_dir() else path
        try:
            checkpoint = load_checkpoint(last)
        except CheckpointError as error:
            raise TrainSetupError(f"cannot resume: {error}") from error
        if "optimizer_state" not in checkpoint:
            raise TrainSetupError(f"cannot resume from {last}: it holds no optimizer state (use last.pth)")
        if expected_model is not None and checkpoint["model_kind"] != expected_model:
            raise TrainSetupError(
                f"{last} is a {checkpoint['model_kind']} ACT checkpoint, but --model {expected_model} was given; "
                f"pass --model {checkpoint['model_kind']} to resume it, or start a new run"
            )
        if "train_config" not in checkpoint:
            raise TrainSetupError(f"cannot resume from {last}: it records no train_config (not a last.pth of a run)")
        stored = dict(checkpoint["train_config"])
        for key in sorted(set(stored) - TRAIN_CONFIG_FIELDS):
            if key not in REMOVED_TRAIN_FIELDS or stored.pop(key) != REMOVED_TRAIN_FIELDS[key]:
                raise TrainSetupError(f"cannot resume from {last}: it was trained with {key}, which this version "
                                      "does not have (git tag notebook-2026-12-02 does)")
        config = TrainConfig(**{**stored, "cameras": tuple(stored["cameras"])})
        stored_steps = config.steps
        if steps is not None:
            config = dataclasses.replace(config, steps=steps)
        model_config = ACTConfig.from_dict(checkpoint["model_config"])
        info = _check_data(config, model_config.chunk_size)
        env = checkpoint["env"]
        if info.image_size != env["image_size"] or not set(env["cameras"]) <= set(info.cameras):
            raise TrainSetupError(
                f"{config.data} holds {info.image_size}px images from {', '.join(info.cameras)}, but the checkpoint "
                f"was trained on {env['image_size']}px images from {', '.join(env['cameras'])}; "
                "resume with the dataset it was trained on"
            )
        world = dist_.current_world()

        def claim_run_folder() -> Any:
            lock = hold_run_lock(last.parent.parent)
            removed = remove_stale_temporaries(last.parent.parent)
            if removed:
                print(f"removed {len(removed)} unfinished file(s) of an interrupted write: "
                      + ", ".join(path.name for path in removed))
            return lock

        lock = dist_.on_main(world, claim_run_folder)
        trainer = cls(
            config,
            model_config,
            last.parent.parent,
            info,
            Normalizer.from_state_dict(checkpoint["normalizer"]),
            list(checkpoint["train_episodes"]),
            list(checkpoint["val_episodes"]),
        )
        trainer._lock = lock
        trainer.stored_steps = stored_steps
        trainer.provenance = dict(checkpoint.get("provenance") or {})
        trainer.provenance["resumed"] = [*trainer.provenance.get("resumed", []),
                                         {"step": int(checkpoint["step"]), "code": code_state(), "processes": world.size}]
        trainer.model.load_state_dict(checkpoint.get("train_model_state", checkpoint["model_state"]))
        if trainer.ema_model is not None:
            trainer.ema_model.load_state_dict(checkpoint["model_state"])
        trainer.optimizer.load_state_dict(checkpoint["optimizer_state"])
        trainer.step = int(checkpoint["step"])
        trainer.train_wall_s = float(checkpoint.get("train_wall_s", 0.0))
        trainer.best_value = checkpoint.get("best_value")
        torch.set_rng_state(checkpoint["rng"]["torch"])
        if torch.cuda.is_available() and checkpoint["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(checkpoint["rng"]["cuda"])
        trainer.history = _read_metrics(trainer.run_dir / "metrics.jsonl", up_to_step=trainer.step)
        if world.is_main:
            _rewrite_metrics(trainer.run_dir / "metrics.jsonl", trainer.history)
        dist_.barrier(world)  # no rank reads the run folder while rank 0 rewrites it
        return trainer

    def describe(self) -> dict[str, Any]:
        return {
            "train_config": asdict(self.config),
            "model_kind": self.config.model,
            "model_config": self.model_config.to_dict(),
            "env": self.env_meta,
            "train_episodes": self.train_episodes,
            "val_episodes": self.val_episodes,
            "code_version": code_version(),
            "provenance": self.provenance,
            "num_parameters": sum(p.numel() for p in self.model.parameters()),
            "device": str(self.device),
        }

    # -- one step -------------------------------------------------------------------
    def _to_model_inputs(self, batch: dict[str, torch.Tensor], augment: bool, step: int) -> dict[str, torch.Tensor]:
        images = normalize_images(batch[batch_keys.IMAGES].to(self.device))  # (B, N, 3, H, W)
        if augment and self.config.augment_shift > 0:
            generator = torch.Generator().manual_seed(step_seed(self.config.seed, step, STREAM_SHIFT))
            # this process's part of the step's global batch (all of it with one process)
            images = random_shift(images, self.config.augment_shift, generator,
                                  first=self.world.rank * images.shape[0], global_batch=self.config.batch_size)
        qpos = batch[batch_keys.QPOS].to(self.device)  # (B, Q)
        action_chunk = batch[batch_keys.ACTION_CHUNK].to(self.device)  # (B, S, A)
        return {
            "qpos": qpos,  # (B, Q)
            "images": images,
            "action_chunk": action_chunk,  # (B, S, A)
            "is_pad": batch[batch_keys.IS_PAD].to(self.device),  # (B, S)
        }

    @property
    def policy_model(self) -> torch.nn.Module:
        """The weights the policy uses: the moving average when ema_decay > 0, else the trained model."""
        return self.ema_model if self.ema_model is not None else self.model

    def compute_loss(
        self, inputs: dict[str, torch.Tensor], model: torch.nn.Module | None = None, **extra: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return forward_and_loss(
            model if model is not None else self.model, inputs["qpos"], inputs["images"], inputs["action_chunk"], inputs["is_pad"],
            self.model_config.kl_weight, self.config.amp, self.config.action_loss, self.config.huber_delta, **extra,
        )

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """This process's part of training step `step`'s batch (all of it with one process), as `run` draws it."""
        sampler = StepBatchSampler(self._train_set.lengths, self.config.batch_size, self.config.seed, step + 1)
        indices = self.world.shard(sampler.batch_indices(step))
        return torch.utils.data.default_collate([self._train_set[i] for i in indices])

    def backward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The forward pass and gradients of step `self.step` on `batch` (this process's part of the step's
        batch): the parameters' ``.grad`` then hold the gradient of the whole batch's loss (averaged over
        the processes); returns the losses."""
        self.model.train()
        # dropout masks: a function of (seed, step, rank), so a resumed step draws what it drew before
        torch.manual_seed(step_seed(self.config.seed, self.step, STREAM_DROPOUT + self.world.rank))
        inputs = self._to_model_inputs(batch, augment=True, step=self.step)
        local_batch = inputs["qpos"].shape[0]
        generator = torch.Generator().manual_seed(step_seed(self.config.seed, self.step, STREAM_LATENT))
        latent_noise = torch.randn(self.config.batch_size, self.model_config.latent_dim, generator=generator)  # (G, L)
        first = self.world.rank * local_batch
        latent_noise = latent_noise[first:first + local_batch].to(self.device)  # (B, L) this process's rows
        valid_rows = None
        if self.world.distributed:  # the reconstruction mean over the whole batch's non-padded rows
            valid_rows = dist_.all_reduce_sum((~inputs["is_pad"]).sum().float(), self.world) / self.world.size
        losses = self.compute_loss(inputs, self.train_forward_model, latent_noise=latent_noise, valid_rows=valid_rows)
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        return losses

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimiser step; returns its metrics as detached 0-d tensors on the training device
        (reading them with ``.item()`` here would make the CPU wait for the GPU at every step)."""
        losses = self.backward(batch)
        factor = self.config.lr_factor(self.step)
        for group, base_lr in zip(self.optimizer.param_groups, (self.config.lr, self.config.lr_backbone), strict=True):
            group["lr"] = base_lr * factor
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self._update_ema()
        self.step += 1
        per_dim = losses["l1_per_dim"].detach()  # (A,)
        return {
            "train/loss": losses["loss"].detach(),
            "train/l1": losses["l1"].detach(),
            "train/kl": losses["kl"].detach(),
            "train/grad_norm": grad_norm.detach(),
            # which action dimension is (not) being learned: e.g. an x that stalls while y, z fall
            **{f"train/l1_{name}": per_dim[index] for index, name in enumerate(action_dim_names(per_dim.numel()))},
        }

    @torch.no_grad()
    def _update_ema(self) -> None:
        """ema <- d·ema + (1 - d)·weights, with d = min(ema_decay, (1 + step) / (10 + step)) so that
        the random initial weights are forgotten within the first few hundred steps."""
        if self.ema_model is None:
            return
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        weights = self.model.state_dict()
        for name, average in self.ema_model.state_dict().items():
            if torch.is_floating_point(average):
                average.lerp_(weights[name].detach(), 1.0 - decay)
            else:
                average.copy_(weights[name])

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation losses of the policy's weights (the moving average when there is one)."""
        if self._val_set is None:
            return {}
        model = self.policy_model
        model.eval()
        sampler = StepBatchSampler(
            self._val_set.lengths, self.config.batch_size, seed=self.config.seed + 7919, num_steps=self.config.val_batches
        )
        totals = {"val/loss": 0.0, "val/l1": 0.0, "val/kl": 0.0}
        with torch.random.fork_rng(devices=[]):  # validation must not shift the training RNG stream
            torch.manual_seed(self.config.seed)
            for indices in sampler:
                batch = torch.utils.data.default_collate([self._val_set[i] for i in indices])
                losses = self.compute_loss(self._to_model_inputs(batch, augment=False, step=0), model)
                for key in ("loss", "l1", "kl"):
                    totals[f"val/{key}"] += losses[key].item() / self.config.val_batches
                for index, name in enumerate(action_dim_names(losses["l1_per_dim"].numel())):
                    totals[f"val/l1_{name}"] = totals.get(f"val/l1_{name}", 0.0) + (
                        losses["l1_per_dim"][index].item() / self.config.val_batches
                    )
        return totals

    # -- persistence ----------------------------------------------------------------
    def checkpoint_dict(self, with_optimizer: bool = True) -> dict[str, Any]:
        checkpoint = {
            "model_kind": self.config.model,
            "model_config": self.model_config.to_dict(),
            "model_state": {k: v.detach().cpu() for k, v in self.policy_model.state_dict().items()},
            "normalizer": self.normalizer.state_dict(),
            "env": self.env_meta,
            "train_config": {**asdict(self.config), "cameras": list(self.config.cameras)},
            "train_episodes": self.train_episodes,
            "val_episodes": self.val_episodes,
            "step": self.step,
            "best_value": self.best_value,
            "metrics": self.history[-1] if self.history else {},
            "code_version": code_version(),
            "provenance": self.provenance,
            "train_wall_s": round(self.train_wall_s + (time.perf_counter() - self._run_started
                                                       if self._run_started is not None else 0.0), 1),
        }
        if with_optimizer:
            if self.ema_model is not None:
                checkpoint["train_model_state"] = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
            checkpoint["optimizer_state"] = self.optimizer.state_dict()
            checkpoint["rng"] = {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            }
        return checkpoint

    def save(self, name: str, with_optimizer: bool = True) -> Path:
        path = self.run_dir / "checkpoints" / f"{name}.pth"
        with interrupts_deferred():  # a Ctrl-C or kill mid-write would abort torch.save with an error
            save_checkpoint(path, self.checkpoint_dict(with_optimizer=with_optimizer))
        return path

    def log(self, record: dict[str, Any]) -> None:
        record = {"step": self.step, **record}
        self.history.append(record)
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tensorboard is not None:
            self._tensorboard.scalars(self.step, record)
            if self.last_rollout_video is not None and "eval/success_rate" in record:
                self._tensorboard.image("eval/rollout_frame", self.step, middle_frame(self.last_rollout_video))

    # -- the loop -------------------------------------------------------------------
    def run(self, progress: bool = True) -> Path:
        config = self.config
        main = self.world.is_main  # rank 0 alone logs, validates, evaluates and saves
        progress = progress and main
        self._run_started = time.perf_counter()
        if config.logger == "tensorboard" and self._tensorboard is None and main:
            try:
                self._tensorboard = TensorBoardLogger(self.run_dir / "tensorboard", purge_step=self.step or None)
            except LoggerError as error:
                raise TrainSetupError(str(error)) from None
        sampler: Any = StepBatchSampler(
            self._train_set.lengths, config.batch_size, config.seed, config.steps, start_step=self.step
        )
        if self.world.distributed:
            sampler = dist_.ShardedBatches(sampler, self.world)  # this process's slice of every step's batch
        if config.data_on_device:
            windows = DeviceWindows(self._train_set, self.device)
            batches: Any = (windows.batch(indices) for indices in sampler)
        else:
            batches = DataLoader(
                self._train_set,
                batch_sampler=sampler,
                num_workers=config.num_workers,
                persistent_workers=False,
                # Its own generator: the DataLoader draws a base seed when iteration starts, which
                # would otherwise shift the global RNG stream (dropout, CVAE noise) on resume.
                generator=torch.Generator().manual_seed(config.seed),
            )
        bar = tqdm(
            total=config.steps, initial=self.step, desc=f"train {config.model}", unit="step", disable=not progress
        )
        window: list[dict[str, torch.Tensor]] = []
        tick = time.perf_counter()
        try:
            for batch in batches:
                # a Ctrl-C or kill inside a step is held to its end: last.pth is then saved at a step
                # boundary (weights, optimiser and RNG of whole steps), so a resumed run equals an uninterrupted one
                with interrupts_deferred():
                    window.append(self.train_step(batch))
                    bar.update(1)
                    if len(window) % 10 == 0 and not self.history:  # feedback before the first log line
                        bar.set_postfix(loss=f"{window[-1]['train/loss'].item():.3f}", l1=f"{window[-1]['train/l1'].item():.3f}")
                    if self.step % config.log_every == 0 or self.step == config.steps:
                        elapsed = time.perf_counter() - tick
                        stacked = torch.stack([torch.stack([w[key] for key in window[0]]) for w in window])  # (steps, metrics)
                        step_means = dist_.all_reduce_mean(stacked.float().mean(dim=0), self.world)  # (metrics,)
                        means = dict(zip(window[0], step_means.tolist(), strict=True))  # one sync
                        means["train/lr"] = self.optimizer.param_groups[0]["lr"]
                        means["perf/steps_per_s"] = len(window) / elapsed
                        if main:
                            self.log(means)
                        bar.set_postfix(loss=f"{means['train/loss']:.3f}", l1=f"{means['train/l1']:.3f}",
                                        it_s=f"{means['perf/steps_per_s']:.2f}")
                        window, tick = [], time.perf_counter()
                    evaluate_now = config.eval_every > 0 and self.step % config.eval_every == 0
                    if main and (self.step % config.val_every == 0 or evaluate_now or self.step == config.steps):
                        self._validate_and_save(bar)
                        tick = time.perf_counter()
                    if main and config.save_every and self.step % config.save_every == 0:
                        self.save(f"step_{self.step:06d}", with_optimizer=False)  # weights only: small
        except KeyboardInterrupt:
            bar.close()
            if main:
                self.save("last")
            self.release()
            raise
        bar.close()
        dist_.barrier(self.world)  # every process ends with rank 0's last checkpoint written
        self.release()
        return self.run_dir

    def release(self) -> None:
        """Lets another process write this run folder (after `run` ends, or when this trainer is dropped)."""
        if getattr(self, "_tensorboard", None) is not None:
            self._tensorboard.close()
            self._tensorboard = None
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()
            self._lock = None

    def _validate_and_save(self, bar: tqdm) -> None:
        record = self.validate()
        config = self.config
        if self.eval_fn is not None and config.eval_every > 0 and (
            self.step % config.eval_every == 0 or self.step == config.steps
        ):
            record.update(self.eval_fn(self))
        if record:
            self.log(record)
        # best.pth is the lowest validation loss or the highest rollout success; a run without
        # either (no validation split, no rollouts) has no best.pth: training loss picks nothing
        value = None
        if self.config.select_best == "val_loss":
            value = -record["val/loss"] if "val/loss" in record else None
        elif "eval/success_rate" in record:
            value = record["eval/success_rate"]
        if value is not None and (self.best_value is None or value > self.best_value):
            self.best_value = value
            self.save("best")
        self.save("last")
        plot_losses(self.history, self.run_dir / "plots" / "loss.png")
        if record:
            bar.write(f"step {self.step}: " + ", ".join(f"{k}={v:.4f}" for k, v in record.items()))


# streams of per-step random draws (`step_seed`)
STREAM_SHIFT, STREAM_LATENT, STREAM_DROPOUT = 1, 2, 3  # dropout: STREAM_DROPOUT + rank


def step_seed(seed: int, step: int, stream: int) -> int:
    """A seed for one kind of random draw of one training step, independent of every other (seed, step, stream)."""
    return int(np.random.default_rng([seed, step, stream]).integers(2**62))


def check_run_name(name: str) -> None:
    """A run name is one folder name: no path separators, no "..", nothing hidden."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
        raise TrainSetupError(
            f"run_name {name!r} must be a plain folder name (no '/', no leading '.'); "
            "choose the parent folder with --output_dir"
        )


def remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Deletes the temporary files an interrupted atomic write left in `run_dir` (``.<name>.<random>.tmp``,
    e.g. a checkpoint killed mid-write, hundreds of MB). Call it holding the run's lock: no write is
    then in progress."""
    stale = [path for folder in (run_dir, run_dir / "checkpoints", run_dir / "plots") if folder.is_dir()
             for path in folder.glob(".*.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def hold_run_lock(run_dir: Path) -> Any:
    """An exclusive lock on `run_dir` (the open lock file; it is released when the process ends):
    two trainings never write one run folder. Raises TrainSetupError if another process holds it."""
    import fcntl

    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = open(run_dir / ".lock", "a")  # noqa: SIM115  (held for the trainer's lifetime)
    except OSError as error:
        raise TrainSetupError(f"cannot write the run folder {run_dir}: {error.strerror or error}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise TrainSetupError(f"another training is writing {run_dir}; wait for it or choose another --run_name") from None
    return handle


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Holds SIGINT and SIGTERM that arrive inside the block and re-delivers them when it ends, so the
    process's own handlers (e.g. save-and-exit) run between checkpoint writes, never inside one.
    Outside the main thread (where handlers cannot be set) the block runs unprotected."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    for number in dict.fromkeys(held):
        signal.raise_signal(number)


def plot_losses(history: list[dict[str, Any]], path: Path) -> None:
    """Train/val L1 and KL against steps (and eval success when logged), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(key: str) -> tuple[list[int], list[float]]:
        points = [(r["step"], r[key]) for r in history if key in r]
        return [p[0] for p in points], [p[1] for p in points]

    has_eval = any("eval/success_rate" in r for r in history)
    figure, axes = plt.subplots(1, 3 if has_eval else 2, figsize=(13 if has_eval else 9, 3.5))
    for key, style in (("train/l1", "-"), ("val/l1", "o-")):
        axes[0].plot(*series(key), style, label=key)
    for key, style in (("train/kl", "-"), ("val/kl", "o-")):
        axes[1].plot(*series(key), style, label=key)
    axes[0].set_yscale("log")
    if has_eval:
        axes[2].plot(*series("eval/success_rate"), "o-", color="green", label="eval/success_rate")
        axes[2].set_ylim(-0.02, 1.02)
    for axis in axes:
        axis.set_xlabel("step")
        axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(path, suffix=".tmp.png") as tmp:
        figure.savefig(tmp, dpi=80)
    plt.close(figure)


def _read_metrics(path: Path, up_to_step: int) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in records if r["step"] <= up_to_step]


def _rewrite_metrics(path: Path, records: list[dict[str, Any]]) -> None:
    """Drops lines logged after the checkpoint we resume from, so no step appears twice."""
    write_text(path, "".join(json.dumps(r) + "\n" for r in records))


__all__ = ["SELECT_BEST", "TrainConfig", "TrainSetupError", "Trainer"]
