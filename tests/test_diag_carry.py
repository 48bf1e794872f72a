"""scripts/diag_carry.py on a real tiny checkpoint and real demonstrations."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "diag_carry.py")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300, check=False,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )


def test_splits_the_sideways_frames_into_approach_and_carry_per_checkpoint(tiny_checkpoint, tiny_demo_file):
    from envs.hdf5_demos import read_episode, validate_demo_file

    done = run("--checkpoint", tiny_checkpoint, tiny_checkpoint, "--data", tiny_demo_file)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["episodes"] == 3 and len(report["checkpoints"]) == 2
    assert report["checkpoints"][0] == report["checkpoints"][1]  # eval mode is deterministic
    # the frames, counted here from the file: the expert's |x| > 0.5, split by its gripper command
    actions = np.concatenate([
        read_episode(tiny_demo_file, index, with_images=False)["actions"]
        for index in range(validate_demo_file(tiny_demo_file).num_episodes)
    ])
    moving = np.abs(actions[:, 0]) > 0.5
    counts = {"approach": int((moving & (actions[:, 3] <= 0)).sum()), "carry": int((moving & (actions[:, 3] > 0)).sum())}
    assert counts["approach"] > 0 and counts["carry"] > 0  # shelf-place moves sideways in both phases
    for phase, frames in counts.items():
        summary = report["checkpoints"][0][phase]
        assert summary["frames"] == frames
        assert -1.5 <= summary["signed_x"] <= 1.5  # predictions are unnormalised actions, not clipped
        assert 0.0 <= summary["share_still"] + summary["share_wrong_way"] <= 1.0


def test_probe_reads_the_carry_direction_at_three_stages_of_the_forward_pass(tiny_checkpoint, tiny_demo_file):
    done = run("--checkpoint", tiny_checkpoint, "--data", tiny_demo_file, "--probe", "--components", "2", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    entry = json.loads(done.stdout)["checkpoints"][0]
    assert set(entry["probe"]) == {"image_tokens", "encoder_output", "decoder_output", "decoder_attention"}
    attention = entry["probe"].pop("decoder_attention")
    assert set(attention) == {"approach", "carry"}
    for shares in attention.values():  # softmax weights over [z, qpos, image tokens]
        assert set(shares) == {"latent", "joint_state", "image_tokens"}
        assert sum(shares.values()) == pytest.approx(1.0, abs=2e-4) and min(shares.values()) >= 0.0
    for stage in entry["probe"].values():
        assert set(stage) == {"top2", "top3"}
        for read in stage.values():
            assert 0.0 <= read["held_out_accuracy"] <= 1.0
            assert 0.0 < read["variance_share"] <= 1.0
        assert stage["top3"]["variance_share"] >= stage["top2"]["variance_share"]


def test_probe_hooks_capture_the_tensors_the_forward_pass_uses(tiny_checkpoint, tiny_demo_file):
    """The hooked stages are the model's own: the image tokens equal encode_images' output, and the
    decoder output fed through the action head gives the predicted first action."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import torch
    from diag_carry import stage_features

    from envs.hdf5_demos import read_episode
    from training.normalizer import normalize_images
    from training.policy import ACTPolicy

    policy = ACTPolicy.from_checkpoint(tiny_checkpoint)
    data = read_episode(tiny_demo_file, 0)
    qpos = data["qpos"][:4].astype(np.float32)
    images = np.stack([data["images"][camera][:4] for camera in policy.cameras], axis=1)
    features = stage_features(policy, qpos, images)
    with torch.no_grad():
        tokens, _ = policy.model.encode_images(normalize_images(torch.as_tensor(images)))
        head = policy.model.action_head(torch.as_tensor(features["decoder_output"]))  # (4, A) normalised
    np.testing.assert_allclose(features["image_tokens"], tokens.reshape(4, -1).numpy(), rtol=1e-5, atol=1e-6)
    first_action = policy.normalizer.unnormalize_actions(head).numpy()
    np.testing.assert_allclose(first_action, policy.predict_chunks(qpos, images)[:, 0], rtol=1e-4, atol=1e-5)


def test_refuses_a_missing_checkpoint_without_a_traceback(tiny_demo_file, tmp_path):
    done = run("--checkpoint", str(tmp_path / "none.pth"), "--data", tiny_demo_file)
    assert done.returncode != 0 and "Traceback" not in done.stderr and "error:" in done.stderr
