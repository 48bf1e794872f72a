#!/usr/bin/env python
"""Our ACT beside LeRobot's ACT (lerobot==0.4.4), timed in one run; prints JSON.

Both models on the ACT paper's configuration (width 512, ff 3200, 8 heads, 4 encoder layers, 1 decoder
layer, 4 CVAE-encoder layers, chunk 100, latent 32, dropout 0.1, KL weight 10), ResNet18 without
pretrained weights, one camera at 128x128, state and action dim 4, fp32 on the CPU, random inputs of
the right shapes (the model alone, not data loading). For --rounds rounds, interleaved and each in a
fresh subprocess: the sgemm rate (2048x2048 fp32 torch.matmul), one training step per side (batch 8:
forward, loss, backward, gradient clipping at 10, AdamW lr 1e-5, weight decay 1e-4, as each project's
trainer does it), and batch-1 inference latency per side (ours: forward without an action chunk, z = 0;
LeRobot: ACTPolicy.predict_action_chunk). It reports per-round and median times, ours / peer, and the
compute floor: FLOPs of one training step (torch.utils.flop_counter over forward + backward) divided
by the best measured sgemm rate.

LeRobot runs in its own virtual environment (--venv; created on first use) that sees this
interpreter's torch, torchvision and numpy (--system-site-packages) and gets lerobot and the few
packages its ACT modules import, all with --no-deps: lerobot 0.4.4 pins torch < 2.11, so it is never a
dependency of ours. LeRobot 0.4.4 normalises in a processor pipeline outside the policy, so neither
side normalises here (ours also takes already-normalised inputs).

Differences that stay, each the project's own default: our backbone uses GroupNorm (trainable),
LeRobot's FrozenBatchNorm2d; our AdamW is fused (training.trainer.build_optimizer), LeRobot's is
torch's default (a per-tensor loop on the CPU).

Time it on a quiet machine: anything else on the cores moves the numbers.

    python benchmarks/bench_peer_lerobot.py                          # 2 rounds, 10 steps each
    python benchmarks/bench_peer_lerobot.py --rounds 3 --steps 20 --threads 1
    python benchmarks/bench_peer_lerobot.py --steps 1 --warmup 1 --rounds 1   # does it run at all
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: in LeRobot's interpreter our folders must not shadow anything

from pipeline.cli import Parser, non_negative_int, positive_int  # stdlib only: fine in the peer venv

LEROBOT_VERSION = "0.4.4"
DEFAULT_VENV = Path.home() / ".cache" / "act-metaworld" / f"lerobot-{LEROBOT_VERSION}"
# What `from lerobot.policies.act.modeling_act import ACTPolicy` and `...configuration_act import ACTConfig`
# import beyond torch, torchvision and numpy (lerobot.policies imports every policy's configuration, and
# lerobot.configs.policies imports lerobot.optim, which imports lerobot.datasets): found one
# ModuleNotFoundError at a time, the versions that worked with lerobot 0.4.4 and torch 2.14.
PEER_EXTRAS = (
    "draccus==0.10.0", "mergedeep==1.3.4", "huggingface-hub==0.35.3", "datasets==4.8.5", "pandas==3.1.1",
    "pyarrow==26.0.1", "dill==0.4.1", "xxhash==4.1.0", "multiprocess==0.70.19", "httpx==0.29.0",
    "accelerate==1.16.0", "diffusers==0.35.2", "pyserial==3.5", "deepdiff==8.6.2", "orderly-set==5.5.0",
    "av==15.1.0", "einops==0.8.2",
)
# Also imported, usually already there beside torch (then pip leaves them as they are).
PEER_BASE = (
    "typing-inspect", "mypy-extensions", "PyYAML", "requests", "urllib3", "idna", "certifi", "charset-normalizer",
    "filelock", "fsspec", "python-dateutil", "six", "tqdm", "packaging", "safetensors", "pillow",
)

CAMERA = "behindGripper"
BATCH_SIZE = 8
STATE_DIM = ACTION_DIM = 4
IMAGE_SIZE = 128
CHUNK_SIZE = 100
PAPER = {  # ours: models.ACTConfig fields; LeRobot's names in peer_step()
    "hidden_dim": 512, "n_heads": 8, "dim_feedforward": 3200, "enc_layers": 4, "dec_layers": 1,
    "cvae_enc_layers": 4, "latent_dim": 32, "dropout": 0.1, "kl_weight": 10.0,
}
LR = 1e-5  # LeRobot's ACT preset, both groups
WEIGHT_DECAY = 1e-4
GRAD_CLIP = 10.0  # both trainers' default
SGEMM_N = 2048
SGEMM_REPEATS = 5
SIDES = ("ours", "peer")


# -- one measurement, in its own process ------------------------------------------------------------------
def random_inputs(torch, batch_size: int) -> tuple:
    return (
        torch.randn(batch_size, STATE_DIM),
        torch.randn(batch_size, 1, 3, IMAGE_SIZE, IMAGE_SIZE),
        torch.randn(batch_size, CHUNK_SIZE, ACTION_DIM),
        torch.zeros(batch_size, CHUNK_SIZE, dtype=torch.bool),
    )


def ours_step(torch, kind: str, backbone_norm: str):
    """(model, train step or batch-1 inference call, forward + backward only) for our StandardACT."""
    from models import ACTConfig, build_model
    from training.loss import forward_and_loss
    from training.trainer import build_optimizer

    config = ACTConfig(
        state_dim=STATE_DIM, action_dim=ACTION_DIM, camera_names=(CAMERA,), image_size=IMAGE_SIZE,
        chunk_size=CHUNK_SIZE, backbone="resnet18", pretrained_backbone=False, backbone_norm=backbone_norm, **PAPER,
    )
    model = build_model("standard", config)
    qpos, images, actions, is_pad = random_inputs(torch, BATCH_SIZE)
    if kind == "infer":
        model.eval()

        def infer() -> None:
            with torch.no_grad():
                model(qpos[:1], images[:1])  # action_chunk=None: z = 0

        return model, infer, infer
    model.train()
    optimizer = build_optimizer(model, LR, LR, WEIGHT_DECAY)  # as the trainer: two groups, fused

    def forward_backward() -> None:
        loss = forward_and_loss(model, qpos, images, actions, is_pad, config.kl_weight)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()

    def train() -> None:  # as training.trainer.Trainer.train_step
        forward_backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()

    return model, train, forward_backward


def peer_step(torch, kind: str, backbone_norm: str):
    """The same for LeRobot's ACTPolicy (run by the venv's interpreter)."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    image_key = f"observation.images.{CAMERA}"
    config = ACTConfig(
        device="cpu",
        input_features={
            "observation.state": PolicyFeature(type=FeatureType.STATE, shape=(STATE_DIM,)),
            image_key: PolicyFeature(type=FeatureType.VISUAL, shape=(3, IMAGE_SIZE, IMAGE_SIZE)),
        },
        output_features={"action": PolicyFeature(type=FeatureType.ACTION, shape=(ACTION_DIM,))},
        chunk_size=CHUNK_SIZE, n_action_steps=CHUNK_SIZE,
        vision_backbone="resnet18", pretrained_backbone_weights=None,  # no download
        dim_model=PAPER["hidden_dim"], n_heads=PAPER["n_heads"], dim_feedforward=PAPER["dim_feedforward"],
        n_encoder_layers=PAPER["enc_layers"], n_decoder_layers=PAPER["dec_layers"],
        n_vae_encoder_layers=PAPER["cvae_enc_layers"], latent_dim=PAPER["latent_dim"], use_vae=True,
        dropout=PAPER["dropout"], kl_weight=PAPER["kl_weight"],
        optimizer_lr=LR, optimizer_lr_backbone=LR, optimizer_weight_decay=WEIGHT_DECAY,
    )
    policy = ACTPolicy(config)
    qpos, images, actions, is_pad = random_inputs(torch, BATCH_SIZE)
    if kind == "infer":
        observation = {"observation.state": qpos[:1], image_key: images[:1, 0]}

        def infer() -> None:
            policy.predict_action_chunk(observation)  # eval mode, no grad, z = 0

        return policy, infer, infer
    batch = {"observation.state": qpos, image_key: images[:, 0], "action": actions, "action_is_pad": is_pad}
    preset = config.get_optimizer_preset()  # AdamWConfig: lerobot_train builds the optimiser from it
    optimizer = preset.build(policy.get_optim_params())

    def forward_backward() -> None:
        policy.train()
        loss, _ = policy.forward(batch)
        loss.backward()

    def train() -> None:  # as lerobot.scripts.lerobot_train.update_policy (one process, no AMP)
        forward_backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), preset.grad_clip_norm)
        optimizer.step()
        optimizer.zero_grad()

    return policy, train, forward_backward


def measure(spec: dict) -> dict:
    """One measurement named by spec["kind"]: sgemm, train, infer or flops, for spec["side"]."""
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    result = {"side": spec["side"], "kind": spec["kind"], "torch": torch.__version__, "threads": torch.get_num_threads()}
    if spec["kind"] == "sgemm":
        a, b = torch.randn(SGEMM_N, SGEMM_N), torch.randn(SGEMM_N, SGEMM_N)
        for _ in range(2):
            torch.matmul(a, b)
        seconds = []
        for _ in range(SGEMM_REPEATS):
            start = time.perf_counter()
            torch.matmul(a, b)
            seconds.append(time.perf_counter() - start)
        rates = [2 * SGEMM_N**3 / s / 1e9 for s in seconds]
        return result | {"gflops": [round(r, 2) for r in rates], "gflops_median": round(statistics.median(rates), 2)}
    if spec["side"] == "peer":
        from importlib.metadata import version

        result["lerobot"] = version("lerobot")
    build = ours_step if spec["side"] == "ours" else peer_step
    if spec["kind"] == "flops":
        from torch.utils.flop_counter import FlopCounterMode

        model, _, forward_backward = build(torch, "train", spec["backbone_norm"])
        with FlopCounterMode(display=False) as counter:
            forward_backward()
        result["train_flops"] = counter.get_total_flops()
        _, infer, _ = build(torch, "infer", spec["backbone_norm"])
        with FlopCounterMode(display=False) as counter:
            infer()
        result["infer_flops"] = counter.get_total_flops()
        result["parameters_m"] = round(sum(p.numel() for p in model.parameters()) / 1e6, 2)
        return result
    _, step, _ = build(torch, spec["kind"], spec["backbone_norm"])
    for _ in range(spec["warmup"]):
        step()
    seconds = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return result | {"step_s": [round(s, 4) for s in seconds], "median_s": round(statistics.median(seconds), 4)}


# -- LeRobot's environment --------------------------------------------------------------------------------
PEER_CHECK = (
    "import json, torch, importlib.metadata as m;"
    "import lerobot.policies.act.configuration_act, lerobot.policies.act.modeling_act;"
    "print(json.dumps({'lerobot': m.version('lerobot'), 'torch': torch.__version__}))"
)


def peer_ready(python: Path) -> tuple[dict | None, str]:
    done = subprocess.run([str(python), "-c", PEER_CHECK], capture_output=True, text=True, check=False, cwd="/")
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def ensure_venv(venv: Path) -> Path:
    """The venv's python, after creating the venv and installing LeRobot's ACT into it if needed."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} (lerobot=={LEROBOT_VERSION}, --no-deps, on this torch)", file=sys.stderr)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    found, _ = peer_ready(python)
    if found is None or found["lerobot"] != LEROBOT_VERSION:
        subprocess.run(
            [str(python), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
             f"lerobot=={LEROBOT_VERSION}", *PEER_EXTRAS, *PEER_BASE],
            check=True, stdout=sys.stderr,  # stdout stays JSON only
        )
        found, error = peer_ready(python)
        if found is None:
            sys.exit(f"error: LeRobot's ACT does not import in {venv}: {error}; install the missing package "
                     f"there with `{python} -m pip install --no-deps NAME`")
    import torch

    if found["torch"] != torch.__version__:
        sys.exit(f"error: {venv} sees torch {found['torch']}, this interpreter {torch.__version__}: "
                 "the comparison needs the same torch (recreate the venv with --system-site-packages)")
    return python


# -- the run ----------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_one(python: Path, spec: dict) -> dict:
    threads = str(spec["threads"])
    env = os.environ | {
        "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OMP_WAIT_POLICY": "PASSIVE",
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",  # LeRobot must not reach for the network
    }
    done = subprocess.run(
        [str(python), __file__, "--one", json.dumps(spec)], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        return {"side": spec["side"], "kind": spec["kind"], "error": done.stderr.strip().splitlines()[-3:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    return round(a / b, digits) if a is not None and b else None


def median_of(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 4) if values else None


def main() -> None:
    parser = Parser(__doc__)
    parser.add_argument("--rounds", type=positive_int, default=2, help="interleaved rounds (each side once per round)")
    parser.add_argument("--steps", type=positive_int, default=10, help="timed steps (training and inference)")
    parser.add_argument("--warmup", type=non_negative_int, default=2, help="untimed steps before them")
    parser.add_argument("--threads", type=positive_int, default=2, help="torch threads in every measurement")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="LeRobot's virtual environment")
    parser.add_argument("--backbone_norm", choices=["group", "batch"], default="group",
                        help="our backbone's norm (group: the trainer's default; LeRobot's is frozen BatchNorm)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(json.loads(args.one))))
        return

    import torch

    peer_python = ensure_venv(args.venv.expanduser())
    pythons = {"ours": Path(sys.executable), "peer": peer_python}
    base = {"threads": args.threads, "steps": args.steps, "warmup": args.warmup, "backbone_norm": args.backbone_norm}
    load_start = os.getloadavg()
    flops = {side: run_one(pythons[side], base | {"side": side, "kind": "flops"}) for side in SIDES}
    rounds = []
    for index in range(args.rounds):
        order = SIDES if index % 2 == 0 else SIDES[::-1]  # who goes first alternates
        entry = {"order": list(order), "sgemm": run_one(pythons["ours"], base | {"side": "ours", "kind": "sgemm"})}
        for kind in ("train", "infer"):
            entry[kind] = {side: run_one(pythons[side], base | {"side": side, "kind": kind}) for side in order}
        rounds.append(entry)
        print(f"round {index + 1}/{args.rounds} done", file=sys.stderr)
    load_end = os.getloadavg()

    sgemm_rates = [rate for entry in rounds for rate in entry["sgemm"].get("gflops", [])]
    best_gflops = max(sgemm_rates) if sgemm_rates else None
    train = {side: median_of([entry["train"][side].get("median_s") for entry in rounds]) for side in SIDES}
    infer_s = {side: median_of([entry["infer"][side].get("median_s") for entry in rounds]) for side in SIDES}
    train_flops = {side: flops[side].get("train_flops") for side in SIDES}
    infer_flops = {side: flops[side].get("infer_flops") for side in SIDES}

    def floor_s(count: int | None) -> float | None:
        return count / (best_gflops * 1e9) if count and best_gflops else None

    floor = floor_s(train_flops["ours"])
    infer_floor = floor_s(infer_flops["ours"])
    errors = [item for item in flops.values() if "error" in item] + [
        item for entry in rounds for item in [entry["sgemm"], *entry["train"].values(), *entry["infer"].values()]
        if "error" in item
    ]
    print(json.dumps({
        "what": "ACT paper config, 1 camera 128 px, state/action dim 4, fp32, CPU; train at batch "
                f"{BATCH_SIZE} (fwd+loss+bwd+clip+AdamW), inference at batch 1",
        "settings": {"rounds": args.rounds, "steps": args.steps, "warmup": args.warmup, "threads": args.threads,
                     "batch_size": BATCH_SIZE, "image_size": IMAGE_SIZE, "chunk_size": CHUNK_SIZE, **PAPER,
                     "lr": LR, "weight_decay": WEIGHT_DECAY, "grad_clip": GRAD_CLIP},
        "differences": {
            "backbone_norm": {"ours": args.backbone_norm, "peer": "frozen_batch (FrozenBatchNorm2d)"},
            "adamw": {"ours": "fused (training.trainer.build_optimizer)", "peer": "torch default (for-loop on CPU)"},
        },
        "machine": {"cpu_model": cpu_model(), "cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)),
                    "threads": args.threads, "loadavg_start": [round(x, 2) for x in load_start],
                    "loadavg_end": [round(x, 2) for x in load_end], "platform": platform.platform()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "torch_peer": flops["peer"].get("torch"), "lerobot": flops["peer"].get("lerobot")},
        "parameters_m": {side: flops[side].get("parameters_m") for side in SIDES},
        "rounds": [{
            "order": entry["order"],
            "sgemm_gflops": entry["sgemm"].get("gflops_median"),
            "train_step_s": {side: entry["train"][side].get("median_s") for side in SIDES},
            "train_step_s_each": {side: entry["train"][side].get("step_s") for side in SIDES},
            "infer_batch1_ms": {side: ratio(entry["infer"][side].get("median_s"), 1e-3, 2) for side in SIDES},
        } for entry in rounds],
        "median": {"train_step_s": train, "infer_batch1_ms": {side: ratio(infer_s[side], 1e-3, 2) for side in SIDES},
                   "sgemm_gflops": median_of([entry["sgemm"].get("gflops_median") for entry in rounds])},
        "ratio_ours_over_peer": {"train_step": ratio(train["ours"], train["peer"]),
                                 "infer_batch1": ratio(infer_s["ours"], infer_s["peer"])},
        "floor": {
            "sgemm_gflops_best": best_gflops,
            "train_flops": train_flops,
            "infer_flops_batch1": infer_flops,
            "floor_s": round(floor, 4) if floor else None,  # our step's FLOPs / best sgemm rate
            "train_over_floor": {side: ratio(train[side], floor, 2) for side in SIDES},
            "infer_floor_ms": round(infer_floor * 1e3, 2) if infer_floor else None,
            "infer_over_floor": {side: ratio(infer_s[side], infer_floor, 2) for side in SIDES},
        },
        "errors": errors,
    }, indent=2))


if __name__ == "__main__":
    main()
