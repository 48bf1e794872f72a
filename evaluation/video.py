"""MP4 videos of rollouts and of recorded demonstrations, annotated with the step and success.

Files are written under a temporary name and renamed when complete, so a killed run never leaves a
truncated MP4 under the final name. Frames are (H, W, 3) uint8 RGB; H.264 with yuv420p needs even
sides, so an odd side is padded by one edge pixel (imageio would otherwise rescale to a multiple of 16).
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.atomic import atomic_path

SUCCESS_COLOR = (40, 200, 60)
BORDER_FRACTION = 1 / 40  # success border width relative to the frame side


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except (TypeError, OSError):
        return ImageFont.load_default()


def upscale(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8 (nearest-neighbour, so pixels stay honest); no-op if equal."""
    if frame.shape[0] == size and frame.shape[1] == size:
        return frame
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.NEAREST))


def annotate(frame: np.ndarray, step: int, success: bool) -> np.ndarray:
    """A copy of `frame` (H, W, 3) uint8 with "step N" in the top-left corner and, once the task is
    solved, a green border and "SUCCESS"."""
    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    side = min(image.size)
    font = _font(max(8, side // 16))
    margin = max(2, side // 64)
    text = f"step {step}"
    left, top, right, bottom = draw.textbbox((margin, margin), text, font=font)
    draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=(0, 0, 0))
    draw.text((margin, margin), text, fill=(255, 255, 255), font=font)
    if success:
        border = max(2, round(side * BORDER_FRACTION))
        draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=SUCCESS_COLOR, width=border)
        label = "SUCCESS"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        x = image.width - (right - left) - border - margin
        y = image.height - (bottom - top) - border - margin - top
        draw.rectangle((x - 1, y + top - 1, x + right - left + 1, y + bottom + 1), fill=(0, 0, 0))
        draw.text((x, y), label, fill=SUCCESS_COLOR, font=font)
    return np.asarray(image)


def _even(frames: np.ndarray) -> np.ndarray:
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 30) -> Path:
    """Writes (T, H, W, 3) uint8 `frames` to an H.264 MP4 at `path` atomically; returns the path."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be a non-empty (T, H, W, 3) uint8 array, got {frames.dtype} {frames.shape}")
    if fps < 1:
        raise ValueError(f"fps must be >= 1, got {fps}")
    # The temporary name keeps the .mp4 extension: imageio picks the container from it.
    with atomic_path(path, suffix=".tmp.mp4") as tmp, imageio.get_writer(
        tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", pixelformat="yuv420p",
        macro_block_size=1, ffmpeg_log_level="error",
    ) as writer:
        for frame in _even(frames):
            writer.append_data(frame)
    return Path(path)


def write_demo_videos(
    dataset: str | os.PathLike, output_dir: str | os.PathLike, num_videos: int = 1, size: int = 256, fps: int = 30
) -> list[Path]:
    """Replays the recorded frames of the first `num_videos` demonstrations of `dataset` (their first
    camera, upscaled to `size` and annotated) into ``output_dir/demo_<seed>.mp4``."""
    from envs.hdf5_demos import read_episode, validate_demo_file

    info = validate_demo_file(dataset, check_data=False)
    camera = info.cameras[0]
    paths = []
    for index in range(min(num_videos, info.num_episodes)):
        episode = read_episode(dataset, index)
        first_success = int(episode.get("first_success_step", -1))
        frames = [
            # Observation t follows action t-1; success was reported after action first_success.
            annotate(upscale(frame, size), step, first_success >= 0 and step > first_success)
            for step, frame in enumerate(episode["images"][camera])
        ]
        paths.append(write_video(Path(output_dir) / f"demo_{int(episode['seed'])}.mp4", np.stack(frames), fps=fps))
    return paths
