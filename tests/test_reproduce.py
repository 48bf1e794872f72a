"""The recipe runner (scripts/reproduce.py, pipeline/runner.py) end to end at smoke-test size, with real processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import run_main

from envs.hdf5_demos import file_sha256

ROOT = Path(__file__).resolve().parent.parent
TINY = ["collect.num_demos=2", "collect.image_size=64", "collect.workers=1", "model.hidden_dim=32", "model.n_heads=2",
        "model.dim_feedforward=64", "model.enc_layers=1", "model.cvae_enc_layers=1", "model.chunk_size=5",
        "train.batch_size=2", "train.save_every=1", "train.val_every=2", "eval.episodes=1", "eval.max_steps=3",
        "eval.num_envs=1", "eval.num_videos=0"]


def reproduce(root: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "scripts/reproduce.py", "--config", "configs/shelf_place_cpu.toml", "--root", str(root),
               "--quiet", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"})


def test_a_recipe_goes_from_nothing_to_results_and_a_rerun_redoes_nothing(tmp_path):
    overrides = [*TINY, "train.steps=3", "top.average_last=2"]
    done = reproduce(tmp_path, "--model", "modified", "--split", "test", *overrides)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = sorted((tmp_path / "results").glob("*.json"))
    names = [path.name for path in results]
    assert len(names) == 2 and all(name.startswith("shelf-place-v3__modified__shelf_place_cpu__") for name in names)
    run_dir = next((tmp_path / "runs").iterdir())
    # <run name>__<hash of the eval overrides>__<split>__<mode>.json
    prefix = names[0][: -len("__test__chunk.json")]
    assert prefix.startswith(run_dir.name + "__") and names == [f"{prefix}__test__chunk.json", f"{prefix}__test__ta.json"]
    data = next((tmp_path / "data").glob("*.hdf5"))
    for path in results:
        result = json.loads(path.read_text())
        assert result["settings"]["split"] == "test" and result["episodes"] == 1
        # the resolved recipe, the checkpoint's training settings and where they came from
        assert result["recipe"]["recipe"] == "shelf_place_cpu" and result["recipe"]["overrides"]["train.steps"] == 3
        assert result["recipe"]["model_settings"]["cvae_image_grad"] is False  # the recipe's [modified.model]
        checkpoint = result["checkpoint"]
        assert [source["step"] for source in checkpoint["averaged_from"]] == [2, 3]
        assert checkpoint["train_config"]["action_loss"] == "l2" and checkpoint["train_config"]["steps"] == 3
        provenance = checkpoint["provenance"]
        assert provenance["demo"]["sha256"] == file_sha256(data)
        assert provenance["demo"]["attributes"]["grasp_hold"] == 10
        assert len(provenance["code"]["commit"]) == 40 and isinstance(provenance["code"]["dirty"], bool)
        assert checkpoint["train_wall_s"] > 0
    assert json.loads((run_dir / "recipe.json").read_text())["train"]["steps"] == 3
    assert set(json.loads((run_dir / "timings.json").read_text())) == {"collect", "train", "eval_test_chunk",
                                                                        "eval_test_ta"}

    written = {path: path.stat().st_mtime_ns for path in [*results, data, run_dir / "checkpoints" / "last.pth"]}
    again = reproduce(tmp_path, "--model", "modified", "--split", "test", *overrides)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "exists, skipping collection" in again.stdout and "skipping training" in again.stdout
    assert again.stdout.count("exists, skipping this evaluation") == 2
    assert all(path.stat().st_mtime_ns == ns for path, ns in written.items())

    # other evaluation seeds and another number of environments keep the run: only new results
    other = reproduce(tmp_path, "--model", "modified", "--split", "validation", *overrides, "eval.num_envs=2")
    assert other.returncode == 0, other.stderr[-2000:]
    assert "skipping training" in other.stdout
    assert sorted(path.name for path in (tmp_path / "results").glob("*__validation__*.json")) == [
        f"{prefix}__validation__chunk.json", f"{prefix}__validation__ta.json"]
    # each split's evaluations are timed apart, so a row's end-to-end time counts only its own
    timings = json.loads((run_dir / "timings.json").read_text())
    assert {"eval_test_chunk", "eval_test_ta", "eval_validation_chunk", "eval_validation_ta"} <= set(timings)
    from evaluation.report import headline_table

    rows = headline_table([json.loads(path.read_text()) for path in (tmp_path / "results").glob("*.json")])
    test_row = next(line for line in rows.splitlines() if "| test |" in line)
    validation_result = json.loads((tmp_path / "results" / f"{prefix}__validation__ta.json").read_text())
    assert validation_result["timings_s"]["eval_test_chunk"] == timings["eval_test_chunk"]
    assert test_row.split("|")[-3].strip().endswith("min")  # collection + training + the two test evaluations


def test_a_killed_recipe_continues_its_training_where_it_stopped(tmp_path):
    # long enough to be stopped after its first checkpoint (step 5), short enough to finish quickly on the rerun
    overrides = [*TINY, "train.steps=60", "train.val_every=5", "train.save_every=0", "top.average_last=1",
                 "top.modes=[\"chunk\"]"]
    command = [sys.executable, "scripts/reproduce.py", "--config", "configs/shelf_place_cpu.toml", "--root",
               str(tmp_path), "--quiet", "--model", "standard", *overrides]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 300
    last = None
    while time.time() < deadline and process.poll() is None:
        found = list((tmp_path / "runs").glob("*/checkpoints/last.pth")) if (tmp_path / "runs").exists() else []
        if found:
            last = found[0]
            break
        time.sleep(0.2)
    assert last is not None, "training never saved a checkpoint"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "rerun the same command" in stderr
    stopped_at = torch.load(last, weights_only=True)["step"]
    assert 5 <= stopped_at < 60
    done = reproduce(tmp_path, "--model", "standard", *overrides)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming at step {stopped_at}" in done.stdout
    assert torch.load(last, weights_only=True)["step"] == 60


def test_a_demo_file_collected_otherwise_is_refused_not_reused(tiny_demo_file, tmp_path):
    overrides = [*TINY, "train.steps=2", "top.average_last=1"]
    (tmp_path / "data").mkdir()
    # what the recipe would name its file, but collected without the recipe's grasp-hold expert
    names = subprocess.run([sys.executable, "-c", (
        "from pipeline.recipe import load_recipe; import sys; "
        f"print(load_recipe('configs/shelf_place_cpu.toml', 'standard', overrides={overrides!r}).data_name)")],
        cwd=ROOT, capture_output=True, text=True, check=True)
    shutil.copy(tiny_demo_file, tmp_path / "data" / names.stdout.strip())
    done = reproduce(tmp_path, "--model", "standard", *overrides)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "collected with other settings" in done.stderr and "collect.grasp_hold" in done.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*/checkpoints"))


def test_a_recipe_mistake_is_one_error_line_before_any_work(tmp_path):
    for args, message in ((["--model", "standard", "top.average_last=13"], "average"),
                          (["--model", "standard", "--task", "no-such-v3"], "no-such-v3"),
                          (["--model", "standard", "--task", "shelf-place-v3,no-such-v3"], "no-such-v3"),  # all first
                          (["--model", "standard", "train.stepz=1"], "unknown setting 'stepz'")):
        done = run_main("reproduce", "--config", "configs/shelf_place_cpu.toml", "--root", str(tmp_path), *args)
        assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_several_tasks_run_in_turn_and_a_task_set_names_its_tasks(tmp_path):
    from envs.task_sets import MT10, VERY_HARD, expand_tasks

    assert expand_tasks(["very-hard"]) == list(VERY_HARD) and expand_tasks(["mt10", "reach-v3"]) == list(MT10)
    assert expand_tasks(["Very_Hard", "reach-v3"]) == [*VERY_HARD, "reach-v3"]
    tasks = ["drawer-close-v3", "window-close-v3"]
    done = run_main("reproduce", "--config", "configs/metaworld_cpu.toml", "--root", str(tmp_path), "--quiet",
                    "--model", "standard", "--task", ",".join(tasks), *TINY, "train.steps=2", "top.average_last=1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "=== task 1/2: drawer-close-v3" in done.stdout and "=== task 2/2: window-close-v3" in done.stdout
    names = sorted(path.name.split("__")[0] for path in (tmp_path / "results").glob("*.json"))
    assert names == sorted(tasks * 2)  # both modes of both tasks
    assert sorted(path.name.split("__")[0] for path in (tmp_path / "runs").iterdir()) == sorted(tasks)

