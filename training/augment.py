"""Random-shift image augmentation (pad by replication, crop back at a random offset).

The shift follows DrQ (Kostrikov et al. 2020) and is applied independently to
every image of every camera. Measured here on shelf-place (see README): it is one
of the levers that moved success most when training from a few dozen demos.

The offsets come from a CPU generator (so a seeded run draws the same shifts on any
device), and the crop is one gather on the images' own device: no round trip to the CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_shift(images: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """images (B, N, C, H, W) float → same shape, each image shifted by up to ±max_shift pixels."""
    if max_shift <= 0:
        return images
    batch, cameras, channels, height, width = images.shape
    flat = images.reshape(batch * cameras, channels, height, width)  # (B*N, C, H, W)
    padded = F.pad(flat, (max_shift,) * 4, mode="replicate")  # (B*N, C, H+2p, W+2p)
    offsets = torch.randint(0, 2 * max_shift + 1, (batch * cameras, 2), generator=generator)  # (B*N, 2) CPU
    offsets = offsets.to(images.device)
    rows = offsets[:, 0:1] + torch.arange(height, device=images.device)  # (B*N, H)
    cols = offsets[:, 1:2] + torch.arange(width, device=images.device)  # (B*N, W)
    image_index = torch.arange(batch * cameras, device=images.device)[:, None, None, None]  # (B*N, 1, 1, 1)
    channel_index = torch.arange(channels, device=images.device)[None, :, None, None]  # (1, C, 1, 1)
    shifted = padded[image_index, channel_index, rows[:, None, :, None], cols[:, None, None, :]]  # (B*N, C, H, W)
    return shifted.reshape(batch, cameras, channels, height, width)


# Cameras whose image is mirrored left-right by mirroring the world in x about x = 0: the hand
# camera (its orientation is fixed in the world and looks along +y, so image right is world +x).
# The fixed top view is not: it shows the robot arm, which is not mirror-symmetric, so its flipped
# frame is far from what the mirrored world shows (scripts/check_mirror_world.py: 22 grey levels
# mean difference against 8.5 for the hand camera, stop 29). The corner cameras look at the table
# from one side, so a flipped corner image shows no reachable scene; gripperPOV sits off the hand's axis.
MIRROR_CAMERAS = ("behindGripper",)


def mirror_x(
    images: Tensor, qpos: Tensor, action_chunk: Tensor, qpos_mean: Tensor, qpos_std: Tensor,
    action_mean: Tensor, action_std: Tensor, generator: torch.Generator, probability: float = 0.5,
) -> tuple[Tensor, Tensor, Tensor]:
    """Mirrors each sample across the plane x = 0 (world x ↔ −x) with chance `probability`.

    For tasks whose initial states are symmetric about x = 0 (shelf-place: block and shelf x in
    [−0.1, 0.1], hand at x = 0) a mirrored demonstration is another valid demonstration: its images
    flipped left-right, the hand's x and every action's x negated. The inputs are normalised (x_n =
    (x − mean) / std), so the mirror of x_n is −x_n − 2·mean/std. Dimension 0 of the joint state and
    of the actions is the hand's x (MetaWorld's qpos and its x, y, z, grip actions).

    images (B, N, 3, H, W), qpos (B, Q), action_chunk (B, S, A) → the same shapes."""
    batch = images.shape[0]
    flip = (torch.rand(batch, generator=generator) < probability).to(images.device)  # (B,) CPU draw, then moved
    images = torch.where(flip[:, None, None, None, None], images.flip(-1), images)  # (B, N, 3, H, W)
    qpos = _negate_x(qpos, flip, qpos_mean, qpos_std)  # (B, Q)
    action_chunk = _negate_x(action_chunk, flip[:, None], action_mean, action_std)  # (B, S, A)
    return images, qpos, action_chunk


def _negate_x(values: Tensor, where: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """A copy of normalised `values` (..., D) whose raw dimension 0 is negated where `where` (...) holds."""
    x = values[..., 0]
    mirrored = -x - 2.0 * mean[0].to(values.device) / std[0].to(values.device)
    values = values.clone()
    values[..., 0] = torch.where(where, mirrored, x)
    return values
