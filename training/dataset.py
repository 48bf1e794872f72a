"""Training windows over a demonstration HDF5 file (schema in `envs.hdf5_demos`).

A sample is the observation at step t of an episode (joint state, one image per
camera) and the `chunk_size` actions from t on, zero-padded past the episode's end
with an ``is_pad`` mask. Windows are drawn by `StepBatchSampler`: each sample
picks a random episode, then a random step in it (as the original ACT does), and
batch k is a pure function of (seed, k), so a resumed run sees exactly the
batches an uninterrupted one would, whatever the number of DataLoader workers.

Joint states and actions come out normalised; images stay uint8 (cheap to move
between processes) and are normalised by `training.normalizer.normalize_images`.
The HDF5 file is opened lazily, once per DataLoader worker process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, default_collate

from envs.hdf5_demos import episode_name, validate_demo_file
from training import batch_keys
from training.normalizer import Normalizer


def split_episodes(num_episodes: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of episode indices into (train, val); val gets at least one episode when possible."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = np.random.default_rng(seed).permutation(num_episodes).tolist()
    num_val = round(num_episodes * val_fraction)
    if val_fraction > 0 and num_val == 0 and num_episodes > 1:
        num_val = 1
    return sorted(order[num_val:]), sorted(order[:num_val])


STATE_INPUTS = ("qpos", "env_state")  # what the model's state vector is: hand state, or MetaWorld's full state


def load_low_dim(
    path: str, episodes: Sequence[int], state_input: str = "qpos"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """State vectors (T, Q) (``obs/<state_input>``) and actions (T, A) of the given episodes."""
    if state_input not in STATE_INPUTS:
        raise ValueError(f"state_input must be one of {', '.join(STATE_INPUTS)}, got {state_input!r}")
    with h5py.File(path, "r") as f:
        qpos = [f[episode_name(e)][f"obs/{state_input}"][()].astype(np.float32) for e in episodes]
        actions = [f[episode_name(e)]["actions"][()] for e in episodes]
    return qpos, actions


def fit_normalizer(path: str, train_episodes: Sequence[int], state_input: str = "qpos") -> Normalizer:
    """Normalisation statistics of the training episodes only."""
    qpos, actions = load_low_dim(path, train_episodes, state_input)
    return Normalizer.from_data(np.concatenate(qpos), np.concatenate(actions))


class EpisodeWindowDataset(Dataset):
    """Index i ↦ the window starting at flat step i of the chosen episodes."""

    def __init__(
        self,
        path: str,
        episodes: Sequence[int],
        chunk_size: int,
        cameras: Sequence[str],
        normalizer: Normalizer,
        state_input: str = "qpos",
    ) -> None:
        info = validate_demo_file(path)
        missing = [c for c in cameras if c not in info.cameras]
        if missing:
            raise ValueError(f"{path} has no camera {', '.join(missing)}; it holds {', '.join(info.cameras)}")
        if not episodes:
            raise ValueError("no episodes to draw windows from")
        self.path = path
        self.episodes = list(episodes)
        self.cameras = tuple(cameras)
        self.chunk_size = chunk_size
        qpos, actions = load_low_dim(path, self.episodes, state_input)
        with torch.no_grad():
            self._qpos = [normalizer.normalize_qpos(torch.as_tensor(q)).float() for q in qpos]  # (T, Q) each
            self._actions = [normalizer.normalize_actions(torch.as_tensor(a)).float() for a in actions]  # (T, A)
        self.lengths = np.array([len(a) for a in actions])
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self._file: h5py.File | None = None
        self._file_pid: int | None = None

    def __len__(self) -> int:
        return int(self.lengths.sum())

    def locate(self, index: int) -> tuple[int, int]:
        """(position in self.episodes, step) of flat index `index`."""
        position = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return position, int(index - self.offsets[position])

    def _h5(self) -> h5py.File:
        # One handle per process: h5py handles must not cross a fork into DataLoader workers.
        if self._file is None or self._file_pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._file_pid = os.getpid()
        return self._file

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        position, step = self.locate(index)
        group = self._h5()[episode_name(self.episodes[position])]
        images = np.stack([group[f"obs/images/{camera}"][step] for camera in self.cameras])  # (N, H, W, 3)
        actions = self._actions[position][step : step + self.chunk_size]  # (<=S, A)
        valid = actions.shape[0]
        action_chunk = torch.zeros(self.chunk_size, actions.shape[1])  # (S, A)
        action_chunk[:valid] = actions
        is_pad = torch.arange(self.chunk_size) >= valid  # (S,)
        return {
            batch_keys.QPOS: self._qpos[position][step],  # (Q,)
            batch_keys.IMAGES: torch.from_numpy(images),  # (N, H, W, 3) uint8
            batch_keys.ACTION_CHUNK: action_chunk,  # (S, A)
            batch_keys.IS_PAD: is_pad,  # (S,)
        }

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_file"] = None  # reopened in the worker
        return state


class DeviceWindows:
    """Every window of an `EpisodeWindowDataset` held in memory on one device (images stay uint8), so
    that a batch is four index lookups there instead of per-sample HDF5 reads in DataLoader workers
    and a copy to the device. Built by collating every ``dataset[i]`` once, so ``batch(indices)``
    holds exactly what collating those items gives.

    Memory: the frames of the chosen cameras (50 shelf-place demos, two 96 px cameras: 0.3 GB) plus
    every padded action chunk (frames × chunk × action_dim floats: 4 MB there).
    """

    def __init__(self, dataset: EpisodeWindowDataset, device: torch.device | str) -> None:
        every = default_collate([dataset[i] for i in range(len(dataset))])  # F = all windows
        self.qpos = every[batch_keys.QPOS].to(device)  # (F, Q)
        self.images = every[batch_keys.IMAGES].to(device)  # (F, N, H, W, 3) uint8
        self.action_chunks = every[batch_keys.ACTION_CHUNK].to(device)  # (F, S, A)
        self.is_pad = every[batch_keys.IS_PAD].to(device)  # (F, S)

    def batch(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        index = torch.as_tensor(indices, device=self.images.device)  # (B,)
        return {
            batch_keys.QPOS: self.qpos[index],  # (B, Q)
            batch_keys.IMAGES: self.images[index],  # (B, N, H, W, 3) uint8
            batch_keys.ACTION_CHUNK: self.action_chunks[index],  # (B, S, A)
            batch_keys.IS_PAD: self.is_pad[index],  # (B, S)
        }


class StepBatchSampler(Sampler[list[int]]):
    """Yields the flat indices of batches `start_step`, ..., `num_steps - 1`.

    Batch k samples `batch_size` windows: a uniform episode, then a uniform step
    of it, from a generator seeded with (seed, k).
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, num_steps: int, start_step: int = 0) -> None:
        self.lengths = np.asarray(lengths)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.batch_size = batch_size
        self.seed = seed
        self.num_steps = num_steps
        self.start_step = start_step

    def batch_indices(self, step: int) -> list[int]:
        rng = np.random.default_rng([self.seed, step])
        episodes = rng.integers(len(self.lengths), size=self.batch_size)
        steps = np.floor(rng.random(self.batch_size) * self.lengths[episodes]).astype(np.int64)
        return (self.offsets[episodes] + steps).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.num_steps):
            yield self.batch_indices(step)

    def __len__(self) -> int:
        return max(self.num_steps - self.start_step, 0)
