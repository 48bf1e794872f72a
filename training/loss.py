"""Training loss of ACT (Zhao et al. 2023, Sec. IV-A): L1 reconstruction + beta * KL.

The reconstruction term can also be the squared error ("l2") or a Huber loss ("huber": quadratic
within `huber_delta` of the target, L1 beyond, with L1's slope there). With L1 every entry pulls
with the same force whatever its error, so targets that sit exactly at 0 on most frames (the hand
standing still along one axis) hold a prediction at 0 as hard as the rare frames where the target
moves pull it away; a quadratic centre lets a small error there cost almost nothing.

Deviation from the original code: the L1 term is the mean over non-padded (batch, step, action-dim)
entries only. The original multiplies padded entries by zero but still divides by all entries, so
its L1 shrinks with the fraction of padding (episode ends weigh less); here padded steps neither
contribute nor dilute. The KL term matches the original: summed over latent dims, averaged over batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over latent dims, averaged over the batch → ()."""
    per_dim = 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar)  # (B, L)
    return per_dim.sum(dim=-1).mean()  # ()


def act_loss(
    pred_actions: Tensor,
    target_actions: Tensor,
    is_pad: Tensor,
    mu: Tensor | None,
    logvar: Tensor | None,
    kl_weight: float,
    reconstruction: str = "l1",
    huber_delta: float = 1.0,
    valid_rows: Tensor | None = None,
) -> dict[str, Tensor]:
    """{"loss", "l1", "kl"} scalar tensors and "l1_per_dim" (A,) for predictions/targets (B, S, A)
    and is_pad (B, S). ``l1`` is the mean of ``l1_per_dim``, whatever ``reconstruction`` the loss
    uses (one of `RECONSTRUCTION_LOSSES`, see the module doc); ``loss`` = that term + kl_weight · kl.

    ``is_pad`` is True for padded steps; those never affect the loss, whatever values they hold.
    With ``mu`` None (no latent path) the KL term is 0.

    ``valid_rows`` is the number of non-padded (batch, step) rows the reconstruction mean divides by
    (default: this batch's). A data-parallel rank passes the global batch's count ÷ the number of
    processes, so that the mean of the ranks' losses (what their averaged gradients descend) is the
    loss of the whole batch, however its padding falls between them.
    """
    if pred_actions.shape != target_actions.shape:
        raise ValueError(
            f"pred_actions {tuple(pred_actions.shape)} and target_actions "
            f"{tuple(target_actions.shape)} must have the same shape (B, S, A)"
        )
    if is_pad.shape != pred_actions.shape[:2] or is_pad.dtype != torch.bool:
        raise ValueError(
            f"is_pad must be a bool tensor of shape (B, S) = {tuple(pred_actions.shape[:2])}, got "
            f"{is_pad.dtype} of shape {tuple(is_pad.shape)}"
        )
    if (mu is None) != (logvar is None):
        raise ValueError("mu and logvar must both be tensors or both be None")
    check_reconstruction(reconstruction, huber_delta)

    valid = (~is_pad).unsqueeze(-1).expand_as(pred_actions)  # (B, S, A)
    # where() rather than a multiply, so even inf/nan at padded steps cannot leak into the loss.
    abs_error = torch.where(valid, (pred_actions - target_actions).abs(), 0.0)  # (B, S, A)
    rows = valid[..., 0].sum() if valid_rows is None else valid_rows  # () non-padded (batch, step) rows
    entries = (rows * pred_actions.shape[-1]).clamp(min=1)  # () non-padded (batch, step, action) entries
    l1 = abs_error.sum() / entries  # ()
    kl = (
        pred_actions.new_zeros(()) if mu is None else kl_to_standard_normal(mu, logvar)
    )  # ()
    l1_per_dim = abs_error.sum(dim=(0, 1)) / rows.clamp(min=1)  # (A,)
    if reconstruction == "l1":
        recon = l1
    else:
        # from the masked absolute error, so padded entries stay 0 (both losses are 0 at 0)
        if reconstruction == "l2":
            error = abs_error.pow(2)  # (B, S, A)
        else:  # huber in smooth-L1 form: slope 1 beyond delta, as L1
            error = F.smooth_l1_loss(abs_error, torch.zeros_like(abs_error), beta=huber_delta, reduction="none")
        recon = error.sum() / entries  # ()
    return {"loss": recon + kl_weight * kl, "l1": l1, "kl": kl, "l1_per_dim": l1_per_dim}


RECONSTRUCTION_LOSSES = ("l1", "l2", "huber")


def check_reconstruction(reconstruction: str, huber_delta: float) -> None:
    """Raises ValueError unless `reconstruction` names a reconstruction loss and `huber_delta` > 0."""
    if reconstruction not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"reconstruction loss must be one of {', '.join(RECONSTRUCTION_LOSSES)}, got {reconstruction!r}")
    if not huber_delta > 0:
        raise ValueError(f"huber_delta must be positive, got {huber_delta}")


def action_dim_names(action_dim: int) -> tuple[str, ...]:
    """Names of the action dimensions for per-dimension metrics: MetaWorld's hand motion x, y, z and
    gripper effort for 4, else a0, a1, ..."""
    return ("x", "y", "z", "grip") if action_dim == 4 else tuple(f"a{index}" for index in range(action_dim))


def forward_and_loss(
    model: torch.nn.Module,
    qpos: Tensor,
    images: Tensor,
    action_chunk: Tensor,
    is_pad: Tensor,
    kl_weight: float,
    amp: str = "off",
    reconstruction: str = "l1",
    huber_delta: float = 1.0,
    latent_noise: Tensor | None = None,
    valid_rows: Tensor | None = None,
) -> dict[str, Tensor]:
    """One training forward pass and its `act_loss`. With ``amp="bf16"`` the model runs under
    bfloat16 autocast and the loss is computed in fp32 from its outputs cast back. `latent_noise`
    goes to the model (its CVAE draw), `valid_rows` to `act_loss`."""
    bf16 = amp == "bf16"
    extra = {} if latent_noise is None else {"latent_noise": latent_noise}
    with torch.autocast(qpos.device.type, dtype=torch.bfloat16, enabled=bf16):
        pred, mu, logvar = model(qpos, images, action_chunk, is_pad, **extra)  # (B, S, A), (B, L), (B, L)
    if bf16:
        pred = pred.float()
        mu, logvar = (None, None) if mu is None else (mu.float(), logvar.float())
    return act_loss(pred, action_chunk, is_pad, mu, logvar, kl_weight, reconstruction, huber_delta, valid_rows)
