"""Dataset, normaliser, training loop, checkpoints and resume, on a real tiny dataset."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import run_main

from envs.collection import CollectConfig, collect_demos
from envs.hdf5_demos import read_episode
from models import ACTConfig, build_model
from training import batch_keys
from training.augment import random_shift
from training.checkpoint import load_checkpoint
from training.dataset import DeviceWindows, EpisodeWindowDataset, StepBatchSampler, fit_normalizer, split_episodes
from training.normalizer import Normalizer, normalize_images
from training.trainer import TrainConfig, Trainer, TrainSetupError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_MODEL = {
    "hidden_dim": 32, "n_heads": 2, "dim_feedforward": 64, "enc_layers": 1, "dec_layers": 1, "cvae_enc_layers": 1,
    "latent_dim": 8, "chunk_size": 5,
}


def tiny_train_config(data: str, tmp_path, **overrides) -> TrainConfig:
    values = {
        "data": data, "model": "standard", "steps": 6, "batch_size": 4, "log_every": 1, "val_every": 3, "val_batches": 1,
        "output_dir": str(tmp_path / "runs"), "run_name": "run", "device": "cpu", "augment_shift": 2,
    }
    values.update(overrides)
    return TrainConfig(**values)


def train_losses(run_dir) -> dict[int, float]:
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    return {r["step"]: r["train/loss"] for r in lines if "train/loss" in r}


def test_normalizer_round_trip_and_stats(tiny_demo_file):
    normalizer = fit_normalizer(tiny_demo_file, [0, 1])
    actions = np.concatenate([read_episode(tiny_demo_file, e, with_images=False)["actions"] for e in (0, 1)])
    np.testing.assert_allclose(normalizer.action_mean.numpy(), actions.mean(0), rtol=1e-5, atol=1e-6)
    normalized = normalizer.normalize_actions(torch.as_tensor(actions))
    np.testing.assert_allclose(normalized.mean(0).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(normalizer.unnormalize_actions(normalized).numpy(), actions, atol=1e-5)
    # a constant dimension gets the std floor, not a division by zero
    flat = Normalizer.from_data(np.ones((10, 4)), np.zeros((10, 4)))
    assert torch.all(flat.qpos_std == 1e-2) and torch.isfinite(flat.normalize_qpos(torch.zeros(4))).all()
    restored = Normalizer.from_state_dict(normalizer.state_dict())
    assert torch.equal(restored.action_std, normalizer.action_std)


def test_images_are_imagenet_normalised_channels_first():
    images = torch.full((2, 1, 8, 8, 3), 255, dtype=torch.uint8)
    out = normalize_images(images)
    assert out.shape == (2, 1, 3, 8, 8) and out.dtype == torch.float32
    np.testing.assert_allclose(out[0, 0, :, 0, 0].numpy(), (1 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225]), rtol=1e-5)
    assert images.dtype == torch.uint8 and int(images[0, 0, 0, 0, 0]) == 255  # input untouched


def test_split_is_by_episode_and_seeded():
    train, val = split_episodes(50, 0.1, seed=3)
    assert len(val) == 5 and not set(train) & set(val) and sorted(train + val) == list(range(50))
    assert split_episodes(50, 0.1, seed=3) == (train, val)
    assert split_episodes(50, 0.1, seed=4) != (train, val)


def test_windows_at_episode_edges(tiny_demo_file):
    normalizer = fit_normalizer(tiny_demo_file, [0, 1, 2])
    dataset = EpisodeWindowDataset(tiny_demo_file, [1, 2], chunk_size=5, cameras=["behindGripper"], normalizer=normalizer)
    episode = read_episode(tiny_demo_file, 1)
    length = episode["length"]
    expected_actions = normalizer.normalize_actions(torch.as_tensor(episode["actions"]))
    first = dataset[0]
    assert torch.equal(first[batch_keys.ACTION_CHUNK], expected_actions[:5])
    assert not first[batch_keys.IS_PAD].any()
    last = dataset[length - 1]  # the final step of episode 1: one real action, four padded
    assert last[batch_keys.IS_PAD].tolist() == [False, True, True, True, True]
    assert torch.equal(last[batch_keys.ACTION_CHUNK][0], expected_actions[-1])
    assert torch.all(last[batch_keys.ACTION_CHUNK][1:] == 0)
    assert torch.equal(last[batch_keys.IMAGES][0], torch.from_numpy(episode["images"]["behindGripper"][-1]))
    third_from_end = dataset[length - 3]
    assert third_from_end[batch_keys.IS_PAD].tolist() == [False, False, False, True, True]
    # the next flat index is the first step of the next episode
    assert dataset.locate(length) == (1, 0)


def test_sampler_is_a_pure_function_of_seed_and_step():
    lengths = np.array([10, 3, 7])
    full = list(StepBatchSampler(lengths, 4, seed=1, num_steps=6))
    resumed = list(StepBatchSampler(lengths, 4, seed=1, num_steps=6, start_step=3))
    assert full[3:] == resumed
    assert all(0 <= i < lengths.sum() for batch in full for i in batch)
    assert list(StepBatchSampler(lengths, 4, seed=2, num_steps=6)) != full


def test_random_shift_moves_content_within_bounds():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(3, 2, 3, 16, 16)
    assert torch.equal(random_shift(images, 0, generator), images)
    shifted = random_shift(images, 2, generator)
    assert shifted.shape == images.shape and not torch.equal(shifted, images)
    # the centre of every image is a translated copy of the original, by at most 2 px
    for b in range(3):
        for n in range(2):
            centre = shifted[b, n, :, 4:12, 4:12]
            assert any(
                torch.equal(centre, images[b, n, :, 4 + dy : 12 + dy, 4 + dx : 12 + dx])
                for dy in range(-2, 3) for dx in range(-2, 3)
            )


def test_random_shift_is_a_crop_of_the_padded_image_at_the_drawn_offset():
    # independent reference: one crop per image at the offsets the same generator draws
    images = torch.rand(4, 2, 3, 10, 13)
    max_shift = 3
    shifted = random_shift(images, max_shift, torch.Generator().manual_seed(5))
    offsets = torch.randint(0, 2 * max_shift + 1, (8, 2), generator=torch.Generator().manual_seed(5))
    padded = torch.nn.functional.pad(images.reshape(8, 3, 10, 13), (max_shift,) * 4, mode="replicate")
    for i, (dy, dx) in enumerate(offsets.tolist()):
        assert torch.equal(shifted.reshape(8, 3, 10, 13)[i], padded[i, :, dy : dy + 10, dx : dx + 13])


def test_training_run_writes_run_folder_and_safe_checkpoints(tiny_demo_file, tmp_path):
    trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, model="modified"), TINY_MODEL)
    run_dir = trainer.run(progress=False)
    for name in ("config.json", "metrics.jsonl", "plots/loss.png", "checkpoints/best.pth", "checkpoints/last.pth"):
        assert (run_dir / name).exists(), name
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    keys = set().union(*records)
    assert {"train/l1", "train/kl", "train/grad_norm", "train/lr", "perf/steps_per_s", "val/l1", "val/kl"} <= keys
    per_dim = [f"{split}/l1_{name}" for split in ("train", "val") for name in ("x", "y", "z", "grip")]
    assert set(per_dim) <= keys
    for record in records:  # the overall L1 is the mean of the four
        if "val/l1" in record:
            assert record["val/l1"] == pytest.approx(np.mean([record[f"val/l1_{n}"] for n in ("x", "y", "z", "grip")]), rel=1e-5)
    assert all(np.isfinite(r["train/loss"]) for r in records if "train/loss" in r)
    raw = torch.load(run_dir / "checkpoints" / "last.pth", weights_only=True)  # no code runs on load
    assert raw["step"] == 6 and raw["model_kind"] == "modified"
    assert raw["env"]["task"] == "shelf-place-v3" and raw["env"]["cameras"] == ["behindGripper"]
    assert raw["env"]["image_size"] == 64 and sorted(raw["env"]["demo_seeds"]) == [0, 1, 2]
    assert not list((run_dir / "checkpoints").glob("*.tmp"))
    # exact save/load equality of the model's outputs
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pth")
    rebuilt = build_model(checkpoint["model_kind"], ACTConfig.from_dict(checkpoint["model_config"]))
    rebuilt.load_state_dict(checkpoint["model_state"])
    trainer.model.eval()
    rebuilt.eval()
    qpos, images = torch.randn(2, 4), torch.randn(2, 1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(trainer.model(qpos, images)[0], rebuilt(qpos, images)[0])


def test_same_seed_gives_identical_losses(tiny_demo_file, tmp_path):
    first = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "a"), TINY_MODEL).run(progress=False)
    second = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "b"), TINY_MODEL).run(progress=False)
    assert train_losses(first) == train_losses(second)
    third = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "c", seed=1), TINY_MODEL).run(progress=False)
    assert train_losses(third) != train_losses(first)


def test_resume_reproduces_uninterrupted_losses(tiny_demo_file, tmp_path):
    straight = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "straight"), TINY_MODEL).run(progress=False)
    stopped = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "stopped", steps=3), TINY_MODEL)
    stopped_dir = stopped.run(progress=False)
    resumed = Trainer.resume(stopped_dir, expected_model="standard", steps=6)
    assert resumed.step == 3
    resumed.run(progress=False)
    assert train_losses(stopped_dir) == train_losses(straight)
    assert len(train_losses(stopped_dir)) == 6


def test_device_windows_hold_exactly_the_dataset_windows(tiny_demo_file):
    normalizer = fit_normalizer(tiny_demo_file, [0, 1, 2])
    dataset = EpisodeWindowDataset(tiny_demo_file, [2, 0], 20, ["behindGripper"], normalizer)
    windows = DeviceWindows(dataset, "cpu")
    every_index = list(range(len(dataset)))  # includes the padded windows at each episode's end
    expected = torch.utils.data.default_collate([dataset[i] for i in every_index])
    got = windows.batch(every_index)
    for key in (batch_keys.QPOS, batch_keys.IMAGES, batch_keys.ACTION_CHUNK, batch_keys.IS_PAD):
        assert got[key].dtype == expected[key].dtype and torch.equal(got[key], expected[key]), key
    assert bool(got[batch_keys.IS_PAD].any()) and bool((~got[batch_keys.IS_PAD]).any())


def test_training_from_device_windows_matches_the_dataloader(tiny_demo_file, tmp_path):
    """--data_on_device changes where batches come from, not which: the same losses, step for step."""
    loader = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "loader"), TINY_MODEL).run(progress=False)
    device = Trainer.start(
        tiny_train_config(tiny_demo_file, tmp_path / "device", data_on_device=True), TINY_MODEL
    ).run(progress=False)
    assert len(train_losses(device)) == 6 and train_losses(device) == train_losses(loader)


def test_compiled_training_forward_trains_the_same_weights(tiny_demo_file, tmp_path, monkeypatch):
    """--compile runs the training forward through torch.compile: the same losses and weights as eager
    (up to float rounding) once the compiled code draws dropout and the CVAE's z from torch's own
    generator, checkpoints of the model itself (no compiled wrapper's key prefix)."""
    import torch._inductor.config as inductor_config
    from torch._dynamo.utils import counters

    monkeypatch.setattr(inductor_config, "fallback_random", True)  # else the compiler's own random stream

    eager_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "eager", steps=3), TINY_MODEL).run(progress=False)
    counters.clear()
    trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "compiled", steps=3, compile=True), TINY_MODEL)
    assert trainer.train_forward_model is not trainer.model
    compiled_dir = trainer.run(progress=False)
    assert counters["stats"]["unique_graphs"] > 0  # the compiler ran
    eager, compiled = train_losses(eager_dir), train_losses(compiled_dir)
    assert sorted(compiled) == [1, 2, 3] and compiled == {s: pytest.approx(v, rel=1e-4) for s, v in eager.items()}
    eager_last = load_checkpoint(eager_dir / "checkpoints" / "last.pth")
    compiled_last = load_checkpoint(compiled_dir / "checkpoints" / "last.pth")
    assert compiled_last["train_config"]["compile"] is True
    assert compiled_last["model_state"].keys() == eager_last["model_state"].keys()
    for name, value in eager_last["model_state"].items():
        # AdamW moves a weight by about lr (1e-4) a step whatever its gradient's size, so a near-zero
        # gradient that rounds differently may move it the other way: within 3 steps × lr
        torch.testing.assert_close(compiled_last["model_state"][name], value, rtol=1e-3, atol=3e-4)


def test_cosine_schedule_with_warmup_sets_both_learning_rates(tiny_demo_file, tmp_path):
    config = tiny_train_config(
        tiny_demo_file, tmp_path, steps=8, lr=2e-4, lr_backbone=1e-4, lr_schedule="cosine", lr_min_ratio=0.1,
        warmup_steps=2,
    )
    factors = [config.lr_factor(step) for step in range(8)]
    assert factors[:3] == [0.5, 1.0, 1.0]  # warm-up, then the cosine starts at 1
    assert all(a >= b for a, b in itertools.pairwise(factors[1:]))  # never rises after warm-up
    assert factors[-1] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 6)))
    assert config.lr_factor(8) == pytest.approx(0.1)  # the end of the schedule is lr_min_ratio
    trainer = Trainer.start(config, TINY_MODEL)
    run_dir = trainer.run(progress=False)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        logged = {r["step"]: r["train/lr"] for r in map(json.loads, f) if "train/lr" in r}
    # the record at step s holds the lr of the update that made step s
    assert logged == {s: pytest.approx(2e-4 * factors[s - 1]) for s in range(1, 9)}
    assert trainer.optimizer.param_groups[1]["lr"] == pytest.approx(1e-4 * factors[-1])
    constant = tiny_train_config(tiny_demo_file, tmp_path)
    assert {constant.lr_factor(step) for step in range(6)} == {1.0}


def test_ema_checkpoints_hold_the_moving_average_of_the_trained_weights(tiny_demo_file, tmp_path):
    decay = 0.8
    plain_dir = Trainer.start(
        tiny_train_config(tiny_demo_file, tmp_path / "plain", save_every=1), TINY_MODEL
    ).run(progress=False)
    ema_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "ema", ema_decay=decay), TINY_MODEL).run(
        progress=False
    )
    assert train_losses(ema_dir) == train_losses(plain_dir)  # the average does not change training
    last = load_checkpoint(ema_dir / "checkpoints" / "last.pth")
    plain_last = load_checkpoint(plain_dir / "checkpoints" / "last.pth")
    for name, value in plain_last["model_state"].items():
        assert torch.equal(last["train_model_state"][name], value)
    # the average from the plain run's per-step snapshots, computed independently here
    torch.manual_seed(0)  # the trainer's seed: the same initial weights
    initial = build_model("standard", ACTConfig.from_dict(plain_last["model_config"])).state_dict()
    expected = {name: value.clone() for name, value in initial.items()}
    for step in range(6):
        weights = load_checkpoint(plain_dir / "checkpoints" / f"step_{step + 1:06d}.pth")["model_state"]
        d = min(decay, (1 + step) / (10 + step))
        expected = {
            name: d * value + (1 - d) * weights[name] if torch.is_floating_point(value) else weights[name]
            for name, value in expected.items()
        }
    moved = 0
    for name, value in last["model_state"].items():
        torch.testing.assert_close(value, expected[name], rtol=1e-5, atol=1e-6)
        moved += not torch.equal(value, last["train_model_state"][name])
    assert moved > 0
    # validation losses are those of the average, so they differ from the plain run's
    records = [json.loads(line) for line in (ema_dir / "metrics.jsonl").read_text().splitlines()]
    plain_records = [json.loads(line) for line in (plain_dir / "metrics.jsonl").read_text().splitlines()]
    val = [r["val/loss"] for r in records if "val/loss" in r]
    assert val and val != [r["val/loss"] for r in plain_records if "val/loss" in r]


def test_resume_with_ema_reproduces_the_uninterrupted_average(tiny_demo_file, tmp_path):
    straight = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "straight", ema_decay=0.9), TINY_MODEL)
    straight_dir = straight.run(progress=False)
    stopped_dir = Trainer.start(
        tiny_train_config(tiny_demo_file, tmp_path / "stopped", ema_decay=0.9, steps=3), TINY_MODEL
    ).run(progress=False)
    resumed = Trainer.resume(stopped_dir, steps=6)
    resumed.run(progress=False)
    assert train_losses(stopped_dir) == train_losses(straight_dir)
    expected = load_checkpoint(straight_dir / "checkpoints" / "last.pth")
    got = load_checkpoint(stopped_dir / "checkpoints" / "last.pth")
    for key in ("model_state", "train_model_state"):
        for name, value in expected[key].items():
            assert torch.equal(got[key][name], value), (key, name)


def test_bf16_autocast_trains_with_fp32_weights(tiny_demo_file, tmp_path):
    trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, amp="bf16"), TINY_MODEL)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    run_dir = trainer.run(progress=False)
    losses = train_losses(run_dir)
    assert len(losses) == 6 and all(math.isfinite(v) for v in losses.values())
    assert all(v.dtype != torch.bfloat16 for v in trainer.model.state_dict().values())  # weights stay fp32
    assert any(not torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    # the bf16 forward pass is a different computation from the fp32 one: same seed, other losses
    fp32 = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "fp32"), TINY_MODEL).run(progress=False)
    assert train_losses(fp32) != losses
    assert train_losses(fp32)[1] == pytest.approx(losses[1], rel=0.05)


@pytest.mark.parametrize(
    "overrides", [{"amp": "fp16"}, {"ema_decay": 1.0}, {"ema_decay": -0.1}, {"lr_schedule": "linear"}, {"lr_min_ratio": 1.5}, {"warmup_steps": 6}, {"warmup_steps": -1}, {"val_fraction": 1.0}, {"val_fraction": -0.1},
     {"action_loss": "mse"}, {"action_loss": "huber", "huber_delta": 0.0}, {"huber_delta": 0.5}]
)
def test_bad_schedule_settings_are_refused(tiny_demo_file, tmp_path, overrides):
    with pytest.raises(TrainSetupError):
        tiny_train_config(tiny_demo_file, tmp_path, **overrides)


def test_overfits_one_fixed_batch(tiny_demo_file, tmp_path):
    torch.manual_seed(0)
    trainer = Trainer.start(
        tiny_train_config(tiny_demo_file, tmp_path, augment_shift=0, lr=1e-3, lr_backbone=1e-3),
        {**TINY_MODEL, "dropout": 0.0, "kl_weight": 1.0},
    )
    batch = torch.utils.data.default_collate([trainer._train_set[i] for i in (0, 30, 60, 90)])
    first = trainer.train_step(batch)["train/l1"].item()
    for _ in range(150):
        last = trainer.train_step(batch)["train/l1"].item()
    assert last < first / 5, (first, last)


def test_bad_inputs_stop_early_with_a_message(tiny_demo_file, tmp_path):
    with pytest.raises(TrainSetupError, match="chunk_size 500 is longer than every episode"):
        Trainer.start(tiny_train_config(tiny_demo_file, tmp_path), {**TINY_MODEL, "chunk_size": 500})
    foreign = tmp_path / "foreign.hdf5"
    foreign.write_bytes(b"\x89HDF\r\n\x1a\nnot really")
    with pytest.raises(TrainSetupError, match="dataset check failed"):
        Trainer.start(tiny_train_config(str(foreign), tmp_path), TINY_MODEL)
    with pytest.raises(TrainSetupError, match="has no camera corner2"):
        Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, cameras=("corner2",)), TINY_MODEL)
    run_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, steps=1), TINY_MODEL).run(progress=False)
    with pytest.raises(TrainSetupError, match="is a standard ACT checkpoint, but --model modified"):
        Trainer.resume(run_dir, expected_model="modified")


def test_resume_with_a_dataset_of_another_image_size_is_refused(tiny_demo_file, tmp_path):
    run_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, steps=1), TINY_MODEL).run(progress=False)
    # Swap the dataset under the run for one rendered at another size.
    small = tmp_path / "small.hdf5"
    collect_demos(CollectConfig(task="reach-v3", num_demos=2, output=str(small), image_size=32, steps_after_success=0), progress=False)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pth", weights_only=True)
    checkpoint["train_config"]["data"] = str(small)
    torch.save(checkpoint, run_dir / "checkpoints" / "last.pth")
    with pytest.raises(TrainSetupError, match="32px images .* trained on 64px images"):
        Trainer.resume(run_dir, steps=2)


def test_train_script_reports_user_errors_without_traceback(tiny_demo_file, tmp_path):
    done = run_main("train_act_proper", "--data", tiny_demo_file, "--chunk_size", "999", "--output_dir", str(tmp_path))
    assert done.returncode == 2 and "pass --chunk_size" in done.stderr and "Traceback" not in done.stderr
    done = run_main("train_act_proper", "--data", str(tmp_path / "none.hdf5"))
    assert done.returncode == 2 and "no such file" in done.stderr and "Traceback" not in done.stderr
    done = run_main("train_act_proper", "--data", tiny_demo_file, "--cvae_detach_images", "--output_dir", str(tmp_path))
    assert done.returncode == 2 and "needs --model modified" in done.stderr and "Traceback" not in done.stderr


def test_evaluation_during_training_selects_best_by_success(tiny_demo_file, tmp_path):
    from evaluation.rollout import EvalConfig, evaluate_checkpoint
    from evaluation.training_rollouts import TRAINING_EVAL_SEED_OFFSET, attach_rollout_eval

    config = tiny_train_config(
        tiny_demo_file, tmp_path, steps=2, val_every=2, eval_every=1, eval_episodes=2, eval_max_steps=8,
        select_best="success",
    )
    trainer = Trainer.start(config, TINY_MODEL)
    attach_rollout_eval(trainer)
    run_dir = trainer.run(progress=False)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if "eval/success_rate" in r]
    assert [r["step"] for r in evals] == [1, 2]
    assert all(0.0 <= r["eval/success_rate"] <= 1.0 and r["eval/episodes"] == 2 for r in evals)
    assert (run_dir / "checkpoints" / "best.pth").exists()
    # the checkpoint the trainer wrote is what the evaluator loads and rolls out (with a video)
    results = evaluate_checkpoint(
        run_dir / "checkpoints" / "best.pth",
        EvalConfig(episodes=2, max_steps=6, num_envs=2, video_dir=str(tmp_path / "videos"), num_videos=1),
        progress=False,
    )
    assert results["episodes"] == 2 and all(r["steps"] <= 6 for r in results["per_episode"])
    assert min(results["settings"]["seeds"]) >= TRAINING_EVAL_SEED_OFFSET - 500_000
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 1


def test_killed_training_saves_and_resumes_from_the_same_step(tiny_demo_file, tmp_path):
    """`kill` (SIGTERM) takes the Ctrl-C path: last.pth at the current step, exit 130, a resume hint."""
    import signal
    import time

    script = os.path.join(ROOT, "scripts", "train_act_proper.py")
    tiny = ["--hidden_dim", "32", "--n_heads", "2", "--dim_feedforward", "64", "--enc_layers", "1",
            "--dec_layers", "1", "--cvae_enc_layers", "1", "--latent_dim", "8", "--chunk_size", "5"]
    run_dir = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, script, "--data", tiny_demo_file, *tiny, "--steps", "100000", "--batch_size", "2",
         "--log_every", "1", "--val_every", "100000", "--device", "cpu", "--quiet", "--output_dir", str(tmp_path),
         "--run_name", "run"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    metrics = run_dir / "metrics.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and process.poll() is None:
        if metrics.exists() and metrics.read_text().count('"train/loss"') >= 3:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and f"--resume {run_dir}" in stderr
    stopped_at = load_checkpoint(run_dir / "checkpoints" / "last.pth")["step"]
    assert stopped_at >= 3 and f"interrupted at step {stopped_at}" in stderr

    resumed = subprocess.run(
        [sys.executable, script, "--resume", str(run_dir), "--steps", str(stopped_at + 2), "--quiet"],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(run_dir / "checkpoints" / "last.pth")["step"] == stopped_at + 2


def test_a_kill_during_a_checkpoint_write_waits_for_the_write(tiny_demo_file, tmp_path):
    """SIGTERM sent while last.pth is being written (a full-size model: ~0.2 GB with the optimiser)
    is held until the file is complete, then takes the scripts' Ctrl-C path (KeyboardInterrupt)."""
    import signal
    import threading
    import time

    from pipeline.cli import stop_cleanly_on_signals

    trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path), {"chunk_size": 5})
    checkpoints = trainer.run_dir / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    sent = threading.Event()

    def kill_when_the_write_starts() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not list(checkpoints.glob(".last.pth.*")):
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGTERM)
        sent.set()

    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    stop_cleanly_on_signals()
    try:
        watcher = threading.Thread(target=kill_when_the_write_starts)
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            trainer.save("last")
            watcher.join()  # only reached if the signal came after the write; then let it arrive here
            time.sleep(1)
        watcher.join()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert sent.is_set()
    assert load_checkpoint(checkpoints / "last.pth")["step"] == 0
    assert not list(checkpoints.glob(".last.pth.*"))  # no temp file left behind


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):
    from training.atomic import write_json

    mask = os.umask(0o022)
    try:
        path = write_json(tmp_path / "result.json", {"a": 1})
    finally:
        os.umask(mask)
    assert json.loads(path.read_text()) == {"a": 1}
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary file left behind


def test_privileged_state_input_trains_and_drives_the_policy_from_env_state(tiny_demo_file, tmp_path):
    """--state_input env_state (the upper-bound run): the model sees MetaWorld's 39 floats in training
    and at rollout, and result files say so."""
    from envs.metaworld_wrapper import MetaWorldEnv
    from evaluation.policy import ACTPolicy
    from evaluation.rollout import EvalConfig, evaluate, format_summary, results_markdown_table

    trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, state_input="env_state"), TINY_MODEL)
    run_dir = trainer.run(progress=False)
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pth")
    assert checkpoint["model_config"]["state_dim"] == 39
    assert checkpoint["env"]["state_input"] == "env_state" and checkpoint["env"]["qpos_dim"] == 39
    assert tuple(checkpoint["normalizer"]["qpos_mean"].shape) == (39,)
    # the windows carry the normalised env_state of their first step
    episode = read_episode(tiny_demo_file, trainer.train_episodes[0], with_images=False)
    normalizer = Normalizer.from_state_dict(checkpoint["normalizer"])
    window = trainer._train_set[3]
    expected = normalizer.normalize_qpos(torch.as_tensor(episode["env_state"][3], dtype=torch.float32))
    assert torch.allclose(window[batch_keys.QPOS], expected, atol=1e-5)

    policy = ACTPolicy.from_checkpoint(run_dir / "checkpoints" / "last.pth")
    env = MetaWorldEnv(policy.env_config(max_steps=5))
    try:
        obs = env.reset(1_000_000)
    finally:
        env.close()
    moved_object = dict(obs, env_state=obs["env_state"].copy())
    moved_object["env_state"][4:7] += 0.3  # object position: only env_state carries it
    moved_hand_only_in_qpos = dict(obs, qpos=obs["qpos"] + 0.3)
    chunk = policy.predict_chunks(*policy._batch_observations([obs]))
    assert not np.allclose(chunk, policy.predict_chunks(*policy._batch_observations([moved_object])))
    assert np.allclose(chunk, policy.predict_chunks(*policy._batch_observations([moved_hand_only_in_qpos])))

    results = evaluate(policy, EvalConfig(episodes=1, max_steps=3, num_envs=1), progress=False)
    assert results["checkpoint"]["state_input"] == "env_state"
    assert "env_state (privileged)" in format_summary(results)
    assert "env_state (privileged)" in results_markdown_table([results])


def test_unknown_state_input_is_refused(tiny_demo_file, tmp_path):
    with pytest.raises(TrainSetupError, match="state_input must be one of qpos, env_state"):
        tiny_train_config(tiny_demo_file, tmp_path, state_input="object_pos")


_BLOCK_SIMULATOR = '''
import importlib.abc, sys
class _NoSimulator(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("metaworld", "mujoco", "gymnasium"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, _NoSimulator())
'''


def test_training_needs_no_simulator(tmp_path, tiny_demo_file):
    """A GPU box with torch and h5py but no MuJoCo/MetaWorld can train from a demo file."""
    (tmp_path / "sitecustomize.py").write_text(_BLOCK_SIMULATOR)
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    env.update(PYTHONPATH=str(tmp_path), OMP_NUM_THREADS="1")
    probe = subprocess.run(
        [sys.executable, "-c", "import metaworld"], env=env, capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0  # the simulator really is out of reach
    done = subprocess.run(
        [
            sys.executable, os.path.join(ROOT, "scripts", "train_act_proper.py"), "--data", tiny_demo_file,
            "--steps", "2", "--batch_size", "2", "--hidden_dim", "32", "--dim_feedforward", "32",
            "--chunk_size", "4", "--output_dir", str(tmp_path / "runs"), "--run_name", "nosim", "--quiet",
            "--device", "cpu",
        ],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_checkpoint(tmp_path / "runs" / "nosim" / "checkpoints" / "last.pth")["step"] == 2


def test_init_weights_starts_a_run_from_a_checkpoints_weights_and_normaliser(tiny_demo_file, tiny_checkpoint, tmp_path):
    source = load_checkpoint(tiny_checkpoint)
    # seed 1: its own random initial weights differ from the checkpoint's, so equality shows the load
    trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, init_weights=tiny_checkpoint, seed=1), TINY_MODEL)
    assert trainer.step == 0
    assert all(torch.equal(value, source["model_state"][key]) for key, value in trainer.model.state_dict().items())
    # the statistics the weights were trained with, not the ones this run's split would give
    assert torch.equal(trainer.normalizer.qpos_mean, torch.as_tensor(source["normalizer"]["qpos_mean"]).float())
    fresh = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "fresh", seed=1), TINY_MODEL)
    assert not torch.equal(fresh.normalizer.qpos_mean, trainer.normalizer.qpos_mean)
    assert not all(torch.equal(value, source["model_state"][key]) for key, value in fresh.model.state_dict().items())
    run_dir = trainer.run(progress=False)
    saved = torch.load(run_dir / "checkpoints" / "last.pth", weights_only=True)
    assert saved["train_config"]["init_weights"] == tiny_checkpoint and saved["step"] == 6


@pytest.mark.parametrize(
    "overrides, model, message",
    [({}, {**TINY_MODEL, "hidden_dim": 64}, "hidden_dim"), ({"model": "modified"}, TINY_MODEL, "standard"),
     ({"init_weights": "missing.pth"}, TINY_MODEL, "no such checkpoint")],
)
def test_init_weights_refuses_another_model_or_a_missing_file(tiny_demo_file, tiny_checkpoint, tmp_path, overrides, model, message):
    config = tiny_train_config(tiny_demo_file, tmp_path, **{"init_weights": tiny_checkpoint, **overrides})
    with pytest.raises(TrainSetupError, match=message):
        Trainer.start(config, model)


def test_huber_action_loss_trains_on_it_logs_the_l1_and_is_saved(tiny_demo_file, tmp_path):
    run_dir = Trainer.start(
        tiny_train_config(tiny_demo_file, tmp_path, action_loss="huber", huber_delta=0.5), TINY_MODEL
    ).run(progress=False)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if '"train/loss"' in line]
    # an untrained model misses by more than 0.5 on many entries and by less on others: the Huber
    # loss (plus a KL term) differs from the L1 logged beside it
    assert all(line["train/loss"] != pytest.approx(line["train/l1"], rel=1e-3) for line in lines)
    saved = torch.load(run_dir / "checkpoints" / "last.pth", weights_only=True)
    assert saved["train_config"]["action_loss"] == "huber" and saved["train_config"]["huber_delta"] == 0.5


def test_tensorboard_logger_writes_the_metrics_scalars_and_a_rollout_frame(tiny_demo_file, tmp_path):
    """--logger tensorboard: every scalar of metrics.jsonl under the same tag and step, the rollout
    success rate, and a frame of the rollout video; read back from the event file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from evaluation.training_rollouts import attach_rollout_eval

    config = tiny_train_config(tiny_demo_file, tmp_path, logger="tensorboard", eval_every=3, eval_episodes=1,
                               eval_max_steps=3)
    trainer = Trainer.start(config, TINY_MODEL)
    attach_rollout_eval(trainer)
    run_dir = trainer.run(progress=False)
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    with open(run_dir / "metrics.jsonl") as f:
        records = [json.loads(line) for line in f]
    for tag in ("train/l1", "train/kl", "val/loss", "eval/success_rate", "perf/steps_per_s"):
        logged = {r["step"]: r[tag] for r in records if tag in r}
        read = {event.step: event.value for event in events.Scalars(tag)}  # float32 in the event file
        assert logged and read == {step: pytest.approx(value, rel=1e-6) for step, value in logged.items()}, tag
    frames = events.Images("eval/rollout_frame")
    assert [image.step for image in frames] == [3, 6] and frames[0].width == frames[0].height > 0
    assert list((run_dir / "videos").glob("rollouts_step_000003/*.mp4"))
