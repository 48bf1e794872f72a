"""Standard ACT, as in the paper (Zhao et al. 2023, Sec. IV-A): its CVAE encoder sees
(joint state, action chunk) only."""

from __future__ import annotations

from models.act_base import ACTBase


class StandardACT(ACTBase):
    """ACT whose CVAE encoder sees (joint state, action chunk) only.

    As in the paper, the latent z summarises the "style" of the demonstrated chunk and cannot
    depend on the image. Everything else is shared with ``ModifiedACT`` through ``ACTBase``.
    """

    cvae_sees_images = False
