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


def random_shift(
    images: Tensor, max_shift: int, generator: torch.Generator, first: int = 0, global_batch: int | None = None
) -> Tensor:
    """images (B, N, C, H, W) float → same shape, each image shifted by up to ±max_shift pixels.

    With `global_batch`, the images are items first … first+B-1 of a batch of that size split over
    data-parallel processes: the offsets are drawn for the whole batch and this part's are used, so the
    shifts do not depend on how the batch is split."""
    if max_shift <= 0:
        return images
    batch, cameras, channels, height, width = images.shape
    global_batch = batch if global_batch is None else global_batch
    flat = images.reshape(batch * cameras, channels, height, width)  # (B*N, C, H, W)
    padded = F.pad(flat, (max_shift,) * 4, mode="replicate")  # (B*N, C, H+2p, W+2p)
    every = torch.randint(0, 2 * max_shift + 1, (global_batch * cameras, 2), generator=generator)  # (G*N, 2) CPU
    offsets = every[first * cameras:(first + batch) * cameras].to(images.device)  # (B*N, 2)
    rows = offsets[:, 0:1] + torch.arange(height, device=images.device)  # (B*N, H)
    cols = offsets[:, 1:2] + torch.arange(width, device=images.device)  # (B*N, W)
    image_index = torch.arange(batch * cameras, device=images.device)[:, None, None, None]  # (B*N, 1, 1, 1)
    channel_index = torch.arange(channels, device=images.device)[None, :, None, None]  # (1, C, 1, 1)
    shifted = padded[image_index, channel_index, rows[:, None, :, None], cols[:, None, None, :]]  # (B*N, C, H, W)
    return shifted.reshape(batch, cameras, channels, height, width)
