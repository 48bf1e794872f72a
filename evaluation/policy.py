"""The rollout policy: a trained ACT model wrapped with its normaliser, its action queue and
temporal aggregation (Zhao et al. 2023, Sec. IV-B "Action Chunking and Temporal Ensembling").

`ACTPolicy.from_checkpoint` needs nothing but the checkpoint: the model kind and config, the
normalisation statistics and the environment metadata (task, cameras, image size) all travel in it.
One policy drives a batch of E environments; every per-environment quantity (step counter, last
chunk, aggregation buffer) is an array indexed by environment, and `reset(env_mask)` clears only the
masked environments, so environments can start new episodes at different times.

Two ways to turn chunks into actions:

- chunk execution (default): query the model every ``query_freq`` steps (default: the chunk size S)
  and play actions ``[0, query_freq)`` of the last chunk in order;
- temporal aggregation (``temporal_agg=True``): query every ``query_freq`` steps (default 1, as in
  the paper) and act with a weighted average of every stored chunk's prediction for the current step,
  weight ``exp(-k * i)`` with ``i = 0`` for the oldest prediction. Deviation: the original keeps a
  (T, T + S, A) table that grows with the episode length T; `TemporalAggregator` keeps the last S
  chunks in a ring buffer, which is all that can still cover the current step.

The latent z is 0 at inference (the model's own inference path), so the policy is deterministic.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from envs import EnvConfig
from envs.hdf5_demos import file_sha256
from models import ACTConfig, build_model
from training.checkpoint import CheckpointError, load_checkpoint
from training.normalizer import Normalizer, normalize_images

ENV_METADATA_KEYS = ("task", "cameras", "image_size", "qpos_dim", "action_dim")


def _as_env_mask(env_mask: np.ndarray | Sequence[bool] | None, num_envs: int) -> np.ndarray:
    """A (E,) bool array; None means every environment."""
    if env_mask is None:
        return np.ones(num_envs, dtype=bool)
    mask = np.asarray(env_mask, dtype=bool).reshape(-1)
    if mask.shape != (num_envs,):
        raise ValueError(f"env_mask must have one entry per environment ({num_envs}), got shape {mask.shape}")
    return mask


def _as_steps(steps: int | np.ndarray, num_envs: int) -> np.ndarray:
    """A (E,) int64 array of per-environment step indices (an int applies to every environment)."""
    steps = np.broadcast_to(np.asarray(steps, dtype=np.int64), (num_envs,))
    if np.any(steps < 0):
        raise ValueError(f"steps must be >= 0, got {steps}")
    return steps


K_LIMIT = 10.0  # beyond |k| = 10 the weights already pick a single chunk (exp(-10) ≈ 5e-5)


def check_temporal_agg_k(k: float) -> None:
    if not (math.isfinite(k) and abs(k) <= K_LIMIT):
        raise ValueError(
            f"k must be in [-{K_LIMIT:g}, {K_LIMIT:g}] (> 0 favours older predictions, < 0 newer), got {k}"
        )


class TemporalAggregator:
    """Per-environment temporal ensembling of overlapping action chunks, in bounded memory.

    Chunk predicted at step ``s`` covers steps ``s .. s + S - 1``; it is stored in ring slot
    ``s % S``, which a later chunk overwrites only once the old one can no longer cover the current
    step. `action(steps)` averages, for each environment, every stored chunk covering its current
    step with weight ``exp(-k * i)``, where ``i`` ranks the covering chunks by prediction time,
    ``i = 0`` for the oldest. ``k > 0`` weighs older predictions more, which smooths the motion
    (ACT's choice, k = 0.01); ``k = 0`` is a plain average; ``k < 0`` weighs the newest predictions
    more, which reacts faster to what the cameras see now.
    """

    def __init__(self, num_envs: int, chunk_size: int, action_dim: int, k: float = 0.01) -> None:
        if num_envs < 1 or chunk_size < 1 or action_dim < 1:
            raise ValueError(
                f"num_envs, chunk_size and action_dim must be >= 1, got {num_envs}, {chunk_size}, {action_dim}"
            )
        check_temporal_agg_k(k)
        self.num_envs = num_envs
        self.chunk_size = chunk_size
        self.action_dim = action_dim
        self.k = float(k)
        self.chunks = np.zeros((num_envs, chunk_size, chunk_size, action_dim))  # (E, S slots, S, A)
        self.start_steps = np.full((num_envs, chunk_size), -1, dtype=np.int64)  # (E, S slots); -1 = empty

    def reset(self, env_mask: np.ndarray | Sequence[bool] | None = None) -> None:
        """Forgets every stored chunk of the masked environments (all when None)."""
        mask = _as_env_mask(env_mask, self.num_envs)
        self.chunks[mask] = 0.0
        self.start_steps[mask] = -1

    def add(
        self,
        chunks: np.ndarray,
        steps: int | np.ndarray,
        env_mask: np.ndarray | Sequence[bool] | None = None,
    ) -> None:
        """Stores `chunks` (E, S, A), predicted at `steps` (int or (E,)), for the masked environments."""
        chunks = np.asarray(chunks, dtype=np.float64)
        expected = (self.num_envs, self.chunk_size, self.action_dim)
        if chunks.shape != expected:
            raise ValueError(f"chunks must have shape (E, S, A) = {expected}, got {chunks.shape}")
        mask = _as_env_mask(env_mask, self.num_envs)
        steps = _as_steps(steps, self.num_envs)
        envs = np.flatnonzero(mask)  # (E',)
        slots = steps[envs] % self.chunk_size  # (E',)
        self.chunks[envs, slots] = chunks[envs]  # (E', S, A)
        self.start_steps[envs, slots] = steps[envs]

    def action(self, steps: int | np.ndarray, env_mask: np.ndarray | Sequence[bool] | None = None) -> np.ndarray:
        """(E, A) aggregated actions at `steps` (int or (E,)); rows outside `env_mask` are 0.

        Raises RuntimeError if a masked environment has no stored chunk covering its step.
        """
        mask = _as_env_mask(env_mask, self.num_envs)
        steps = _as_steps(steps, self.num_envs)
        offsets = steps[:, None] - self.start_steps  # (E, S slots): index into each stored chunk
        covering = (self.start_steps >= 0) & (offsets >= 0) & (offsets < self.chunk_size)  # (E, S slots)
        uncovered = mask & ~covering.any(axis=1)
        if uncovered.any():
            raise RuntimeError(
                f"no stored chunk covers the current step of environment(s) {np.flatnonzero(uncovered).tolist()}; "
                "add a chunk at that step first"
            )
        # Rank of each covering chunk among the covering ones, oldest first: count older covering chunks.
        older = self.start_steps[:, None, :] < self.start_steps[:, :, None]  # (E, S slots, S slots)
        rank = (older & covering[:, None, :]).sum(axis=2)  # (E, S slots)
        # exp(-k * rank) scaled by its largest covering value, so that no chunk size or k overflows
        exponents = np.where(covering, -self.k * rank, -np.inf)  # (E, S slots)
        top = exponents.max(axis=1, keepdims=True)  # (E, 1)
        weights = np.exp(exponents - np.where(np.isfinite(top), top, 0.0))  # (E, S slots), 0 where not covering
        weights[mask] /= weights[mask].sum(axis=1, keepdims=True)
        picked = np.take_along_axis(
            self.chunks, np.clip(offsets, 0, self.chunk_size - 1)[:, :, None, None], axis=2
        )[:, :, 0]  # (E, S slots, A)
        actions = (weights[:, :, None] * picked).sum(axis=1)  # (E, A)
        actions[~mask] = 0.0
        return actions


def _check_env_metadata(checkpoint: Mapping[str, Any], source: str) -> dict[str, Any]:
    env = checkpoint.get("env")
    if not isinstance(env, Mapping):
        raise CheckpointError(f"{source}: checkpoint has no 'env' metadata dict")
    missing = [key for key in ENV_METADATA_KEYS if key not in env]
    if missing:
        raise CheckpointError(f"{source}: checkpoint env metadata lacks {', '.join(missing)}")
    return dict(env)


class ACTPolicy:
    """normalise → ACT (eval mode, z = 0) → unnormalise → chunk queue or temporal aggregation.

    ``select_action(obs_batch) -> (E, A) float32`` for E environments at once; see the module
    docstring for the two execution modes. Build it with `from_checkpoint`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        model_kind: str,
        model_config: ACTConfig,
        normalizer: Normalizer,
        env_metadata: Mapping[str, Any],
        device: str | torch.device = "cpu",
        temporal_agg: bool = False,
        query_freq: int | None = None,
        k: float = 0.01,
        checkpoint_info: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model.eval()
        self.model_kind = model_kind
        self.model_config = model_config
        self.normalizer = normalizer
        self.to(device)
        self.env_metadata = dict(env_metadata)
        self.cameras: tuple[str, ...] = tuple(model_config.camera_names)
        self.image_size = int(model_config.image_size)
        self.chunk_size = int(model_config.chunk_size)
        self.qpos_dim = int(model_config.state_dim)
        # observation key of the state vector: "qpos" (hand state) or "env_state" (privileged upper bound)
        self.state_input = str(self.env_metadata.get("state_input", "qpos"))
        self.action_dim = int(model_config.action_dim)
        self.checkpoint_info = dict(checkpoint_info or {})
        self._num_envs: int | None = None
        self.configure(temporal_agg=temporal_agg, query_freq=query_freq, k=k)

    # -- construction --------------------------------------------------------------
    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | os.PathLike | Mapping[str, Any],
        device: str | torch.device = "cpu",
        temporal_agg: bool = False,
        query_freq: int | None = None,
        k: float = 0.01,
    ) -> ACTPolicy:
        """The policy stored in `checkpoint` (a path, a run folder, an exported folder (see
        `from_pretrained`), or an already loaded dict).

        Raises `CheckpointError` when the file is missing, not ours, or inconsistent.
        """
        if not isinstance(checkpoint, Mapping) and os.path.isfile(os.path.join(checkpoint, "model.safetensors")):
            return cls.from_pretrained(checkpoint, device=device, temporal_agg=temporal_agg, query_freq=query_freq, k=k)
        if isinstance(checkpoint, Mapping):
            loaded = checkpoint
            source = str(checkpoint.get("path", "<checkpoint dict>"))
        else:
            loaded = load_checkpoint(checkpoint, map_location="cpu")
            source = loaded["path"]
        env = _check_env_metadata(loaded, source)
        try:
            model_config = ACTConfig.from_dict(dict(loaded["model_config"]))
            model = build_model(loaded["model_kind"], model_config)
            model.load_state_dict(loaded["model_state"])
            normalizer = Normalizer.from_state_dict(loaded["normalizer"])
        except (KeyError, ValueError, TypeError, RuntimeError) as error:
            raise CheckpointError(f"{source}: cannot rebuild the model ({type(error).__name__}: {error})") from error
        if tuple(env["cameras"]) != model_config.camera_names or int(env["image_size"]) != model_config.image_size:
            raise CheckpointError(
                f"{source}: env metadata (cameras {list(env['cameras'])}, {env['image_size']} px) disagrees with "
                f"the model config (cameras {list(model_config.camera_names)}, {model_config.image_size} px)"
            )
        stat_shapes = (tuple(normalizer.qpos_mean.shape), tuple(normalizer.action_mean.shape))
        if stat_shapes != ((model_config.state_dim,), (model_config.action_dim,)):
            raise CheckpointError(f"{source}: normaliser statistics do not match the model's state/action sizes")
        path = loaded.get("path")
        info = {
            "path": str(path) if path is not None else None,
            "step": loaded.get("step"),
            "code_version": loaded.get("code_version"),
            "train_config": loaded.get("train_config"),
            "averaged_from": loaded.get("averaged_from"),
            "provenance": loaded.get("provenance"),
            "train_wall_s": loaded.get("train_wall_s"),
        }
        return cls(
            model, loaded["model_kind"], model_config, normalizer, env,
            device=device, temporal_agg=temporal_agg, query_freq=query_freq, k=k, checkpoint_info=info,
        )

    @classmethod
    def from_pretrained(
        cls,
        folder: str | os.PathLike,
        device: str | torch.device = "cpu",
        temporal_agg: bool = False,
        query_freq: int | None = None,
        k: float = 0.01,
    ) -> ACTPolicy:
        """The policy in a folder written by `evaluation.export.export_policy`, read without pickle
        (config.json, model.safetensors, normalizer.safetensors); options as in `from_checkpoint`.

        Raises `CheckpointError` when a file is missing, unreadable or inconsistent.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = os.fspath(folder)
        try:
            with open(os.path.join(folder, "config.json")) as f:
                config = json.load(f)
            model_state = load_file(os.path.join(folder, "model.safetensors"))
            normalizer = load_file(os.path.join(folder, "normalizer.safetensors"))
        except (OSError, ValueError, SafetensorError) as error:  # JSONDecodeError is a ValueError
            raise CheckpointError(f"{folder}: not a readable exported policy ({type(error).__name__}: {error})") from error
        if not isinstance(config, dict) or any(key not in config for key in ("model_kind", "model_config", "env")):
            raise CheckpointError(f"{folder}: config.json lacks model_kind, model_config or env")
        loaded = {
            **{key: config.get(key) for key in ("model_kind", "model_config", "env", "train_config", "step",
                                                "code_version", "averaged_from", "provenance")},
            "model_state": model_state,
            "normalizer": normalizer,
            "path": folder,
        }
        return cls.from_checkpoint(loaded, device=device, temporal_agg=temporal_agg, query_freq=query_freq, k=k)

    def configure(self, temporal_agg: bool = False, query_freq: int | None = None, k: float = 0.01) -> None:
        """Chooses the execution mode (see the module docstring) and resets every environment."""
        if query_freq is None:
            query_freq = 1 if temporal_agg else self.chunk_size
        if isinstance(query_freq, bool) or not isinstance(query_freq, int | np.integer):
            raise TypeError(f"query_freq must be an integer, got {query_freq!r}")
        if not 1 <= query_freq <= self.chunk_size:
            raise ValueError(
                f"query_freq must be in [1, chunk_size={self.chunk_size}] (a chunk holds {self.chunk_size} actions), "
                f"got {query_freq}"
            )
        check_temporal_agg_k(k)
        self.temporal_agg = bool(temporal_agg)
        self.query_freq = int(query_freq)
        self.k = float(k)
        self.reset()

    def to(self, device: str | torch.device) -> ACTPolicy:
        """Moves the model and the normalisation statistics to `device`."""
        self.device = torch.device(device)
        self.model.to(self.device)
        self.normalizer = Normalizer(
            **{name: getattr(self.normalizer, name).to(self.device) for name in Normalizer.__dataclass_fields__}
        )
        return self

    # -- metadata ------------------------------------------------------------------
    @property
    def task(self) -> str:
        return str(self.env_metadata["task"])

    @property
    def fast_render(self) -> bool:
        return bool(self.env_metadata.get("fast_render", True))

    @property
    def demo_seeds(self) -> list[int] | None:
        """Seeds of the training demonstrations, or None when the checkpoint does not say."""
        seeds = self.env_metadata.get("demo_seeds")
        return None if seeds is None else [int(seed) for seed in seeds]

    def env_config(self, max_steps: int = 500) -> EnvConfig:
        """The environment this policy was trained for (task, cameras, image size, rendering)."""
        return EnvConfig(
            task=self.task,
            cameras=self.cameras,
            image_size=self.image_size,
            fast_render=self.fast_render,
            max_steps=max_steps,
        )

    def settings(self) -> dict[str, Any]:
        """The execution settings in force (for result files)."""
        return {"temporal_agg": self.temporal_agg, "query_freq": self.query_freq, "k": self.k}

    # -- per-environment state ---------------------------------------------------------
    @property
    def num_envs(self) -> int | None:
        """Batch size E of the current episodes, or None before the first `select_action`."""
        return self._num_envs

    def _allocate(self, num_envs: int) -> None:
        self._num_envs = num_envs
        self.steps = np.zeros(num_envs, dtype=np.int64)  # (E,) steps taken in the current episode
        self.chunks = np.zeros((num_envs, self.chunk_size, self.action_dim), dtype=np.float32)  # (E, S, A)
        self.aggregator = TemporalAggregator(num_envs, self.chunk_size, self.action_dim, self.k)

    def reset(self, env_mask: np.ndarray | Sequence[bool] | None = None) -> None:
        """Starts new episodes for the masked environments (None: all, and forget the batch size)."""
        if env_mask is None:
            self._num_envs = None
            return
        mask = np.asarray(env_mask, dtype=bool).reshape(-1)
        if self._num_envs is None:
            self._allocate(len(mask))
            return
        mask = _as_env_mask(mask, self._num_envs)
        self.steps[mask] = 0
        self.chunks[mask] = 0.0
        self.aggregator.reset(mask)

    # -- acting ----------------------------------------------------------------------------
    def _batch_observations(
        self, obs_batch: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Validated (E, Q) float32 joint states and (E, N, H, W, 3) uint8 images in camera order."""
        if isinstance(obs_batch, Mapping):
            qpos = np.asarray(obs_batch[self.state_input], dtype=np.float32)
            images = obs_batch["images"]
        else:
            if len(obs_batch) == 0:
                raise ValueError("obs_batch is an empty list")
            qpos = np.stack([np.asarray(obs[self.state_input], dtype=np.float32) for obs in obs_batch])  # (E, Q)
            for obs in obs_batch:
                self._check_cameras(obs["images"])
            images = {cam: np.stack([obs["images"][cam] for obs in obs_batch]) for cam in self.cameras}
        if qpos.ndim != 2 or qpos.shape[1] != self.qpos_dim:
            raise ValueError(f"{self.state_input} must have shape (E, {self.qpos_dim}), got {qpos.shape}")
        self._check_cameras(images)
        num_envs = qpos.shape[0]
        expected = (num_envs, self.image_size, self.image_size, 3)
        for camera in self.cameras:
            image = np.asarray(images[camera])
            if image.shape != expected or image.dtype != np.uint8:
                raise ValueError(
                    f"camera {camera!r}: the checkpoint expects uint8 images of shape (E, H, W, 3) = {expected} "
                    f"({self.image_size} px), got {image.dtype} {image.shape}; build the environment with "
                    "policy.env_config()"
                )
        stacked = np.stack([np.asarray(images[camera]) for camera in self.cameras], axis=1)  # (E, N, H, W, 3)
        return qpos, stacked

    def _check_cameras(self, images: Mapping[str, Any]) -> None:
        if set(images) != set(self.cameras):
            raise ValueError(
                f"observation cameras {sorted(images)} do not match the checkpoint's cameras {list(self.cameras)}; "
                "build the environment with policy.env_config()"
            )

    @torch.inference_mode()
    def predict_chunks(self, qpos: np.ndarray, images: np.ndarray) -> np.ndarray:
        """(B, S, A) float32 unnormalised action chunks for (B, Q) joint states and (B, N, H, W, 3) uint8 images."""
        if self.model.training:
            self.model.eval()
        qpos_t = self.normalizer.normalize_qpos(torch.as_tensor(qpos, device=self.device))  # (B, Q)
        images_t = normalize_images(torch.as_tensor(images, device=self.device))  # (B, N, 3, H, W)
        pred_actions, _, _ = self.model(qpos_t, images_t)  # (B, S, A)
        return self.normalizer.unnormalize_actions(pred_actions).float().cpu().numpy()

    def select_action(
        self,
        obs_batch: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        env_mask: np.ndarray | Sequence[bool] | None = None,
    ) -> np.ndarray:
        """(E, A) float32 actions for E environments; rows outside `env_mask` are 0 and those
        environments neither query the model nor advance their step counter.

        `obs_batch` is ``{"qpos": (E, Q), "images": {camera: (E, H, W, 3) uint8}}`` or a list of E
        per-environment observation dicts as returned by `envs.MetaWorldEnv`.
        """
        qpos, images = self._batch_observations(obs_batch)  # (E, Q), (E, N, H, W, 3)
        num_envs = qpos.shape[0]
        if self._num_envs is None:
            self._allocate(num_envs)
        elif num_envs != self._num_envs:
            raise ValueError(
                f"obs_batch holds {num_envs} environments but the current episodes have {self._num_envs}; "
                "call reset() to start a batch of another size"
            )
        active = _as_env_mask(env_mask, num_envs)
        needs_chunk = active & (self.steps % self.query_freq == 0)  # (E,)
        if needs_chunk.any():
            # Only the environments due for a new chunk go through the model, in one batch.
            new_chunks = self.predict_chunks(qpos[needs_chunk], images[needs_chunk])  # (E', S, A)
            if self.temporal_agg:
                full = np.zeros((num_envs, self.chunk_size, self.action_dim), dtype=np.float32)  # (E, S, A)
                full[needs_chunk] = new_chunks
                self.aggregator.add(full, self.steps, needs_chunk)
            else:
                self.chunks[needs_chunk] = new_chunks
        actions = np.zeros((num_envs, self.action_dim), dtype=np.float32)  # (E, A)
        if self.temporal_agg:
            actions[active] = self.aggregator.action(self.steps, active)[active]
        else:
            envs = np.flatnonzero(active)
            actions[envs] = self.chunks[envs, self.steps[envs] % self.query_freq]
        self.steps[active] += 1
        return actions

    # -- identity --------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What identifies the checkpoint in result files (sha256 of the file when known)."""
        path = self.checkpoint_info.get("path")
        # an exported folder (from_pretrained) is identified by its weights file
        weights = os.path.join(path, "model.safetensors") if path and os.path.isdir(path) else path
        return {
            "path": path,
            "sha256": file_sha256(weights) if weights and os.path.isfile(weights) else None,
            "step": self.checkpoint_info.get("step"),
            "model_kind": self.model_kind,
            "code_version": self.checkpoint_info.get("code_version"),
            "task": self.task,
            "cameras": list(self.cameras),
            "image_size": self.image_size,
            "state_input": self.state_input,
            **({"averaged_from": averaged} if (averaged := self.checkpoint_info.get("averaged_from")) else {}),
            # how the weights were trained: train and model config, demo file hash, code at training start
            "train_config": self.checkpoint_info.get("train_config"),
            "provenance": self.checkpoint_info.get("provenance"),
            "train_wall_s": self.checkpoint_info.get("train_wall_s"),
        }

