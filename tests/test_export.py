"""Tests of the pickle-free export (evaluation/export.py, ACTPolicy.from_pretrained,
scripts/export_policy.py) with the real tiny checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from evaluation.export import export_policy
from evaluation.policy import ACTPolicy, file_sha256
from evaluation.rollout import EvalConfig, evaluate
from training.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVAL_RESULT = {"success_rate": 0.5, "successes": 1, "episodes": 2, "wilson_ci_95": [0.095, 0.905],
               "settings": {"split": "test", "seed": 0, "seed_splits": ["test"], "max_steps": 20,
                            "temporal_agg": False, "query_freq": 5, "k": 0.01}}


@pytest.fixture(scope="module")
def exported(tiny_checkpoint, tmp_path_factory):
    eval_result = {**EVAL_RESULT, "checkpoint": ACTPolicy.from_checkpoint(tiny_checkpoint).identity()}
    return export_policy(tiny_checkpoint, tmp_path_factory.mktemp("export") / "tiny", eval_result=eval_result)


def test_export_is_pickle_free_and_complete(exported, tiny_checkpoint):
    assert sorted(os.listdir(exported)) == ["README.md", "config.json", "model.safetensors", "normalizer.safetensors"]
    assert not [name for name in os.listdir(exported.parent) if name.startswith(".")]  # no temp folder left
    checkpoint = load_checkpoint(tiny_checkpoint)
    weights = load_file(exported / "model.safetensors")
    assert weights.keys() == checkpoint["model_state"].keys()
    assert all(torch.equal(weights[name], value) for name, value in checkpoint["model_state"].items())
    config = json.loads((exported / "config.json").read_text())
    assert config["model_kind"] == "standard" and config["code_version"] == "test" and config["step"] == 7
    assert config["env"]["task"] == "shelf-place-v3" and config["normalizer"]["qpos_mean"]["shape"] == [
        len(checkpoint["normalizer"]["qpos_mean"])]
    assert config["source_checkpoint"]["sha256"] == file_sha256(tiny_checkpoint)
    card = (exported / "README.md").read_text()
    for text in ("shelf-place-v3", "behindGripper", "64 px", "`standard`", "0.500", "[0.095, 0.905]", "2 episodes",
                 "test", "these weights"):
        assert text in card, text


def test_from_pretrained_predicts_exactly_as_the_checkpoint(exported, tiny_checkpoint):
    original, loaded = ACTPolicy.from_checkpoint(tiny_checkpoint), ACTPolicy.from_pretrained(exported)
    via_checkpoint = ACTPolicy.from_checkpoint(exported)  # a folder is accepted wherever a checkpoint is
    rng = np.random.default_rng(0)
    qpos = rng.normal(size=(3, original.qpos_dim)).astype(np.float32)
    images = rng.integers(0, 256, size=(3, 1, 64, 64, 3), dtype=np.uint8)
    expected = torch.from_numpy(original.predict_chunks(qpos, images))
    assert torch.equal(torch.from_numpy(loaded.predict_chunks(qpos, images)), expected)
    assert torch.equal(torch.from_numpy(via_checkpoint.predict_chunks(qpos, images)), expected)
    identity = loaded.identity()
    assert identity["sha256"] == file_sha256(exported / "model.safetensors")
    assert (identity["step"], identity["code_version"], identity["task"]) == (7, "test", "shelf-place-v3")


def test_export_refuses_to_overwrite_unless_asked(exported, tiny_checkpoint, tmp_path):
    with pytest.raises(FileExistsError, match="exists"):
        export_policy(tiny_checkpoint, exported)
    (exported / "stale.txt").write_text("old")
    export_policy(tiny_checkpoint, exported, overwrite=True)
    assert not (exported / "stale.txt").exists() and (exported / "model.safetensors").exists()
    script = [sys.executable, os.path.join(ROOT, "scripts", "export_policy.py"), "--checkpoint", tiny_checkpoint,
              "--output", str(exported)]
    done = subprocess.run(script, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
    done = subprocess.run(script[:-1] + [str(tmp_path / "new")], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new" / "model.safetensors").exists()


def test_evaluating_the_folder_matches_the_checkpoint(exported, tiny_checkpoint):
    config = EvalConfig(episodes=2, max_steps=20)
    results = [evaluate(ACTPolicy.from_checkpoint(source), config, progress=False)
               for source in (tiny_checkpoint, str(exported))]
    keys = ("seed", "success", "steps", "return", "object_init_pos", "goal_pos")
    assert [[e[key] for key in keys] for e in results[0]["per_episode"]] == [
        [e[key] for key in keys] for e in results[1]["per_episode"]]
    assert results[1]["checkpoint"]["sha256"] == file_sha256(exported / "model.safetensors")
