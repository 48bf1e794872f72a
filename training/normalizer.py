"""Normalisation of joint states, actions and images, shared by training and the policy.

Joint states and actions are standardised with mean/std computed on the training
episodes only (std clipped from below, as ACT does, so a constant dimension does
not blow up). Images go from uint8 (.., H, W, 3) to ImageNet-normalised float
(.., 3, H, W), the input statistics a torchvision ResNet expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_STD = 1e-2  # std floor (same value as the original ACT)


@dataclass
class Normalizer:
    """Per-dimension mean and std of joint states (Q,) and actions (A,)."""

    qpos_mean: Tensor
    qpos_std: Tensor
    action_mean: Tensor
    action_std: Tensor

    @classmethod
    def from_data(cls, qpos: np.ndarray, actions: np.ndarray) -> Normalizer:
        """Statistics of (T, Q) joint states and (T, A) actions stacked over training episodes."""

        def stats(values: np.ndarray) -> tuple[Tensor, Tensor]:
            values = torch.as_tensor(np.asarray(values, dtype=np.float64))
            return values.mean(0).float(), values.std(0).clamp(min=MIN_STD).float()

        qpos_mean, qpos_std = stats(qpos)
        action_mean, action_std = stats(actions)
        return cls(qpos_mean, qpos_std, action_mean, action_std)

    def normalize_qpos(self, qpos: Tensor) -> Tensor:
        return (qpos - self.qpos_mean.to(qpos.device)) / self.qpos_std.to(qpos.device)

    def normalize_actions(self, actions: Tensor) -> Tensor:
        return (actions - self.action_mean.to(actions.device)) / self.action_std.to(actions.device)

    def unnormalize_actions(self, actions: Tensor) -> Tensor:
        return actions * self.action_std.to(actions.device) + self.action_mean.to(actions.device)

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "qpos_mean": self.qpos_mean.clone(),
            "qpos_std": self.qpos_std.clone(),
            "action_mean": self.action_mean.clone(),
            "action_std": self.action_std.clone(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor]) -> Normalizer:
        return cls(**{key: torch.as_tensor(state[key]).float() for key in cls.__dataclass_fields__})


def normalize_images(images: Tensor) -> Tensor:
    """uint8 (..., H, W, 3) → ImageNet-normalised float32 (..., 3, H, W)."""
    images = images.movedim(-1, -3).float().div_(255.0)  # (..., 3, H, W) in [0, 1]
    mean = images.new_tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(3, 1, 1)
    return (images - mean) / std
