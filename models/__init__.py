"""ACT models (pure PyTorch): tensors in, tensors out."""

from __future__ import annotations

from torch import nn

from models.act_base import ACTBase
from models.config import ACTConfig
from models.modified_act import ModifiedACT
from models.standard_act import StandardACT

MODEL_KINDS = ("standard", "modified")

_MODEL_CLASSES: dict[str, type[ACTBase]] = {"standard": StandardACT, "modified": ModifiedACT}


def build_model(kind: str, config: ACTConfig) -> nn.Module:
    """The ACT variant ``kind`` ("standard" or "modified") built from ``config``."""
    if kind not in _MODEL_CLASSES:
        raise ValueError(f"unknown model kind {kind!r}; valid kinds are {MODEL_KINDS}")
    return _MODEL_CLASSES[kind](config)


__all__ = ["MODEL_KINDS", "ACTBase", "ACTConfig", "ModifiedACT", "StandardACT", "build_model"]
