"""Names of the tensors in a training batch, in one place so a typo fails loudly.

Shapes (B batch, N cameras, H = W image side, S chunk length, Q joint-state size, A action size):

- ``QPOS``: (B, Q) float32, normalised joint state at the window's first step
- ``IMAGES``: (B, N, H, W, 3) uint8, raw camera images at that step (normalised on the fly)
- ``ACTION_CHUNK``: (B, S, A) float32, normalised actions from that step on, zero-padded
- ``IS_PAD``: (B, S) bool, True where the chunk runs past the episode's end
"""

QPOS = "qpos"
IMAGES = "images"
ACTION_CHUNK = "action_chunk"
IS_PAD = "is_pad"
