"""Modified ACT: identical to the standard model except for what its CVAE encoder sees."""

from __future__ import annotations

from models.act_base import ACTBase


class ModifiedACT(ACTBase):
    """ACT whose CVAE encoder additionally sees the image feature tokens of every camera.

    This is the one difference from ``StandardACT`` (joint state, action chunk only): the image
    tokens are the same ones the main encoder gets (shared backbone, same projection, same position
    and camera embeddings, computed once per forward), so the latent can depend on the image.
    At inference z = 0 as in the standard model, so the CVAE encoder is not run.
    """

    cvae_sees_images = True
