"""Files the project writes are never shared by two writers, never outside the folder the user named,
never overwritten without a flag, and describe what they hold (real files, real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from conftest import run_main
from test_training import TINY_MODEL, tiny_train_config

from training.checkpoint import load_checkpoint
from training.trainer import Trainer, TrainSetupError

ROOT = Path(__file__).resolve().parent.parent


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env)


@pytest.mark.parametrize("name", ["../../escape", "a/b", ".hidden", ".."])
def test_a_run_name_cannot_leave_the_output_folder(tiny_demo_file, tmp_path, name):
    with pytest.raises(TrainSetupError, match="plain folder name"):
        Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, run_name=name), TINY_MODEL)
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


def test_a_second_training_into_a_run_folder_is_refused_before_the_first_checkpoint(tiny_demo_file, tmp_path):
    first = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path), TINY_MODEL)
    # the first one holds the folder (its lock) and has written config.json, but no last.pth yet
    assert not (first.run_dir / "checkpoints" / "last.pth").exists()
    with pytest.raises(TrainSetupError, match="another training is writing"):
        Trainer.start(tiny_train_config(tiny_demo_file, tmp_path), TINY_MODEL)
    first.run(progress=False)
    # once it is done the folder is a finished run: a new start is refused, resume is the way on
    with pytest.raises(TrainSetupError, match="already holds a run"):
        Trainer.start(tiny_train_config(tiny_demo_file, tmp_path), TINY_MODEL)
    steps = [json.loads(line)["step"] for line in (first.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # one writer: no interleaved lines


def test_a_run_without_validation_split_has_no_best_checkpoint(tiny_demo_file, tmp_path):
    run_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, val_fraction=0.0), TINY_MODEL).run(progress=False)
    assert (run_dir / "checkpoints" / "last.pth").exists()
    assert not (run_dir / "checkpoints" / "best.pth").exists()


def test_average_refuses_to_overwrite_and_to_mix_runs(tiny_demo_file, tmp_path):
    runs = [
        Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, run_name=name, save_every=3), TINY_MODEL).run(progress=False)
        for name in ("a", "b")
    ]
    victim = runs[1] / "checkpoints" / "last.pth"
    before = victim.read_bytes()
    done = run_script("scripts/average_checkpoints.py", "--run", str(runs[0]), "--steps", "3", "6", "--output", str(victim))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "--overwrite" in done.stderr
    assert victim.read_bytes() == before
    mixed = run_script("scripts/average_checkpoints.py", "--checkpoints", str(runs[0] / "checkpoints" / "step_000006.pth"),
                       str(runs[1] / "checkpoints" / "step_000006.pth"), "--output", str(tmp_path / "mixed.pth"))
    assert mixed.returncode == 2 and "one run only" in mixed.stderr and "Traceback" not in mixed.stderr
    assert not (tmp_path / "mixed.pth").exists()


def test_demo_files_record_the_installed_metaworld_version(tiny_demo_file):
    import importlib.metadata

    with h5py.File(tiny_demo_file, "r") as f:
        assert f.attrs["metaworld_version"] == importlib.metadata.version("metaworld") != "unknown"


def test_resume_refuses_flags_that_would_change_the_run_and_a_step_target_already_passed(tiny_demo_file, tmp_path):
    run_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path), TINY_MODEL).run(progress=False)
    before = (run_dir / "checkpoints" / "last.pth").read_bytes()
    for flags in (["--lr", "5"], ["--batch_size", "7"], ["--data", str(tmp_path / "other.hdf5")]):
        done = run_main("scripts/train_act_proper.py", "--resume", str(run_dir), *flags, "--quiet")
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: --resume continues a run") and flags[0] in done.stderr
        assert "Traceback" not in done.stderr
    done = run_main("scripts/train_act_proper.py", "--resume", str(run_dir), "--steps", "3", "--quiet")
    assert done.returncode == 2 and "past --steps 3" in done.stderr
    assert (run_dir / "checkpoints" / "last.pth").read_bytes() == before
    done = run_script("scripts/train_act_proper.py", "--resume", str(run_dir), "--steps", "8", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "resuming with steps = 8 (was 6)" in done.stdout


def test_an_output_folder_that_cannot_be_made_is_one_error_line(tiny_demo_file, tiny_checkpoint, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    calls = [
        ["scripts/collect_act_demos.py", "--task", "reach-v3", "--num_demos", "1", "--image_size", "32",
         "--output", str(blocker / "demos.hdf5"), "--quiet"],
        ["scripts/train_act_proper.py", "--data", tiny_demo_file, "--steps", "1", "--output_dir", str(blocker),
         "--quiet"],
        ["scripts/evaluate_act_proper.py", "--checkpoint", tiny_checkpoint, "--episodes", "1", "--max_steps", "2",
         "--output", str(blocker / "result.json"), "--quiet"],
        ["scripts/evaluate_act_proper.py", "--checkpoint", tiny_checkpoint, "--episodes", "1", "--max_steps", "2",
         "--video_dir", str(blocker / "videos"), "--quiet"],
        ["scripts/average_checkpoints.py", "--checkpoints", tiny_checkpoint, tiny_checkpoint,
         "--output", str(blocker / "avg.pth")],
        ["scripts/record_videos.py", "--dataset", tiny_demo_file, "--num_videos", "1", "--output_dir", str(blocker / "v")],
        ["scripts/reproduce.py", "--config", "configs/quickstart.toml", "--model", "standard", "--root", str(blocker)],
    ]
    for call in calls:
        done = run_main(*call)
        assert done.returncode == 2, (call, done.stderr)
        assert done.stderr.strip().startswith("error: ") and "Traceback" not in done.stderr, done.stderr


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch ran_code_marker",))


def test_a_pickle_that_would_run_code_is_refused_without_advice_to_unsafe_load(tmp_path):
    import torch

    from training.checkpoint import CheckpointError, load_checkpoint

    hostile = tmp_path / "hostile.pth"
    torch.save({"format_version": 1, "payload": _RunsCode()}, hostile)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(hostile)
    finally:
        os.chdir(cwd)
    assert "would run as code" in str(refused.value) and "weights_only=False" not in str(refused.value)
    assert not (tmp_path / "ran_code_marker").exists()
    done = run_script("scripts/evaluate_act_proper.py", "--checkpoint", str(hostile), "--episodes", "1")
    assert done.returncode == 2 and "would run as code" in done.stderr and "Traceback" not in done.stderr


def test_twenty_sigints_at_random_points_resume_to_the_uninterrupted_weights(tiny_demo_file, tmp_path):
    """SIGINT is sent at 20 seeded random moments of training (inside steps, validation passes and
    checkpoint writes); each time the run saves, stops and is resumed. The final weights and
    optimiser state equal an uninterrupted run's bit for bit."""
    import random
    import signal
    import threading

    import torch

    steps = 40
    config = {"steps": steps, "val_every": 7, "log_every": 3}
    straight = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "straight", **config), TINY_MODEL)
    straight.run(progress=False)

    armed = threading.Event()

    def on_sigint(signum, frame):
        if armed.is_set():  # an interrupt meant for a run that has already finished is dropped
            armed.clear()
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    delays = random.Random(20261203)
    interrupted = []
    try:
        trainer = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path / "stopped", **config), TINY_MODEL)
        while True:
            timer = None
            if len(interrupted) < 20:
                armed.set()
                timer = threading.Timer(delays.uniform(0.0, 0.25), os.kill, (os.getpid(), signal.SIGINT))
                timer.start()
            try:
                trainer.run(progress=False)
                finished = True
            except KeyboardInterrupt:
                interrupted.append(trainer.step)
                finished = False
            armed.clear()
            if timer is not None:
                timer.cancel()
                timer.join()
            if finished:
                break
            trainer = Trainer.resume(trainer.run_dir, expected_model="standard")
    except KeyboardInterrupt:
        pytest.fail(f"a SIGINT escaped the run's save-and-stop path after {len(interrupted)} interrupts")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(interrupted) >= 15  # most timers fired inside the run, not after it ended
    assert len(set(interrupted)) > 5  # at many different steps
    final = load_checkpoint(trainer.run_dir / "checkpoints" / "last.pth")
    reference = load_checkpoint(straight.run_dir / "checkpoints" / "last.pth")
    assert final["step"] == reference["step"] == steps
    for name, tensor in reference["model_state"].items():
        assert torch.equal(final["model_state"][name], tensor), name
    for index, state in reference["optimizer_state"]["state"].items():
        for key, value in state.items():
            assert torch.equal(final["optimizer_state"]["state"][index][key], value), (index, key)


def test_a_resume_removes_what_a_killed_checkpoint_write_left(tiny_demo_file, tmp_path):
    """kill -9 during torch.save leaves the atomic write's temporary file; the next trainer of the
    folder (holding its lock, so no write is in progress) deletes it."""
    run_dir = Trainer.start(tiny_train_config(tiny_demo_file, tmp_path, steps=3), TINY_MODEL).run(progress=False)
    leftovers = [run_dir / "checkpoints" / ".best.pth.k3j2_x.tmp", run_dir / ".config.json.a1b2.tmp"]
    for path in leftovers:
        path.write_bytes(b"\0" * 1024)
    kept = run_dir / "checkpoints" / "notes.tmp"  # not an atomic write's name: left alone
    kept.write_text("mine")
    resumed = Trainer.resume(run_dir, expected_model="standard", steps=4)
    assert not any(path.exists() for path in leftovers) and kept.exists()
    resumed.run(progress=False)


def test_an_evaluation_does_not_overwrite_a_finished_result_file(tiny_checkpoint, tmp_path):
    output = tmp_path / "result.json"
    args = ["scripts/evaluate_act_proper.py", "--checkpoint", tiny_checkpoint, "--episodes", "1", "--max_steps", "2",
            "--output", str(output), "--quiet"]
    assert run_main(*args).returncode == 0
    first = output.read_bytes()
    again = run_main(*args)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "--overwrite" in again.stderr
    assert output.read_bytes() == first
    assert run_main(*args, "--overwrite").returncode == 0
