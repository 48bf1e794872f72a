#!/usr/bin/env python
"""Adversarial inputs and faults against the entry points, at tiny sizes; prints a markdown table.

    python experiments/2026-12-03_adversarial/run.py > experiments/2026-12-03_adversarial/table.md

Each row runs one real command in a fresh temporary folder and records its exit code, the first line
it wrote to stderr, whether a traceback was printed, and whether a file that existed before is intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}


def sh(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="adversarial_"))
    demos = work / "demos.hdf5"
    made = sh("scripts/collect_act_demos.py", "--task", "shelf-place-v3", "--num_demos", "2", "--image_size", "64",
              "--steps_after_success", "3", "--output", str(demos), "--quiet")
    assert made.returncode == 0, made.stderr
    tiny = ["--hidden_dim", "32", "--n_heads", "2", "--dim_feedforward", "64", "--enc_layers", "1",
            "--cvae_enc_layers", "1", "--chunk_size", "5", "--batch_size", "2", "--val_every", "2", "--quiet"]
    trained = sh("scripts/train_act_proper.py", "--data", str(demos), "--steps", "4", "--output_dir", str(work / "runs"),
                 "--run_name", "r", "--save_every", "2", *tiny)
    assert trained.returncode == 0, trained.stderr
    run = work / "runs" / "r"
    last = run / "checkpoints" / "last.pth"
    result = work / "result.json"
    evaluated = sh("scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--episodes", "1", "--max_steps", "2",
                   "--output", str(result), "--quiet")
    assert evaluated.returncode == 0, evaluated.stderr
    blocker = work / "a_file"
    blocker.write_text("not a folder")
    (work / "garbage.pth").write_bytes(os.urandom(4096))
    (work / "truncated.pth").write_bytes(last.read_bytes()[:5000])
    (work / "bad.toml").write_text("[train]\nbatch_sise = 3\n")
    (work / "broken.toml").write_text("[train\nsteps = 3\n")
    (work / "not.hdf5").write_text("hello")
    guarded = {"demo file": demos, "last.pth": last, "result": result}
    before = {name: digest(path) for name, path in guarded.items()}

    cases = [
        ("collect: unknown task", ["scripts/collect_act_demos.py", "--task", "shelf-plce-v3"]),
        ("collect: camera that does not exist", ["scripts/collect_act_demos.py", "--cameras", "nosuchcam", "--output", str(work / "x.hdf5")]),
        ("collect: image size 8", ["scripts/collect_act_demos.py", "--image_size", "8"]),
        ("collect: --num_demos -3", ["scripts/collect_act_demos.py", "--num_demos", "-3"]),
        ("collect: output exists (no --overwrite)", ["scripts/collect_act_demos.py", "--task", "shelf-place-v3", "--num_demos", "2", "--image_size", "64", "--output", str(demos)]),
        ("collect: output folder is a file", ["scripts/collect_act_demos.py", "--num_demos", "1", "--output", str(blocker / "d.hdf5"), "--quiet"]),
        ("collect: seed in the validation range", ["scripts/collect_act_demos.py", "--seed", "1000000", "--output", str(work / "v.hdf5")]),
        ("collect: --grasp_hold on reach-v3", ["scripts/collect_act_demos.py", "--task", "reach-v3", "--grasp_hold", "10", "--output", str(work / "g.hdf5")]),
        ("collect: --action_noise 5", ["scripts/collect_act_demos.py", "--action_noise", "5", "--output", str(work / "n.hdf5")]),
        ("collect: Ctrl-C mid-collection, then --resume", ["-c", "import subprocess, sys, time, signal; a = [sys.executable, 'scripts/collect_act_demos.py', '--task', 'reach-v3', '--num_demos', '60', '--image_size', '32', '--output', sys.argv[1], '--quiet']; p = subprocess.Popen(a, stderr=subprocess.DEVNULL); time.sleep(8); p.send_signal(signal.SIGINT); p.wait(); q = subprocess.run(a + ['--resume'], capture_output=True, text=True); sys.stderr.write(q.stderr); sys.exit(q.returncode)", str(work / "interrupted.hdf5")]),
        ("collect: --resume with nothing to resume", ["scripts/collect_act_demos.py", "--resume", "--output", str(work / "none.hdf5"), "--num_demos", "1", "--image_size", "64", "--quiet"]),
        ("train: data file missing", ["scripts/train_act_proper.py", "--data", str(work / "missing.hdf5")]),
        ("train: data file is not HDF5", ["scripts/train_act_proper.py", "--data", str(work / "not.hdf5")]),
        ("train: camera not in the file", ["scripts/train_act_proper.py", "--data", str(demos), "--cameras", "topview", "--chunk_size", "5"]),
        ("train: chunk longer than every episode", ["scripts/train_act_proper.py", "--data", str(demos), "--chunk_size", "5000", "--output_dir", str(work / "runs2")]),
        ("train: hidden_dim not divisible by heads", ["scripts/train_act_proper.py", "--data", str(demos), "--hidden_dim", "30", "--chunk_size", "5", "--output_dir", str(work / "runs2")]),
        ("train: --lr -1", ["scripts/train_act_proper.py", "--lr", "-1"]),
        ("train: --run_name ../../escape", ["scripts/train_act_proper.py", "--data", str(demos), "--run_name", "../../escape", "--chunk_size", "5", "--output_dir", str(work / "runs2")]),
        ("train: two trainings into one run folder", ["-c", "import subprocess, sys; a = [sys.executable, 'scripts/train_act_proper.py', '--data', sys.argv[1], '--steps', '5000', '--output_dir', sys.argv[2], '--run_name', 'twice', *sys.argv[3:]]; p = subprocess.Popen(a, stderr=subprocess.DEVNULL); import time; time.sleep(8); q = subprocess.run(a, capture_output=True, text=True); p.kill(); sys.stderr.write(q.stderr); sys.exit(q.returncode)", str(demos), str(work / "runs3"), *tiny]),
        ("train: SIGKILL mid-run, then --resume", ["-c", "import subprocess, sys, time, signal, pathlib; a = [sys.executable, 'scripts/train_act_proper.py', '--data', sys.argv[1], '--steps', '2000', '--output_dir', sys.argv[2], '--run_name', 'killed', *sys.argv[3:]]; p = subprocess.Popen(a); last = pathlib.Path(sys.argv[2]) / 'killed' / 'checkpoints' / 'last.pth'; [time.sleep(0.2) for _ in range(300) if not last.exists()]; time.sleep(1); p.send_signal(signal.SIGKILL); p.wait(); q = subprocess.run([sys.executable, 'scripts/train_act_proper.py', '--resume', str(last.parent.parent), '--steps', '12', '--quiet'], capture_output=True, text=True); sys.stderr.write(q.stderr); sys.exit(q.returncode)", str(demos), str(work / "runs4"), *tiny]),
        ("train: into a finished run folder", ["scripts/train_act_proper.py", "--data", str(demos), "--output_dir", str(work / "runs"), "--run_name", "r", *tiny]),
        ("train: --resume with --lr 5", ["scripts/train_act_proper.py", "--resume", str(run), "--lr", "5"]),
        ("train: --resume --steps below the run's step", ["scripts/train_act_proper.py", "--resume", str(run), "--steps", "2"]),
        ("train: --resume as the other model", ["scripts/train_act_proper.py", "--resume", str(run), "--model", "modified"]),
        ("train: --resume from garbage bytes", ["scripts/train_act_proper.py", "--resume", str(work / "garbage.pth")]),
        ("train: --resume from a truncated checkpoint", ["scripts/train_act_proper.py", "--resume", str(work / "truncated.pth")]),
        ("train: --cvae_detach_images with standard", ["scripts/train_act_proper.py", "--data", str(demos), "--cvae_detach_images", "--output_dir", str(work / "runs2")]),
        ("train: config with a misspelt key", ["scripts/train_act_proper.py", "--config", str(work / "bad.toml")]),
        ("train: config that is not TOML", ["scripts/train_act_proper.py", "--config", str(work / "broken.toml")]),
        ("train: --steps and --epochs", ["scripts/train_act_proper.py", "--steps", "3", "--epochs", "2"]),
        ("evaluate: checkpoint missing", ["scripts/evaluate_act_proper.py", "--checkpoint", str(work / "none.pth")]),
        ("evaluate: garbage checkpoint", ["scripts/evaluate_act_proper.py", "--checkpoint", str(work / "garbage.pth")]),
        ("evaluate: output exists (no --overwrite)", ["scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--episodes", "1", "--output", str(result)]),
        ("evaluate: --resume without --output", ["scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--resume"]),
        ("evaluate: output folder is a file", ["scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--output", str(blocker / "r.json")]),
        ("evaluate: --max_steps 0", ["scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--max_steps", "0"]),
        ("evaluate: unknown {placeholder} in --output", ["scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--output", str(work / "{nope}.json")]),
        ("evaluate: --video_camera that does not exist", ["scripts/evaluate_act_proper.py", "--checkpoint", str(last), "--episodes", "1", "--video_dir", str(work / "v"), "--video_camera", "nosuchcam"]),
        ("average: output is an input", ["scripts/average_checkpoints.py", "--checkpoints", str(run / "checkpoints" / "step_000002.pth"), str(last), "--output", str(last)]),
        ("average: output exists (no --overwrite)", ["scripts/average_checkpoints.py", "--checkpoints", str(run / "checkpoints" / "step_000002.pth"), str(run / "checkpoints" / "step_000004.pth"), "--output", str(result)]),
        ("average: snapshot missing", ["scripts/average_checkpoints.py", "--run", str(run), "--steps", "2", "9", "--output", str(work / "avg.pth")]),
        ("reproduce: unknown model", ["scripts/reproduce.py", "--config", "configs/quickstart.toml", "--model", "bigger"]),
        ("reproduce: override without a section", ["scripts/reproduce.py", "--config", "configs/quickstart.toml", "--model", "standard", "steps=3"]),
        ("reproduce: average longer than the run", ["scripts/reproduce.py", "--config", "configs/shelf_place_cpu.toml", "--model", "standard", "train.steps=2000", "--root", str(work)]),
        ("reproduce: --root is a file", ["scripts/reproduce.py", "--config", "configs/quickstart.toml", "--model", "standard", "--root", str(blocker)]),
        ("reproduce: recipe file missing", ["scripts/reproduce.py", "--config", "configs/nope.toml", "--model", "standard"]),
        ("torchrun train: global batch 5 over 2 processes", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "scripts/train_act_proper.py", "--data", str(demos), "--steps", "2", "--output_dir", str(work / "runs5"), *tiny[:-5], "--batch_size", "5", "--quiet"]),
        ("torchrun train: into a folder that holds a run", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "scripts/train_act_proper.py", "--data", str(demos), "--steps", "2", "--output_dir", str(work / "runs"), "--run_name", "r", *tiny]),
        ("torchrun train: --resume with --lr", ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "scripts/train_act_proper.py", "--resume", str(run), "--lr", "5"]),
        ("export: output exists", ["scripts/export_policy.py", "--checkpoint", str(last), "--output", str(run)]),
    ]
    print("| input or fault | exit | message (first line) | traceback | files intact |")
    print("| --- | --- | --- | --- | --- |")
    for name, args in cases:
        done = sh(*args)
        first = next((line for line in done.stderr.splitlines() if line.strip()), "").replace("|", "\\|")
        first = first.replace(str(work), "<tmp>")
        if len(first) > 150:
            first = first[:147] + "..."
        intact = all(digest(path) == before[key] for key, path in guarded.items())
        print(f"| {name} | {done.returncode} | `{first}` | {'yes' if 'Traceback' in done.stderr else 'no'} | "
              f"{'yes' if intact else 'NO'} |", flush=True)
    escaped = (work / "runs2").parent.parent / "escape"
    print(f"\n`--run_name ../../escape` wrote outside --output_dir: {'yes' if escaped.exists() else 'no'}")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
