"""The one-command recipe (scripts/reproduce_shelf_place.sh) end to end at smoke-test size."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import h5py
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_recipe_goes_from_nothing_to_result_files(tmp_path):
    """Collects, trains and evaluates (both modes) into OUT_DIR with ablation overrides, then resumes
    the finished run with more steps on a second call instead of starting over."""
    env = dict(
        os.environ, OUT_DIR=str(tmp_path), NUM_DEMOS="2", STEPS="2", EPISODES="1", TA_EPISODES="1", MAX_STEPS="3",
        NUM_ENVS="1", DEVICE="cpu", CAMERAS="behindGripper", IMAGE_SIZE="64", SHIFT="2", CHUNK="5", BATCH="2",
        AMP="bf16", EMA="0.99", LR_SCHEDULE="cosine", OMP_NUM_THREADS="1", AVERAGE="2", SNAPSHOT_EVERY="1", SEED="1",
        CVAE_DETACH="1", VAL_FRACTION="0",
    )
    script = os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh")
    done = subprocess.run(["bash", script, "modified"], env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # on a CPU, shelf-place-v3 defaults to the grasp-hold expert's demos (GRASP_DEPTH=0.015 GRASP_HOLD=10)
    # and to the L2 action loss (ACTION_LOSS=l2)
    tag = "shelf-place-v3__modified__behindGripper-64-deep0.015-hold10-shift2-chunk5-b2-bf16-ema0.99-cos-val0-l2-cvaedetach__seed1__2steps__avg1-2"
    data = tmp_path / "data" / "shelf-place-v3__behindGripper-64-deep0.015-hold10.hdf5"
    with h5py.File(data, "r") as demos:
        assert demos.attrs["grasp_hold"] == 10 and demos.attrs["grasp_depth"] == 0.015
    run = tmp_path / "runs" / "shelf-place-v3__modified__recipe__behindGripper-64-deep0.015-hold10-shift2-chunk5-b2-bf16-ema0.99-cos-val0-l2-cvaedetach__seed1"
    checkpoint = torch.load(run / "checkpoints" / "last.pth", weights_only=True)
    assert checkpoint["step"] == 2 and checkpoint["model_kind"] == "modified"
    assert checkpoint["train_config"]["augment_shift"] == 2 and checkpoint["model_config"]["hidden_dim"] == 256
    assert checkpoint["model_config"]["chunk_size"] == 5 and checkpoint["train_config"]["batch_size"] == 2
    assert checkpoint["train_config"]["amp"] == "bf16" and checkpoint["train_config"]["ema_decay"] == 0.99
    assert checkpoint["train_config"]["lr_schedule"] == "cosine" and checkpoint["train_config"]["action_loss"] == "l2"
    assert checkpoint["model_config"]["cvae_image_grad"] is False
    # VAL_FRACTION=0 trains on every demo: none is held out for the validation loss
    assert checkpoint["train_config"]["val_fraction"] == 0 and list(checkpoint["val_episodes"]) == []
    assert sorted(checkpoint["train_episodes"]) == [0, 1]
    assert "train_model_state" in checkpoint  # the moving average is model_state, the trained weights beside it
    for mode, temporal_agg in (("chunk", False), ("ta", True)):
        result = json.loads((tmp_path / "results" / f"{tag}__{mode}.json").read_text())
        assert result["episodes"] == 1 and result["settings"]["temporal_agg"] is temporal_agg
        assert result["checkpoint"]["cameras"] == ["behindGripper"] and result["checkpoint"]["image_size"] == 64
        assert result["per_episode"][0]["steps"] <= 3
        # the evaluated weights are the mean of the last AVERAGE snapshots
        assert [source["step"] for source in result["checkpoint"]["averaged_from"]] == [1, 2]
    assert "device cpu: 2 steps at batch 2, bf16 autocast, OMP_NUM_THREADS=1" in done.stdout
    assert "cameras behindGripper at 64 px, chunk 5, demos: grasp depth 0.015, grasp hold 10" in done.stdout
    assert "| modified |" in done.stdout and "exists, skipping collection" not in done.stdout

    # an identical rerun finds every stage done: nothing is collected, trained or evaluated again
    written = {path: path.stat().st_mtime_ns for path in (tmp_path / "results").glob(f"{tag}__*.json")}
    same = subprocess.run(["bash", script, "modified"], env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert same.returncode == 0, same.stdout[-2000:] + same.stderr[-2000:]
    assert same.stdout.count("exists, skipping this evaluation") == 2 and "| modified |" in same.stdout
    assert len(written) == 2 and all(path.stat().st_mtime_ns == ns for path, ns in written.items())

    again = subprocess.run(
        ["bash", script, "modified"], env=dict(env, STEPS="3", EPISODES="0", TA_EPISODES="0"), capture_output=True, text=True, check=False,
        timeout=900,
    )
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "exists, skipping collection" in again.stdout and "trained only" in again.stdout
    assert not list((tmp_path / "results").glob("*__3steps__*.json"))
    assert torch.load(run / "checkpoints" / "last.pth", weights_only=True)["step"] == 3
    assert (run / "checkpoints" / "avg_2-3.pth").is_file()


def test_recipe_refuses_an_average_longer_than_the_run(tmp_path):
    env = dict(os.environ, OUT_DIR=str(tmp_path), STEPS="2", DEVICE="cpu")  # AVERAGE 5 snapshots, 1000 apart
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh"), "standard"], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 2 and "set AVERAGE=1" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any work


def test_cpu_step_budget_is_12000_steps(tmp_path):
    # an AVERAGE one snapshot too long for the default budget makes the recipe name that budget and stop
    script = os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh")
    for task, steps in (("shelf-place-v3", 12000), ("reach-v3", 12000)):
        env = dict(os.environ, OUT_DIR=str(tmp_path), DEVICE="cpu", AVERAGE=str(steps // 1000 + 1))
        env.pop("STEPS", None)
        done = subprocess.run(["bash", script, "standard", task], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 2 and f"needs STEPS ({steps})" in done.stderr, (task, done.stderr)
    assert not (tmp_path / "data").exists()


def test_recipe_refuses_an_unknown_model():
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh"), "bigger"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "usage:" in done.stderr


def test_recipe_refuses_cvae_detach_for_the_standard_model(tmp_path):
    env = dict(os.environ, OUT_DIR=str(tmp_path), DEVICE="cpu", CVAE_DETACH="1")
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh"), "standard"], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 2 and "CVAE_DETACH=1 needs the modified model" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any work


def test_recipe_refuses_a_val_fraction_outside_0_to_1(tmp_path):
    env = dict(os.environ, OUT_DIR=str(tmp_path), DEVICE="cpu", VAL_FRACTION="1")
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh"), "standard"], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 2 and "VAL_FRACTION must be a number in [0, 1)" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any work


def test_recipe_refuses_an_unknown_lr_schedule(tmp_path):
    env = dict(os.environ, OUT_DIR=str(tmp_path), DEVICE="cpu", LR_SCHEDULE="linear")
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh"), "standard"], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 2 and "LR_SCHEDULE must be constant or cosine" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before any work


def test_two_recipe_calls_side_by_side_collect_the_demos_once(tmp_path):
    """Standard and Modified started at once share one demo file: one call collects it, the other
    waits for that collection instead of writing the same file, and both then train on it."""
    env = dict(
        os.environ, OUT_DIR=str(tmp_path), NUM_DEMOS="2", STEPS="1", AVERAGE="1", EPISODES="0", TA_EPISODES="0",
        DEVICE="cpu", CAMERAS="behindGripper", IMAGE_SIZE="64", CHUNK="5", BATCH="2", AMP="off", OMP_NUM_THREADS="1",
    )
    script = os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh")
    calls = [
        subprocess.Popen(["bash", script, model], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for model in ("standard", "modified")
    ]
    outputs = [call.communicate(timeout=900) for call in calls]
    for call, (stdout, stderr) in zip(calls, outputs, strict=True):
        assert call.returncode == 0, stdout[-2000:] + stderr[-2000:]
    stdouts = [stdout for stdout, _ in outputs]
    assert sum("exists, skipping collection" in stdout for stdout in stdouts) == 1
    assert sum("collect shelf-place-v3" in stderr for _, stderr in outputs) == 1  # one progress bar
    data = tmp_path / "data" / "shelf-place-v3__behindGripper-64-deep0.015-hold10.hdf5"
    with h5py.File(data, "r") as demos:
        assert demos.attrs["complete"] and sorted(demos) == ["episode_000000", "episode_000001"]
    # shelf-place-v3 on a CPU: every demo trains (VAL_FRACTION=0) under the L2 action loss, and
    # modified's CVAE encoder reads the image tokens detached (CVAE_DETACH=1)
    for model, detach_tag in (("standard", ""), ("modified", "-cvaedetach")):
        run = tmp_path / "runs" / f"shelf-place-v3__{model}__recipe__behindGripper-64-deep0.015-hold10-shift4-chunk5-b2-val0-l2{detach_tag}__seed0"
        checkpoint = torch.load(run / "checkpoints" / "last.pth", weights_only=True)
        assert checkpoint["step"] == 1 and checkpoint["train_config"]["action_loss"] == "l2"
        assert checkpoint["train_config"]["val_fraction"] == 0
    assert checkpoint["model_config"]["cvae_image_grad"] is False


def test_cpu_recipe_trains_other_tasks_under_l2_on_all_demos_with_the_plain_expert(tmp_path):
    """Off shelf-place-v3 the CPU recipe keeps L2 and VAL_FRACTION=0 (measured on three more tasks)
    but neither the grasp-hold expert nor chunks of 10, which only shelf-place-v3 was measured with."""
    env = dict(
        os.environ, OUT_DIR=str(tmp_path), NUM_DEMOS="2", STEPS="1", AVERAGE="1", EPISODES="0", TA_EPISODES="0",
        DEVICE="cpu", CAMERAS="behindGripper", IMAGE_SIZE="64", BATCH="2", AMP="off", OMP_NUM_THREADS="1",
    )
    for name in ("ACTION_LOSS", "VAL_FRACTION", "CHUNK", "GRASP_DEPTH", "GRASP_HOLD", "CVAE_DETACH"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", os.path.join(ROOT, "scripts", "reproduce_shelf_place.sh"), "modified", "reach-v3"], env=env,
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (tmp_path / "data" / "reach-v3__behindGripper-64.hdf5").exists()
    run = tmp_path / "runs" / "reach-v3__modified__recipe__behindGripper-64-shift4-b2-val0-l2-cvaedetach__seed0"
    checkpoint = torch.load(run / "checkpoints" / "last.pth", weights_only=True)
    assert checkpoint["train_config"]["action_loss"] == "l2" and checkpoint["train_config"]["val_fraction"] == 0
    assert checkpoint["model_config"]["chunk_size"] == 50 and checkpoint["model_config"]["cvae_image_grad"] is False


def test_editing_the_recipe_during_a_run_does_not_change_the_running_call(tmp_path):
    """bash reads a script as it runs it; the recipe is one brace group, parsed whole before it starts,
    so a file rewritten in place mid-run (an edit, a pull) does not make the running call execute
    fragments of the new text."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in os.listdir(ROOT):
        if name not in ("scripts", ".git"):
            os.symlink(os.path.join(ROOT, name), repo / name)
    for name in os.listdir(os.path.join(ROOT, "scripts")):
        if name != "reproduce_shelf_place.sh":
            os.symlink(os.path.join(ROOT, "scripts", name), repo / "scripts" / name)
    recipe = repo / "scripts" / "reproduce_shelf_place.sh"
    original = Path(ROOT, "scripts", "reproduce_shelf_place.sh").read_text()
    recipe.write_text(original)
    env = dict(
        os.environ, OUT_DIR=str(tmp_path / "out"), NUM_DEMOS="2", STEPS="1", AVERAGE="1", EPISODES="0",
        TA_EPISODES="0", DEVICE="cpu", CAMERAS="behindGripper", IMAGE_SIZE="64", CHUNK="5", BATCH="2", AMP="off",
        OMP_NUM_THREADS="1",
    )
    call = subprocess.Popen(["bash", str(recipe), "standard"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    for line in call.stdout:
        if line.startswith("== 1/4"):  # the call is running: rewrite the file in place, shifted by 4 kB
            with open(recipe, "w") as same_inode:
                same_inode.write("#" * 4000 + "\n" + original)
            break
    stdout, stderr = call.communicate(timeout=900)
    assert call.returncode == 0, stdout[-2000:] + stderr[-2000:]
    assert "trained only" in stdout and "command not found" not in stderr
