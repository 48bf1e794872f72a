"""Checkpoints: plain dicts of tensors and plain types, written atomically, read with weights_only=True.

A checkpoint holds everything needed to rebuild and roll out the policy without
the dataset or the training command:

- ``format_version``; ``model_kind`` ("standard" | "modified"); ``model_config`` (ACTConfig dict);
- ``model_state``; ``normalizer`` (tensors); ``env`` (task, cameras, image_size, fast_render,
  qpos_dim, action_dim, demo_seeds, dataset path);
- ``train_config``; ``step``; ``optimizer_state``; ``rng`` (torch CPU and CUDA states);
- ``metrics`` (last logged values); ``code_version`` (git commit of the code that saved it);
- ``provenance``: what the run was trained from, fixed when training started (`training_provenance`):
  the code's commit and whether the tree was dirty, the demo file's sha256 and collection attributes,
  the start time, torch's version and threads; every resume appends its step and code commit.
"""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import torch

from training.atomic import atomic_path

CHECKPOINT_FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "model_kind", "model_config", "model_state", "normalizer", "env")


class CheckpointError(ValueError):
    """The file is not a usable checkpoint of this project; the message says why."""


def code_state() -> dict[str, Any]:
    """The git commit of this code, whether tracked files differ from it, and which (up to 20)."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None, "changed_files": []}
    return {"commit": commit, "dirty": bool(changed), "changed_files": [line[3:] for line in changed[:20]]}


def code_version(state: dict[str, Any] | None = None) -> str:
    """Short git commit (with "+dirty" when tracked files have changes) of this code, or "unknown"."""
    state = state or code_state()
    if state["commit"] == "unknown":
        return "unknown"
    return state["commit"][:7] + ("+dirty" if state["dirty"] else "")


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> None:
    """Writes `checkpoint` to a temporary file beside `path`, then renames it over `path`."""
    checkpoint = {"format_version": CHECKPOINT_FORMAT_VERSION, **checkpoint}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(checkpoint, f)
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Loads a checkpoint safely (no code execution) and checks it is one of ours."""
    path = Path(path)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.pth", path / "best.pth", path / "checkpoints" / "last.pth"):
            if candidate.exists():
                path = candidate
                break
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):  # not a refused object: bytes that are no pickle at all
            raise CheckpointError(f"{path}: not a readable checkpoint (not a torch file of tensors)") from None
        # torch's own message suggests weights_only=False, which would run the file's code
        raise CheckpointError(
            f"{path}: refused: it holds Python objects that loading would run as code, not just tensors and plain "
            "values; nothing was executed. Use a checkpoint written by this project from a source you trust"
        ) from None
    except Exception as error:  # torch raises many types for a foreign or truncated pickle
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in REQUIRED_KEYS):
        missing = [key for key in REQUIRED_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
        raise CheckpointError(f"{path}: not an ACT checkpoint of this project (missing {', '.join(missing)})")
    if checkpoint["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {checkpoint['format_version']} is not supported "
            f"(this code reads {CHECKPOINT_FORMAT_VERSION})"
        )
    checkpoint["path"] = str(path)
    return checkpoint


def average_checkpoints(checkpoints: list[dict[str, Any]]) -> dict[str, Any]:
    """One checkpoint whose weights are the element-wise mean of `checkpoints`' weights.

    Averaging the snapshots of one run (e.g. the last few, 1000 steps apart) smooths out the
    step-to-step noise of small-batch SGD, as stochastic weight averaging does. The snapshots must
    share the model kind, model config, normaliser and env metadata (one run, one dataset);
    integer buffers are taken from the last snapshot. The result keeps the last snapshot's metadata,
    has no optimizer state (it is for evaluation, not for resuming) and records its sources under
    ``averaged_from``.
    """
    if len(checkpoints) < 2:
        raise CheckpointError("averaging needs at least two checkpoints")
    first, last = checkpoints[0], checkpoints[-1]
    first_name = first.get("path", "the first checkpoint")
    for other in checkpoints[1:]:
        where = other.get("path", "<checkpoint>")
        for key in ("model_kind", "model_config", "env"):
            if other[key] != first[key]:
                raise CheckpointError(f"{where}: {key} differs from {first_name}'s")
        # snapshots of one run share its training settings; only the step count may have grown
        ours, theirs = dict(first.get("train_config", {})), dict(other.get("train_config", {}))
        ours.pop("steps", None), theirs.pop("steps", None)
        if ours != theirs:
            differing = sorted(key for key in set(ours) | set(theirs) if ours.get(key) != theirs.get(key))
            raise CheckpointError(f"{where}: trained with other settings than {first_name} ({', '.join(differing)}): "
                                  "average snapshots of one run only")
        if set(other["normalizer"]) != set(first["normalizer"]) or any(
            not torch.equal(torch.as_tensor(other["normalizer"][name]), torch.as_tensor(first["normalizer"][name]))
            for name in first["normalizer"]
        ):
            raise CheckpointError(f"{where}: normaliser differs (trained on another dataset?)")
        if set(other["model_state"]) != set(first["model_state"]):
            raise CheckpointError(f"{where}: model parameters differ from {first_name}'s")
    averaged_state = {}
    for name, last_value in last["model_state"].items():
        if torch.is_floating_point(last_value):
            stacked = torch.stack([c["model_state"][name].float() for c in checkpoints])  # (n, *shape)
            averaged_state[name] = stacked.mean(dim=0).to(last_value.dtype)
        else:
            averaged_state[name] = last_value.clone()
    averaged = {key: value for key, value in last.items() if key not in ("optimizer_state", "rng", "path")}
    averaged["model_state"] = averaged_state
    averaged["averaged_from"] = [{"path": c.get("path"), "step": c.get("step")} for c in checkpoints]
    return averaged
