"""Configuration of the ACT model (Zhao et al. 2023, "Learning Fine-Grained Bimanual Manipulation
with Low-Cost Hardware", Sec. IV and Appendix).

Defaults follow the paper's hyper-parameter table except where a field comment says otherwise.
Deviations from the original code, and why:

- ``dec_layers`` counts the decoder layers that are *run and whose output is used*. The original
  code declares 7 decoder layers but returns the output of the first one only, so effectively one
  decoder layer was ever trained. The default of 1 reproduces what the original actually trained;
  any larger value really stacks that many layers.
- ``pretrained_backbone`` defaults to False and ``backbone_norm`` to ``"group"``: the original
  starts from ImageNet weights with frozen BatchNorm, which needs a download; training from random
  initialisation at small batch sizes works better with GroupNorm (as diffusion_policy does).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SUPPORTED_BACKBONES = ("resnet18", "resnet34")
BACKBONE_NORMS = ("group", "batch", "frozen_batch")
# Fields that older checkpoints carry and that now have one value only: accepted at that value.
REMOVED_FIELDS = {"backbone_stride": 32}


@dataclass
class ACTConfig:
    """Architecture of one ACT model; shapes of the data it consumes come from the dataset."""

    state_dim: int = 4  # size of the joint-state (qpos) vector, taken from the data
    action_dim: int = 4  # size of one action, taken from the data
    camera_names: tuple[str, ...] = ("behindGripper",)  # cameras fed to the model, in this order
    image_size: int = 128  # side of the square input images in pixels (H = W)
    chunk_size: int = 100  # number of future actions predicted per forward pass (S)
    hidden_dim: int = 512  # transformer width (D); must be divisible by n_heads and by 4
    n_heads: int = 8  # attention heads in every transformer layer
    dim_feedforward: int = 3200  # hidden size of the feed-forward block in every transformer layer
    enc_layers: int = 4  # layers of the main transformer encoder
    dec_layers: int = 1  # decoder layers actually run and used (original: 7 declared, 1 used)
    cvae_enc_layers: int = 4  # layers of the CVAE (style) encoder
    latent_dim: int = 32  # size of the CVAE latent z (L)
    dropout: float = 0.1  # dropout in every transformer layer, in [0, 1)
    kl_weight: float = 10.0  # weight of the KL term in the training loss (beta)
    backbone: str = "resnet18"  # torchvision ResNet used as image encoder (512-channel layer4)
    pretrained_backbone: bool = False  # start the backbone from ImageNet weights (needs download)
    backbone_norm: str = "group"  # "group" (GroupNorm), "batch" (trainable BN), "frozen_batch"
    # Modified ACT only: False feeds the CVAE encoder the image tokens detached, so the KL term trains
    # the CVAE encoder but not the backbone (early in training its gradient into the backbone is ~30x
    # the L1 term's, README "Models"); True (the default) lets it flow, as the plain model does
    cvae_image_grad: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.camera_names, list):
            self.camera_names = tuple(self.camera_names)
        self._validate()

    def _validate(self) -> None:
        positive_ints = (
            "state_dim", "action_dim", "chunk_size", "hidden_dim", "n_heads", "dim_feedforward",
            "enc_layers", "dec_layers", "cvae_enc_layers", "latent_dim",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ACTConfig.{name} must be a positive integer, got {value!r}")
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int):
            raise TypeError(f"ACTConfig.image_size must be an integer, got {self.image_size!r}")
        if self.image_size < 32:
            raise ValueError(
                f"ACTConfig.image_size={self.image_size} is too small: the ResNet backbone has "
                "stride 32, so use image_size >= 32"
            )
        if self.hidden_dim % self.n_heads != 0:
            raise ValueError(
                f"ACTConfig.hidden_dim={self.hidden_dim} is not divisible by n_heads={self.n_heads}; "
                "change one of them so that hidden_dim % n_heads == 0"
            )
        if self.hidden_dim % 4 != 0:
            raise ValueError(
                f"ACTConfig.hidden_dim={self.hidden_dim} must be divisible by 4 (the 2D sinusoidal "
                "position embedding splits it into sin/cos halves for y and x)"
            )
        if (
            not isinstance(self.camera_names, tuple)
            or len(self.camera_names) == 0
            or not all(isinstance(name, str) and name for name in self.camera_names)
        ):
            raise ValueError(
                "ACTConfig.camera_names must be a non-empty tuple or list of non-empty strings, "
                f"got {self.camera_names!r}"
            )
        if len(set(self.camera_names)) != len(self.camera_names):
            raise ValueError(f"ACTConfig.camera_names has duplicates: {self.camera_names!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float):
            raise TypeError(f"ACTConfig.dropout must be a number, got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"ACTConfig.dropout={self.dropout} must be in [0, 1)")
        if isinstance(self.kl_weight, bool) or not isinstance(self.kl_weight, int | float):
            raise TypeError(f"ACTConfig.kl_weight must be a number, got {self.kl_weight!r}")
        if self.kl_weight < 0:
            raise ValueError(f"ACTConfig.kl_weight={self.kl_weight} must be >= 0")
        if self.backbone not in SUPPORTED_BACKBONES:
            raise ValueError(
                f"ACTConfig.backbone={self.backbone!r} is not supported; use one of "
                f"{SUPPORTED_BACKBONES}"
            )
        if not isinstance(self.pretrained_backbone, bool):
            raise TypeError(
                f"ACTConfig.pretrained_backbone must be True or False, got {self.pretrained_backbone!r}"
            )
        if not isinstance(self.cvae_image_grad, bool):
            raise TypeError(f"ACTConfig.cvae_image_grad must be True or False, got {self.cvae_image_grad!r}")
        if self.backbone_norm not in BACKBONE_NORMS:
            raise ValueError(
                f"ACTConfig.backbone_norm={self.backbone_norm!r} is not supported; use one of "
                f"{BACKBONE_NORMS}"
            )
        if self.backbone_norm == "frozen_batch" and not self.pretrained_backbone:
            raise ValueError(
                "ACTConfig.backbone_norm='frozen_batch' keeps BatchNorm statistics fixed, which only "
                "makes sense with ImageNet weights; set pretrained_backbone=True or use "
                "backbone_norm='group' (or 'batch')"
            )

    @property
    def num_cameras(self) -> int:
        """Number of cameras (N)."""
        return len(self.camera_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists)."""
        return {
            field.name: list(value) if isinstance(value, tuple) else value
            for field in dataclasses.fields(self)
            for value in (getattr(self, field.name),)
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ACTConfig:
        """Inverse of ``to_dict``; missing keys take their defaults, unknown keys are an error."""
        values = dict(values)
        for name, only_value in REMOVED_FIELDS.items():
            if name in values and values[name] == only_value:
                del values[name]
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"ACTConfig.from_dict got unknown keys {unknown}; valid keys are {sorted(known)} "
                "(check for typos or a config written by another version)"
            )
        return cls(**values)
