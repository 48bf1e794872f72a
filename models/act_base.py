"""The ACT network (Zhao et al. 2023, Sec. IV, Fig. 3), shared by the standard and modified variants.

Two parts, both transformers:

- the CVAE ("style") encoder, used in training only, reads [CLS, joint state, action chunk]
  (plus, in the modified variant, the image tokens) and outputs the posterior (mu, logvar) of the
  latent z;
- the CVAE decoder, i.e. the policy, encodes [z, joint state, image tokens of every camera] and
  decodes ``chunk_size`` learned queries into an action chunk. At inference z = 0 (the prior mean).

Subclasses set only ``cvae_sees_images``. Deviations from the original ACT code, and why:

- ``dec_layers`` decoder layers all run and the last one's output is used (the original declares 7
  and uses the first one's output only; the default of 1 matches what it effectively trained).
- Each camera's feature map becomes its own block of tokens with the 2D sinusoidal embedding plus a
  learned per-camera embedding; the original concatenates the maps along the width with identical
  position embeddings, so the model can only tell cameras apart by their content.
- No ``is_pad`` prediction head: the original creates one but never trains or uses it.
- Xavier-uniform initialisation is applied to all three transformer stacks (the original applies it
  to the main encoder and decoder only).
- Whether the latent path runs is decided by whether ``action_chunk`` is given, not by
  ``self.training``, so validation losses can be computed in eval mode.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn

from models.backbone import ResNetBackbone
from models.config import ACTConfig
from models.position_encoding import sinusoidal_1d, sinusoidal_2d
from models.transformer import TransformerDecoder, TransformerEncoder


def backbone_feature_size(image_size: int) -> int:
    """Side of the backbone's feature map for a square image of side ``image_size``: conv1, maxpool,
    layer2, layer3 and layer4 each halve H and W, rounding up."""
    size = image_size
    for _ in range(5):
        size = math.ceil(size / 2)
    return size


def _xavier_init(module: nn.Module) -> None:
    for parameter in module.parameters():
        if parameter.dim() > 1:
            nn.init.xavier_uniform_(parameter)


class CVAEEncoder(nn.Module):
    """Posterior q(z | joint state, action chunk[, image tokens]) → (mu, logvar), each (B, L).

    Token order: [CLS, qpos, action_1..action_S, image tokens...]. The first 2 + S tokens carry a
    fixed 1D sinusoidal position embedding (as in the original); image tokens carry the same
    position embedding they get in the main encoder. Padded actions are masked out as keys.
    """

    def __init__(self, config: ACTConfig) -> None:
        super().__init__()
        hidden_dim = config.hidden_dim
        self.cls_embed = nn.Embedding(1, hidden_dim)
        self.qpos_proj = nn.Linear(config.state_dim, hidden_dim)
        self.action_proj = nn.Linear(config.action_dim, hidden_dim)
        self.register_buffer(
            "sequence_pos", sinusoidal_1d(2 + config.chunk_size, hidden_dim), persistent=False
        )  # (2+S, D)
        self.encoder = TransformerEncoder(
            config.cvae_enc_layers, hidden_dim, config.n_heads, config.dim_feedforward, config.dropout
        )
        self.latent_proj = nn.Linear(hidden_dim, 2 * config.latent_dim)
        _xavier_init(self.encoder)

    def forward(
        self,
        qpos: Tensor,
        action_chunk: Tensor,
        is_pad: Tensor,
        image_tokens: Tensor | None = None,
        image_pos: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """qpos (B, state_dim), action_chunk (B, S, A), is_pad (B, S) bool (True = padded),
        image_tokens (B, N*h*w, D) with image_pos (1, N*h*w, D), or both None."""
        batch_size = qpos.shape[0]
        cls_token = self.cls_embed.weight.expand(batch_size, 1, -1)  # (B, 1, D)
        qpos_token = self.qpos_proj(qpos).unsqueeze(1)  # (B, 1, D)
        action_tokens = self.action_proj(action_chunk)  # (B, S, D)
        tokens = [cls_token, qpos_token, action_tokens]
        positions = [self.sequence_pos.unsqueeze(0)]  # [(1, 2+S, D)]
        never_pad = torch.zeros(batch_size, 2, dtype=torch.bool, device=qpos.device)  # (B, 2)
        padding = [never_pad, is_pad]
        if image_tokens is not None:
            if image_pos is None:
                raise ValueError("image_tokens need their image_pos")
            tokens.append(image_tokens)  # (B, N*h*w, D)
            positions.append(image_pos)  # (1, N*h*w, D)
            padding.append(never_pad.new_zeros(batch_size, image_tokens.shape[1]))  # (B, N*h*w)
        encoded = self.encoder(
            torch.cat(tokens, dim=1),  # (B, T, D)
            pos=torch.cat(positions, dim=1),  # (1, T, D)
            key_padding_mask=torch.cat(padding, dim=1),  # (B, T)
        )  # (B, T, D)
        latent_params = self.latent_proj(encoded[:, 0])  # (B, 2L)
        mu, logvar = latent_params.chunk(2, dim=-1)  # (B, L), (B, L)
        return mu, logvar


class ACTBase(nn.Module):
    """Action Chunking with Transformers. Subclasses set ``cvae_sees_images`` and nothing else.

    ``forward(qpos, images, action_chunk=None, is_pad=None) -> (pred_actions, mu, logvar)``:

    - qpos (B, state_dim) float; images (B, N, 3, H, W) float, already ImageNet-normalised;
    - with ``action_chunk`` (B, S, A) and optional ``is_pad`` (B, S) bool (True = padded step):
      training path, z is sampled from the CVAE posterior and mu, logvar (B, L) are returned;
    - without it: inference path, z = 0 and mu = logvar = None;
    - pred_actions is (B, S, A) with S = ``config.chunk_size``.

    The public ``backbone`` attribute lets a trainer give the ResNet its own learning rate.
    """

    cvae_sees_images: ClassVar[bool]

    def __init__(self, config: ACTConfig) -> None:
        if not hasattr(type(self), "cvae_sees_images"):
            raise TypeError(
                f"{type(self).__name__} must set the class attribute cvae_sees_images; "
                "use StandardACT or ModifiedACT"
            )
        super().__init__()
        self.config = config
        hidden_dim = config.hidden_dim
        self.backbone = ResNetBackbone(config)
        self.image_proj = nn.Conv2d(self.backbone.num_channels, hidden_dim, kernel_size=1)
        self.camera_embed = nn.Embedding(config.num_cameras, hidden_dim)
        feature_size = backbone_feature_size(config.image_size)
        self.register_buffer(
            "grid_pos", sinusoidal_2d(feature_size, feature_size, hidden_dim), persistent=False
        )  # (h*w, D)

        self.cvae_encoder = CVAEEncoder(config)
        self.latent_out_proj = nn.Linear(config.latent_dim, hidden_dim)
        self.qpos_proj = nn.Linear(config.state_dim, hidden_dim)
        self.token_pos_embed = nn.Embedding(2, hidden_dim)  # learned positions of [z, qpos]
        self.encoder = TransformerEncoder(
            config.enc_layers, hidden_dim, config.n_heads, config.dim_feedforward, config.dropout
        )
        self.decoder = TransformerDecoder(
            config.dec_layers, hidden_dim, config.n_heads, config.dim_feedforward, config.dropout
        )
        self.query_pos_embed = nn.Embedding(config.chunk_size, hidden_dim)
        self.action_head = nn.Linear(hidden_dim, config.action_dim)
        _xavier_init(self.encoder)
        _xavier_init(self.decoder)

    def encode_images(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images (B, N, 3, H, W) → tokens (B, N*h*w, D) and their positions (1, N*h*w, D).

        All cameras share one backbone; each camera's tokens get the 2D sinusoidal embedding of
        their cell plus that camera's learned embedding.
        """
        batch_size, num_cameras, channels, height, width = images.shape
        features = self.backbone(
            images.reshape(batch_size * num_cameras, channels, height, width)  # (B*N, 3, H, W)
        )  # (B*N, C, h, w), C = 512
        features = self.image_proj(features)  # (B*N, D, h, w)
        _, hidden_dim, feature_h, feature_w = features.shape
        if feature_h * feature_w != self.grid_pos.shape[0]:
            raise RuntimeError(
                f"backbone produced a {feature_h}x{feature_w} feature map, expected "
                f"{self.grid_pos.shape[0]} cells for image_size={self.config.image_size}"
            )
        tokens = (
            features.reshape(batch_size, num_cameras, hidden_dim, feature_h * feature_w)  # (B, N, D, h*w)
            .transpose(2, 3)  # (B, N, h*w, D)
            .reshape(batch_size, num_cameras * feature_h * feature_w, hidden_dim)  # (B, N*h*w, D)
        )
        camera_pos = self.camera_embed.weight.unsqueeze(1)  # (N, 1, D)
        pos = (self.grid_pos.unsqueeze(0) + camera_pos).reshape(1, -1, hidden_dim)  # (1, N*h*w, D)
        return tokens, pos

    def forward(
        self,
        qpos: Tensor,
        images: Tensor,
        action_chunk: Tensor | None = None,
        is_pad: Tensor | None = None,
        latent_noise: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """See the class docstring for the contract. `latent_noise` (B, L) is the standard normal draw of
        the reparameterised z = mu + sigma * noise (training only; drawn here when None): the trainer passes
        its own so that data-parallel ranks share one draw for the global batch."""
        self._check_inputs(qpos, images, action_chunk, is_pad)
        config = self.config
        batch_size = qpos.shape[0]
        image_tokens, image_pos = self.encode_images(images)  # (B, N*h*w, D), (1, N*h*w, D)

        if action_chunk is None:
            mu = logvar = None
            z = qpos.new_zeros(batch_size, config.latent_dim)  # (B, L)
        else:
            if is_pad is None:
                is_pad = torch.zeros(
                    batch_size, config.chunk_size, dtype=torch.bool, device=qpos.device
                )  # (B, S)
            cvae_tokens = cvae_pos = None
            if self.cvae_sees_images:
                cvae_tokens, cvae_pos = image_tokens, image_pos
                if not config.cvae_image_grad:  # the KL term then cannot reshape the shared image features
                    cvae_tokens, cvae_pos = image_tokens.detach(), image_pos.detach()
            mu, logvar = self.cvae_encoder(qpos, action_chunk, is_pad, cvae_tokens, cvae_pos)  # (B, L), (B, L)
            if latent_noise is not None and tuple(latent_noise.shape) != tuple(mu.shape):
                raise ValueError(f"latent_noise must have shape (B, L) = {tuple(mu.shape)}, got {tuple(latent_noise.shape)}")
            noise = torch.randn_like(mu) if latent_noise is None else latent_noise.to(mu)  # (B, L)
            z = mu + torch.exp(0.5 * logvar) * noise  # (B, L)

        latent_token = self.latent_out_proj(z).unsqueeze(1)  # (B, 1, D)
        qpos_token = self.qpos_proj(qpos).unsqueeze(1)  # (B, 1, D)
        tokens = torch.cat([latent_token, qpos_token, image_tokens], dim=1)  # (B, 2+N*h*w, D)
        pos = torch.cat([self.token_pos_embed.weight.unsqueeze(0), image_pos], dim=1)  # (1, 2+N*h*w, D)
        memory = self.encoder(tokens, pos=pos)  # (B, 2+N*h*w, D)

        queries = memory.new_zeros(batch_size, config.chunk_size, config.hidden_dim)  # (B, S, D)
        decoded = self.decoder(
            queries, memory, query_pos=self.query_pos_embed.weight.unsqueeze(0), memory_pos=pos
        )  # (B, S, D)
        pred_actions = self.action_head(decoded)  # (B, S, A)
        return pred_actions, mu, logvar

    def _check_inputs(
        self,
        qpos: Tensor,
        images: Tensor,
        action_chunk: Tensor | None,
        is_pad: Tensor | None,
    ) -> None:
        config = self.config
        if qpos.dim() != 2 or qpos.shape[1] != config.state_dim:
            raise ValueError(
                f"qpos must have shape (B, state_dim={config.state_dim}), got {tuple(qpos.shape)}"
            )
        batch_size = qpos.shape[0]
        expected_images = (
            batch_size, config.num_cameras, 3, config.image_size, config.image_size
        )
        if tuple(images.shape) != expected_images:
            raise ValueError(
                f"images must have shape (B, N, 3, H, W) = {expected_images} for cameras "
                f"{config.camera_names} and image_size={config.image_size}, got "
                f"{tuple(images.shape)}; resize the images or change ACTConfig.camera_names / "
                "image_size"
            )
        if not (qpos.is_floating_point() and images.is_floating_point()):
            raise ValueError(
                f"qpos and images must be floating point, got {qpos.dtype} and {images.dtype}"
            )
        if action_chunk is None:
            if is_pad is not None:
                raise ValueError("is_pad was given without action_chunk; pass both or neither")
            return
        expected_chunk = (batch_size, config.chunk_size, config.action_dim)
        if tuple(action_chunk.shape) != expected_chunk:
            raise ValueError(
                f"action_chunk must have shape (B, S, A) = {expected_chunk} with "
                f"S = chunk_size={config.chunk_size}, got {tuple(action_chunk.shape)}"
            )
        if is_pad is not None and (
            tuple(is_pad.shape) != expected_chunk[:2] or is_pad.dtype != torch.bool
        ):
            raise ValueError(
                f"is_pad must be a bool tensor of shape (B, S) = {expected_chunk[:2]}, got "
                f"{is_pad.dtype} of shape {tuple(is_pad.shape)}"
            )
