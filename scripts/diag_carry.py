#!/usr/bin/env python
"""Has a checkpoint learned where to carry the block? Its x action, phase by phase, on demo frames.

For every frame of a demonstration file where the expert moves the hand sideways at speed
(|x action| > 0.5), predicts the policy's first action from that frame (its cameras and qpos, z = 0,
as at evaluation; runs no environment) and splits the frames by phase, read from the expert's
gripper command:

- ``approach``: the expert's gripper command is open (≤ 0): the hand moving over the object,
  where the direction is read from where the object is;
- ``carry``: the expert commands the fingers closed (> 0): the hand taking the grasped object
  sideways to the goal, where the direction is read from where the goal is.

Per phase it reports the frames, the mean of predicted x times the sign of the expert's
(``signed_x``: 1 = full speed the right way, 0 = standing still, −1 = full speed the wrong way), the
share of frames predicted still (|x| < 0.2) and the share predicted the wrong way (x < −0.2 times
the sign). A policy that cannot see where the goal is stands still in the carry phase while it
approaches well. Several checkpoints (e.g. the snapshots of one run) give the phases' learning
curves. Prints JSON.

With ``--probe`` it also asks where, inside the network, the carry direction is lost: on the carry
frames it fits a least-squares linear read-out of the expert's direction (sign of x) from the top
``k`` principal components of three stages of the policy's forward pass (z = 0) — the image tokens
entering the transformer encoder, the encoder's output at those tokens, and the decoder's output
for the first action — and reports its accuracy on held-out demos (5 folds by demo: 0.5 = chance)
and the share of the stage's variance those components hold. Principal components, not every
feature rescaled, so that a direction of negligible size does not count as carried. It also reports,
per phase, where the last decoder layer's cross-attention for the first action goes (mean over
heads and frames): the share on the latent z token, on the joint-state token and on the image tokens.

    python scripts/diag_carry.py --data data/shelf-place-v3__behindGripper-96-deep0.015-hold10.hdf5 \\
        --checkpoint runs/<run>/checkpoints/step_010000.pth runs/<run>/checkpoints/avg_16000-20000.pth
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser

MOVING = 0.5  # |expert x action| above which a frame counts as moving sideways at speed
STILL = 0.2  # |predicted x| below which the policy counts as standing still


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", required=True, nargs="+", help="checkpoint files or run folders")
    parser.add_argument("--data", required=True, help="demonstration HDF5 file with the checkpoints' cameras")
    parser.add_argument("--probe", action="store_true", help="also probe where the carry direction is lost (see above)")
    parser.add_argument("--components", type=int, nargs="+", default=[5, 20], help="--probe: principal components read")
    return parser.parse_args(argv)


def sideways_frames(data: dict) -> tuple[list[int], list[str]]:
    """Steps of one episode where the expert moves sideways at speed, and the phase of each."""
    import numpy as np

    actions = data["actions"]  # (T, 4)
    steps = np.flatnonzero(np.abs(actions[:, 0]) > MOVING).tolist()
    return steps, ["carry" if actions[step, 3] > 0 else "approach" for step in steps]


def phase_report(predicted, expert) -> dict:
    """Summary of (K,) predicted against (K,) expert x actions of one phase."""
    import numpy as np

    if len(expert) == 0:
        return {"frames": 0}
    toward = predicted * np.sign(expert)  # (K,) the predicted speed the expert's way
    return {
        "frames": len(expert),
        "signed_x": round(float(toward.mean()), 4),
        "share_still": round(float((np.abs(predicted) < STILL).mean()), 4),
        "share_wrong_way": round(float((toward < -STILL).mean()), 4),
    }


PROBE_STAGES = ("image_tokens", "encoder_output", "decoder_output")


def stage_features(policy, qpos, images) -> dict:
    """(K, F) features of each `PROBE_STAGES` stage for (K, Q) joint states and (K, N, H, W, 3) images,
    read with forward hooks during the policy's own forward pass (z = 0), its decoder attention shares
    ("attention", (K, 3)) and the (K, S, A) action chunks that pass predicted ("chunks")."""
    import numpy as np
    import torch

    model = policy.model
    captured: dict = {}

    def keep_encoder(module, inputs, output):
        captured["image_tokens"] = inputs[0][:, 2:]  # (K, N*h*w, D): [z, qpos, image tokens...]
        captured["encoder_output"] = output[:, 2:]  # (K, N*h*w, D)

    def keep_decoder(module, inputs, output):
        captured["decoder_output"] = output[:, 0]  # (K, D): the first action's query

    cross_attention = model.decoder.layers[-1].cross_attn
    inside = []

    def keep_attention(module, args, kwargs, output):
        if inside:  # the recomputation below runs this hook too
            return
        inside.append(True)
        try:
            weights = module(*args, **{**kwargs, "need_weights": True, "average_attn_weights": True})[1]  # (K, S, T)
        finally:
            inside.clear()
        captured["attention"] = weights[:, 0]  # (K, T): the first action's query

    handles = [
        model.encoder.register_forward_hook(keep_encoder), model.decoder.register_forward_hook(keep_decoder),
        cross_attention.register_forward_hook(keep_attention, with_kwargs=True),
    ]
    try:
        chunks = policy.predict_chunks(qpos, images)  # (K, S, A)
    finally:
        for handle in handles:
            handle.remove()
    with torch.no_grad():
        features = {name: captured[name].float().reshape(len(qpos), -1).cpu().numpy() for name in PROBE_STAGES}
        attention = captured["attention"].float().cpu().numpy()  # (K, T): [z, qpos, image tokens...]
    features["attention"] = np.stack([attention[:, 0], attention[:, 1], attention[:, 2:].sum(1)], axis=1)  # (K, 3)
    features["chunks"] = chunks
    return features


def probe_stage(features, direction, episode, components: list[int]) -> dict:
    """Held-out accuracy of a linear read-out of `direction` (C,) ±1 from the top principal components
    of `features` (C, F), 5 folds grouped by `episode` (C,), and the variance share of those components."""
    import numpy as np

    centred = features - features.mean(0)
    _, singular, basis = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    report = {}
    for count in components:
        scores = centred @ basis[:count].T  # (C, k)
        design = np.c_[scores, np.ones(len(scores))]  # (C, k + 1)
        correct = []
        for fold in range(5):
            test = episode % 5 == fold
            if test.all() or not test.any():
                continue
            weights = np.linalg.lstsq(design[~test], direction[~test], rcond=None)[0]
            correct.append((design[test] @ weights > 0) == (direction[test] > 0))
        report[f"top{count}"] = {
            "held_out_accuracy": round(float(np.concatenate(correct).mean()), 4) if correct else None,
            "variance_share": round(float(variance[:count].sum() / variance.sum()), 6) if variance.sum() > 0 else None,
        }
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import numpy as np

    from envs.hdf5_demos import read_episode, validate_demo_file
    from training.checkpoint import CheckpointError
    from training.policy import ACTPolicy

    try:
        info = validate_demo_file(args.data)
        policies = [ACTPolicy.from_checkpoint(checkpoint) for checkpoint in args.checkpoint]
    except (CheckpointError, ValueError, OSError) as error:  # ValueError: DemoFileError
        print(f"error: {error}", file=sys.stderr)
        return 2
    for checkpoint, policy in zip(args.checkpoint, policies, strict=True):
        missing = [camera for camera in policy.cameras if camera not in info.cameras]
        if missing:
            print(f"error: {args.data} has no camera {', '.join(missing)} ({checkpoint})", file=sys.stderr)
            return 2
    predicted: list[list[np.ndarray]] = [[] for _ in policies]
    stages: list[dict[str, list[np.ndarray]]] = [{name: [] for name in PROBE_STAGES} for _ in policies]
    attention: list[list[np.ndarray]] = [[] for _ in policies]  # (K, 3) per episode: z, qpos, images
    carry_episode: list[int] = []
    expert, phases = [], []
    for episode in range(info.num_episodes):
        data = read_episode(args.data, episode)
        steps, episode_phases = sideways_frames(data)
        if not steps:
            continue
        for index, policy in enumerate(policies):
            qpos = data["qpos"][steps].astype(np.float32)  # (K, Q)
            images = np.stack([data["images"][camera][steps] for camera in policy.cameras], axis=1)  # (K, N, H, W, 3)
            if not args.probe:
                predicted[index].append(policy.predict_chunks(qpos, images)[:, 0, 0])  # (K,)
                continue
            carry = np.asarray(episode_phases) == "carry"
            features = stage_features(policy, qpos, images)
            predicted[index].append(features["chunks"][:, 0, 0])  # (K,)
            for name in PROBE_STAGES:
                stages[index][name].append(features[name][carry])
            attention[index].append(features["attention"])
        expert.append(data["actions"][steps, 0])
        phases.extend(episode_phases)
        carry_episode.extend([episode] * episode_phases.count("carry"))
    expert_x = np.concatenate(expert) if expert else np.zeros(0)
    phase_of = np.asarray(phases)
    report: dict = {"data": args.data, "episodes": info.num_episodes, "checkpoints": []}
    for index, (checkpoint, values) in enumerate(zip(args.checkpoint, predicted, strict=True)):
        predicted_x = np.concatenate(values) if values else np.zeros(0)
        entry = {
            "checkpoint": checkpoint,
            **{phase: phase_report(predicted_x[phase_of == phase], expert_x[phase_of == phase])
               for phase in ("approach", "carry")},
        }
        if args.probe and carry_episode:
            direction = np.sign(expert_x[phase_of == "carry"])  # (C,)
            entry["probe"] = {
                name: probe_stage(np.concatenate(stages[index][name]), direction, np.asarray(carry_episode), args.components)
                for name in PROBE_STAGES
            }
            shares = np.concatenate(attention[index])  # (frames, 3)
            entry["probe"]["decoder_attention"] = {
                phase: dict(zip(("latent", "joint_state", "image_tokens"),
                                (round(float(v), 4) for v in shares[phase_of == phase].mean(0)), strict=True))
                for phase in ("approach", "carry") if (phase_of == phase).any()
            }
        report["checkpoints"].append(entry)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
