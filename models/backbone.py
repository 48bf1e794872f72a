"""ResNet image encoder of ACT (Sec. IV-B): torchvision ResNet up to ``layer4`` (512 channels, stride 32).

Deviations from the original ACT code, and why:

- Normalisation is configurable (``ACTConfig.backbone_norm``). The original uses ImageNet weights
  with frozen BatchNorm ("frozen_batch"). The default here is "group": every BatchNorm is replaced
  by GroupNorm with 16 channels per group, as diffusion_policy does, because BatchNorm statistics
  from small batches of highly correlated robot frames are noisy when training from scratch.
  "batch" keeps plain, trainable BatchNorm.
- ImageNet weights are optional (``pretrained_backbone``, default False, so nothing is downloaded).
  If they are requested but cannot be loaded (e.g. no internet), the backbone falls back to random
  initialisation with a warning instead of failing.

When swapping norms after loading weights, the BatchNorm affine parameters (and for "frozen_batch"
also the running statistics) are copied into the new layers; for "group" the running statistics
have no counterpart and are dropped.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Callable

import torch
import torchvision
from torch import Tensor, nn
from torchvision.ops.misc import FrozenBatchNorm2d

from models.config import ACTConfig

logger = logging.getLogger(__name__)

BACKBONE_CHANNELS = 512  # output channels of ResNet18/34 layer4
GROUP_NORM_CHANNELS_PER_GROUP = 16

# Download (URLError/HTTPError are OSErrors), hash check, unpickling and state-dict mismatches.
_WEIGHT_LOADING_ERRORS = (OSError, RuntimeError, ValueError, KeyError, EOFError, pickle.UnpicklingError)

_RESNET_BUILDERS: dict[str, Callable[..., torchvision.models.ResNet]] = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
}


def _load_imagenet_state_dict(name: str) -> dict[str, Tensor]:
    """ImageNet weights of torchvision's ResNet ``name``; downloads them if not cached."""
    weights = {
        "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
        "resnet34": torchvision.models.ResNet34_Weights.IMAGENET1K_V1,
    }[name]
    return weights.get_state_dict(progress=False)


def _replacement_norm(batch_norm: nn.BatchNorm2d, kind: str) -> nn.Module:
    """A norm layer of ``kind`` initialised from ``batch_norm``'s parameters."""
    channels = batch_norm.num_features
    if kind == "frozen_batch":
        frozen = FrozenBatchNorm2d(channels, eps=batch_norm.eps)
        frozen.weight.copy_(batch_norm.weight.detach())
        frozen.bias.copy_(batch_norm.bias.detach())
        frozen.running_mean.copy_(batch_norm.running_mean)
        frozen.running_var.copy_(batch_norm.running_var)
        return frozen
    if kind == "group":
        group_norm = nn.GroupNorm(channels // GROUP_NORM_CHANNELS_PER_GROUP, channels)
        with torch.no_grad():
            group_norm.weight.copy_(batch_norm.weight)
            group_norm.bias.copy_(batch_norm.bias)
        return group_norm
    raise ValueError(f"unknown norm kind {kind!r}")


def _swap_batch_norms(module: nn.Module, kind: str) -> None:
    """Replace every BatchNorm2d below ``module`` in place with a ``kind`` norm."""
    for child_name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, child_name, _replacement_norm(child, kind))
        else:
            _swap_batch_norms(child, kind)


class ResNetBackbone(nn.Module):
    """(B*N, 3, H, W) ImageNet-normalised images → (B*N, C, ceil(H/s), ceil(W/s)) features,
    C = 512 and s = 32."""

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        self.num_channels = BACKBONE_CHANNELS
        resnet = _RESNET_BUILDERS[config.backbone](weights=None)
        if config.pretrained_backbone:
            self._try_load_imagenet(resnet, config)
        if config.backbone_norm != "batch":
            _swap_batch_norms(resnet, config.backbone_norm)
        # Everything before global pooling: conv1, bn1, relu, maxpool, layer1..layer4.
        self.body = nn.Sequential(*list(resnet.children())[:-2])

    @staticmethod
    def _try_load_imagenet(resnet: nn.Module, config: ACTConfig) -> None:
        try:
            resnet.load_state_dict(_load_imagenet_state_dict(config.backbone))
        except _WEIGHT_LOADING_ERRORS as error:
            message = (
                f"ImageNet weights could not be loaded ({type(error).__name__}: {error}); training "
                "the backbone from random initialisation. Download them with internet access or "
                "pass pretrained_backbone=False"
            )
            if config.backbone_norm == "frozen_batch":
                message += (
                    ". With backbone_norm='frozen_batch' a randomly initialised backbone has no "
                    "working normalisation; consider backbone_norm='group'"
                )
            logger.warning(message)
            warnings.warn(message, stacklevel=3)

    def forward(self, images: Tensor) -> Tensor:
        """images (B*N, 3, H, W) → features (B*N, C, h, w)."""
        return self.body(images)  # (B*N, C, h, w)
