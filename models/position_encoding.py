"""Fixed sinusoidal position embeddings (ACT Sec. IV-B, following DETR and "Attention Is All You Need").

- ``sinusoidal_1d`` labels a token sequence (the CVAE encoder's [CLS, qpos, actions...] in ACT).
- ``sinusoidal_2d`` labels the cells of an image feature map with DETR's normalised-coordinate
  embedding: the first half of the channels encodes the row, the second half the column, so the
  embedding does not depend on the feature map's absolute size.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _frequencies(num_features: int, temperature: float) -> Tensor:
    """Wavelength divisor per feature; features 2k and 2k+1 share one frequency (sin/cos pair)."""
    index = torch.arange(num_features, dtype=torch.float64)  # (F,)
    return temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / num_features)  # (F,)


def _interleave_sin_cos(angles: Tensor) -> Tensor:
    """sin on even features, cos on odd features of the last axis."""
    features = torch.empty_like(angles)
    features[..., 0::2] = angles[..., 0::2].sin()
    features[..., 1::2] = angles[..., 1::2].cos()
    return features


def sinusoidal_1d(num_positions: int, dim: int, temperature: float = 10000.0) -> Tensor:
    """Embedding of positions 0..num_positions-1 → (num_positions, dim), float32."""
    if dim % 2 != 0:
        raise ValueError(f"sinusoidal_1d needs an even dim, got {dim}")
    positions = torch.arange(num_positions, dtype=torch.float64)  # (T,)
    angles = positions[:, None] / _frequencies(dim, temperature)[None, :]  # (T, D)
    return _interleave_sin_cos(angles).float()  # (T, D)


def sinusoidal_2d(
    height: int, width: int, dim: int, temperature: float = 10000.0, scale: float = 2 * math.pi
) -> Tensor:
    """Embedding of an (height, width) grid, row-major → (height * width, dim), float32.

    Row and column indices 1..n are normalised to (0, scale] as in DETR's ``normalize=True``.
    """
    if dim % 4 != 0:
        raise ValueError(f"sinusoidal_2d needs dim divisible by 4, got {dim}")
    half = dim // 2
    eps = 1e-6
    rows = torch.arange(1, height + 1, dtype=torch.float64) / (height + eps) * scale  # (h,)
    cols = torch.arange(1, width + 1, dtype=torch.float64) / (width + eps) * scale  # (w,)
    frequencies = _frequencies(half, temperature)  # (D/2,)
    row_features = _interleave_sin_cos(rows[:, None] / frequencies)  # (h, D/2)
    col_features = _interleave_sin_cos(cols[:, None] / frequencies)  # (w, D/2)
    grid = torch.cat(
        [
            row_features[:, None, :].expand(height, width, half),  # (h, w, D/2)
            col_features[None, :, :].expand(height, width, half),  # (h, w, D/2)
        ],
        dim=-1,
    )  # (h, w, D)
    return grid.reshape(height * width, dim).float()  # (h*w, D)
