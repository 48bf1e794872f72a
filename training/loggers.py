"""Where a run's metrics go besides ``metrics.jsonl``: TensorBoard (``--logger tensorboard``), off by default.

The TensorBoard logger writes every scalar of every metrics.jsonl record under the same namespaced
tag (``train/l1``, ``val/loss``, ``eval/success_rate``, ``perf/steps_per_s``, ...) at the same step, and
a frame of the latest rollout video as the image ``eval/rollout_frame``, into ``<run>/tensorboard/``:

    tensorboard --logdir runs/
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

LOGGERS = ("jsonl", "tensorboard")


class LoggerError(RuntimeError):
    """The chosen logger cannot run here (its package is missing); the message says what to install."""


class TensorBoardLogger:
    """Scalars and images into a TensorBoard event file under `log_dir`."""

    def __init__(self, log_dir: str | Path, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise LoggerError(f"--logger tensorboard needs the tensorboard package ({error}); "
                              "pip install tensorboard, or use --logger jsonl") from None
        # purge_step: a resumed run drops what the interrupted one logged after its last checkpoint
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def scalars(self, step: int, record: dict[str, Any]) -> None:
        for tag, value in record.items():
            if tag != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(tag, value, step)
        self.writer.flush()

    def image(self, tag: str, step: int, frame: np.ndarray) -> None:
        """`frame`: (H, W, 3) uint8."""
        self.writer.add_image(tag, frame, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def middle_frame(video: str | Path) -> np.ndarray:
    """(H, W, 3) uint8: the middle frame of an MP4 file."""
    import imageio.v3 as iio

    frames = iio.imread(video)  # (T, H, W, 3)
    return np.asarray(frames[len(frames) // 2])
