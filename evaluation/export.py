"""Pickle-free export of a trained policy: a folder that `ACTPolicy.from_pretrained` loads with
safetensors and JSON only (no `torch.load`, so no unpickling of anything).

    <output_dir>/
      config.json            model_kind, model_config, env metadata, normaliser tensor names/shapes,
                             train_config and provenance (step, code_version, source checkpoint sha256, ...)
      model.safetensors      the checkpoint's model_state
      normalizer.safetensors the checkpoint's normaliser statistics
      README.md              model card (task, cameras, image size, training summary, evaluation result)

The folder is written into a temporary sibling and renamed into place, so a crash leaves either
the previous folder or none, never a half-written one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file

from training.checkpoint import load_checkpoint

EXPORT_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
NORMALIZER_FILE = "normalizer.safetensors"
README_FILE = "README.md"
PROVENANCE_KEYS = ("format_version", "step", "code_version", "metrics", "averaged_from", "provenance")
# train_config entries shown in the model card's summary line
SUMMARY_KEYS = ("data", "model", "steps", "epochs", "batch_size", "lr", "lr_schedule", "action_loss",
                "ema_decay", "augment_shift", "seed", "amp")


def _jsonable(value: Any) -> Any:
    """Plain JSON types: tensors and arrays become lists, paths strings, tuples lists."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _tensors(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    # safetensors needs contiguous tensors that share no memory: clone each one
    return {name: torch.as_tensor(tensor).detach().cpu().contiguous().clone() for name, tensor in state.items()}


def _model_card(config: dict[str, Any], eval_result: Mapping[str, Any] | None) -> str:
    env, model_config, train = config["env"], config["model_config"], config.get("train_config") or {}
    lines = [
        f"# ACT policy for MetaWorld `{env['task']}`",
        "",
        f"- task: `{env['task']}`",
        f"- cameras: {', '.join(f'`{camera}`' for camera in env['cameras'])}",
        f"- image size: {env['image_size']} px",
        (f"- model kind: `{config['model_kind']}` ACT (chunk size {model_config.get('chunk_size')}, "
         f"hidden {model_config.get('hidden_dim')})"),
        f"- state input: `{env.get('state_input', 'qpos')}` ({env['qpos_dim']} floats), action dim {env['action_dim']}",
        f"- training step: {config.get('step')}, code version: `{config.get('code_version')}`",
    ]
    if config.get("averaged_from"):
        lines.append(f"- weights averaged over {len(config['averaged_from'])} snapshots")
    command = train.get("command") or config.get("command")
    if command:
        lines += ["", "## Training", "", "```", str(command), "```"]
    if train:
        summary = ", ".join(f"{key}={train[key]}" for key in SUMMARY_KEYS if key in train)
        lines += ["", "## Training configuration", "", summary or "(see config.json)", "",
                  "<details><summary>full train_config</summary>", "", "```json",
                  json.dumps(train, indent=1), "```", "", "</details>"]
    if eval_result is not None:
        settings = eval_result.get("settings", {})
        low, high = eval_result["wilson_ci_95"]
        splits = ", ".join(settings.get("seed_splits", [])) or settings.get("split", "?")
        execution = (f"temporal aggregation (k={settings.get('k')})" if settings.get("temporal_agg")
                     else f"chunk execution (every {settings.get('query_freq')} steps)")
        lines += [
            "", "## Evaluation", "",
            (f"- success rate: {eval_result['success_rate']:.3f} ({eval_result.get('successes')}/"
             f"{eval_result['episodes']} episodes), Wilson 95% CI [{low:.3f}, {high:.3f}]"),
            f"- seed split: {splits} (split `{settings.get('split')}`, seed offset {settings.get('seed')})",
            f"- {execution}, max {settings.get('max_steps')} steps per episode",
        ]
        evaluated = eval_result.get("checkpoint") or {}
        if evaluated.get("sha256"):
            same = evaluated["sha256"] in (config["source_checkpoint"]["sha256"], config.get("model_sha256"))
            lines.append(f"- evaluated: `{evaluated.get('path')}` (sha256 {evaluated['sha256'][:12]}: "
                         f"{'these weights' if same else 'WARNING: not this checkpoint'})")
    lines += ["", "## Loading", "", "```python", "from evaluation.policy import ACTPolicy",
              "policy = ACTPolicy.from_pretrained(\"<this folder>\")", "```", ""]
    return "\n".join(lines)


def export_policy(
    checkpoint_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    overwrite: bool = False,
    eval_result: dict | None = None,
) -> Path:
    """Writes the pickle-free export of `checkpoint_path` (a file or run folder) to `output_dir`.

    Raises `CheckpointError` for an unusable checkpoint, `FileExistsError` when `output_dir`
    exists and `overwrite` is False, `ValueError` when `output_dir` would hold the checkpoint itself
    or `eval_result` is not a result file of scripts/evaluate_act_proper.py for this policy.
    """
    from evaluation.policy import ACTPolicy, file_sha256

    output_dir = Path(output_dir)
    checkpoint = load_checkpoint(checkpoint_path, map_location="cpu")
    source = Path(checkpoint["path"]).resolve()
    if output_dir.resolve() == source or output_dir.resolve() in source.parents:
        raise ValueError(f"{output_dir} holds the checkpoint {source}; export to another folder")
    if output_dir.exists() or output_dir.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{output_dir} exists; pass overwrite (--overwrite) to replace it")
        if not output_dir.is_dir() or output_dir.is_symlink():
            raise FileExistsError(f"{output_dir} exists and is not a folder; choose another output")
    if eval_result is not None:
        missing = [key for key in ("success_rate", "episodes", "wilson_ci_95") if key not in eval_result]
        if missing:
            raise ValueError(f"eval_result is not an evaluation result file (missing {', '.join(missing)})")
    ACTPolicy.from_checkpoint(checkpoint)  # refuse an inconsistent checkpoint before writing anything
    if eval_result is not None:
        task = (eval_result.get("checkpoint") or {}).get("task")
        if task is not None and task != checkpoint["env"]["task"]:
            raise ValueError(f"eval_result is for task {task!r}, the checkpoint for {checkpoint['env']['task']!r}")

    model_state, normalizer = _tensors(checkpoint["model_state"]), _tensors(checkpoint["normalizer"])
    config: dict[str, Any] = {
        "export_format_version": EXPORT_FORMAT_VERSION,
        "model_kind": checkpoint["model_kind"],
        "model_config": dict(checkpoint["model_config"]),
        "env": dict(checkpoint["env"]),
        "normalizer": {name: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
                       for name, t in normalizer.items()},
        "train_config": checkpoint.get("train_config"),
        **{key: checkpoint[key] for key in PROVENANCE_KEYS if key in checkpoint},
        "source_checkpoint": {"path": str(source), "sha256": file_sha256(source)},
    }
    config = _jsonable(config)
    if eval_result is not None:
        config["evaluation"] = _jsonable({key: eval_result.get(key) for key in (
            "success_rate", "successes", "episodes", "wilson_ci_95", "settings")})

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}.", suffix=".tmp"))
    old = None
    try:
        save_file(model_state, str(tmp / MODEL_FILE), metadata={"format": "pt"})
        save_file(normalizer, str(tmp / NORMALIZER_FILE), metadata={"format": "pt"})
        config["model_sha256"] = file_sha256(tmp / MODEL_FILE)  # what policy.identity() reports for the folder
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        (tmp / README_FILE).write_text(_model_card(config, eval_result))
        umask = os.umask(0)
        os.umask(umask)
        for path in tmp.iterdir():
            os.chmod(path, 0o666 & ~umask)  # safetensors writes 0600 files; give what open() would
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700 folders; give what mkdir would
        if output_dir.exists():
            # a folder cannot be renamed over a non-empty one: move the old one aside first
            old = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}.", suffix=".old"))
            os.replace(output_dir, old / "previous")
        os.replace(tmp, output_dir)
    except BaseException:
        if old is not None and (old / "previous").exists() and not output_dir.exists():
            os.replace(old / "previous", output_dir)  # put the previous export back
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)
    return output_dir
