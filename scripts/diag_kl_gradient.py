#!/usr/bin/env python
"""Where the backbone's gradient comes from: the L1 term or the KL term (a training diagnostic).

For each checkpoint, one fixed batch of training windows (the checkpoint's own training episodes,
no augmentation, dropout on as in training, the same latent noise for both terms) goes through
the model twice: once back-propagating the L1 term, once ``kl_weight`` × KL. Prints JSON with
each term's value and the norm of the gradient it sends into the ResNet backbone. In Standard
ACT the KL term cannot reach the backbone (its CVAE sees no images); in Modified ACT it can,
through the image tokens, unless the model was trained with ``--cvae_detach_images``.

    python scripts/diag_kl_gradient.py --data data/shelf-place-v3__behindGripper-96.hdf5 \\
        --checkpoint runs/<run>/checkpoints/step_000500.pth runs/<run>/checkpoints/step_005000.pth
"""

from __future__ import annotations

import argparse
import json
import sys

import _bootstrap  # noqa: F401
from _cli import Parser, non_negative_int, positive_int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = Parser(__doc__)
    parser.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint files (or run folders)")
    parser.add_argument("--data", required=True, help="the demonstration HDF5 file the checkpoints were trained on")
    parser.add_argument("--batch_size", type=positive_int, default=32, help="windows in the fixed batch")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="which windows, and the latent noise")
    parser.add_argument("--initial", action="store_true",
                        help="also measure the untrained model (the first checkpoint's config, initial weights)")
    parser.add_argument("--output", default=None, help="also write the JSON here (atomically)")
    return parser.parse_args(argv)


def backbone_gradients(model, batch: dict, kl_weight: float, seed: int) -> dict[str, dict[str, float]]:
    """{"l1" | "kl": {"loss", "backbone_grad_norm"}} for one batch; "kl" is kl_weight × KL."""
    import torch

    from training.loss import forward_and_loss

    model.train()
    out = {}
    for term in ("l1", "kl"):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(seed)  # the same dropout masks and latent sample for both terms
        losses = forward_and_loss(model, batch["qpos"], batch["images"], batch["action_chunk"], batch["is_pad"],
                                  kl_weight, "off")
        loss = losses["l1"] if term == "l1" else kl_weight * losses["kl"]
        loss.backward()
        grads = [p.grad.flatten() for p in model.backbone.parameters() if p.grad is not None]
        norm = torch.cat(grads).norm().item() if grads else 0.0
        out[term] = {"loss": round(loss.item(), 6), "backbone_grad_norm": norm}
    model.zero_grad(set_to_none=True)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from envs.hdf5_demos import DemoFileError
    from models import ACTConfig, build_model
    from training import batch_keys
    from training.atomic import write_text
    from training.checkpoint import CheckpointError, load_checkpoint
    from training.dataset import EpisodeWindowDataset
    from training.normalizer import Normalizer, normalize_images

    rows = []
    try:
        checkpoints = [load_checkpoint(path) for path in args.checkpoint]
        first = checkpoints[0]
        config = ACTConfig.from_dict(first["model_config"])
        dataset = EpisodeWindowDataset(
            args.data, first["train_episodes"], config.chunk_size, config.camera_names,
            Normalizer.from_state_dict(first["normalizer"]), first["env"].get("state_input", "qpos"),
        )
    except (CheckpointError, DemoFileError, ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    generator = torch.Generator().manual_seed(args.seed)
    indices = torch.randint(0, len(dataset), (args.batch_size,), generator=generator).tolist()
    windows = [dataset[index] for index in indices]
    batch = {
        "qpos": torch.stack([w[batch_keys.QPOS] for w in windows]),  # (B, Q)
        "images": normalize_images(torch.stack([w[batch_keys.IMAGES] for w in windows])),  # (B, N, 3, H, W)
        "action_chunk": torch.stack([w[batch_keys.ACTION_CHUNK] for w in windows]),  # (B, S, A)
        "is_pad": torch.stack([w[batch_keys.IS_PAD] for w in windows]),  # (B, S)
    }
    if args.initial:
        torch.manual_seed(first["train_config"]["seed"])  # the trainer's initialisation
        model = build_model(first["model_kind"], config)
        rows.append({"checkpoint": "initial weights", "step": 0,
                     **backbone_gradients(model, batch, config.kl_weight, args.seed)})
    for path, checkpoint in zip(args.checkpoint, checkpoints, strict=True):
        same_run = all(checkpoint[key] == first[key] for key in ("model_kind", "model_config", "train_episodes"))
        if not same_run:
            print(f"error: {path} is not from the same run as {args.checkpoint[0]}", file=sys.stderr)
            return 2
        model = build_model(checkpoint["model_kind"], ACTConfig.from_dict(checkpoint["model_config"]))
        model.load_state_dict(checkpoint["model_state"])
        rows.append({"checkpoint": str(path), "step": checkpoint.get("step"),
                     **backbone_gradients(model, batch, config.kl_weight, args.seed)})
    for row in rows:
        row["kl_over_l1"] = round(row["kl"]["backbone_grad_norm"] / max(row["l1"]["backbone_grad_norm"], 1e-12), 3)
    report = {
        "diagnostic": "gradient norm each loss term sends into the ResNet backbone, one fixed batch",
        "model_kind": first["model_kind"], "kl_weight": config.kl_weight,
        "cvae_image_grad": config.cvae_image_grad, "data": args.data, "batch_size": args.batch_size,
        "seed": args.seed, "rows": rows,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.output:
        write_text(args.output, text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
