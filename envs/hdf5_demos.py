"""The HDF5 file that carries scripted demonstrations: schema, writer and validating reader.

Schema version 1 (one file per dataset)::

    /                                   file attributes:
        schema          = "act-metaworld-demos"
        schema_version  = 1
        complete        = True once the collector finished (a partial file is False)
        task, cameras (JSON list), image_size, fast_render, steps_after_success,
        qpos_dim = 4, env_state_dim = 39, action_dim = 4,
        metaworld_version, mujoco_version, created (ISO time), command (argv),
        failed_seeds (JSON list: seeds whose expert episode failed and was dropped)
    /episode_000000/                    one group per kept episode, numbered from 0
        obs/qpos                (T, 4)  float32  hand xyz + gripper opening
        obs/env_state           (T, 39) float64  MetaWorld's full observation (goal included)
        obs/images/<camera>     (T, H, W, 3) uint8, upright RGB, chunked one frame per chunk, gzip
        actions                 (T, 4)  float32  expert action taken after observing step t, in [-1, 1]
        attributes: seed, length (= T), first_success_step (index t of the first step after which
                    MetaWorld reported success), object_init_pos (3,), goal_pos (3,)

Writing is append-only and atomic per episode: an episode is written under a
temporary group name and moved to its final name only when complete, and the
file is created under ``<output>.partial`` and renamed to ``<output>`` only when
the whole collection finished, so a killed run never leaves a file that reads as
complete (``--resume`` continues the ``.partial`` file).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

SCHEMA_NAME = "act-metaworld-demos"
SCHEMA_VERSION = 1
PARTIAL_SUFFIX = ".partial"
EPISODE_PREFIX = "episode_"
_TMP_GROUP = "_episode_being_written"


# Settings a resumed collection must share with the file it continues: file attributes, and
# (COLLECT_CONFIG_KEYS) fields of the stored collect_config.
COLLECT_CONFIG_KEYS = ("seed",)
RESUME_MUST_MATCH = (
    "task", "cameras", "image_size", "steps_after_success", "fast_render", "action_noise", "grasp_depth",
    "grasp_hold", *COLLECT_CONFIG_KEYS,
)


class DemoFileError(ValueError):
    """The file is not a complete, valid demonstration file of this project."""


def episode_name(index: int) -> str:
    return f"{EPISODE_PREFIX}{index:06d}"


def partial_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + PARTIAL_SUFFIX)


@dataclass
class DemoFileInfo:
    """What a validated demonstration file holds (read from its attributes)."""

    path: str
    task: str
    cameras: tuple[str, ...]
    image_size: int
    qpos_dim: int
    action_dim: int
    num_episodes: int
    episode_lengths: list[int]
    episode_seeds: list[int]
    attrs: dict[str, Any]


class DemoWriter:
    """Appends episodes to ``<path>.partial``; `finalize` renames it to ``<path>``."""

    def __init__(self, path: str | os.PathLike, file_attrs: dict[str, Any], resume: bool = False) -> None:
        self.final_path = Path(path)
        self.path = partial_path(path)
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            try:
                self._file = h5py.File(self.path, "a")
            except OSError as error:
                raise DemoFileError(
                    f"Cannot resume: {self.path} is unreadable ({error}). Delete it or rerun with --overwrite."
                ) from error
            self._check_resume_matches(file_attrs)
            if _TMP_GROUP in self._file:  # an episode was being written when the run died
                del self._file[_TMP_GROUP]
        else:
            self._file = h5py.File(self.path, "w")
            for key, value in file_attrs.items():
                self._file.attrs[key] = value
            self._file.attrs["schema"] = SCHEMA_NAME
            self._file.attrs["schema_version"] = SCHEMA_VERSION
            self._file.attrs["complete"] = False
            self._file.attrs["failed_seeds"] = "[]"
        self._file.flush()

    def _check_resume_matches(self, file_attrs: dict[str, Any]) -> None:
        """Refuses to append to a file collected with other settings: every setting that shapes the
        demonstrations must match (how many, by how many workers, may differ)."""
        for key in RESUME_MUST_MATCH:
            have, want = self._file.attrs.get(key), file_attrs.get(key)
            if key in COLLECT_CONFIG_KEYS:
                have = json.loads(self._file.attrs.get("collect_config", "{}")).get(key)
                want = json.loads(file_attrs.get("collect_config", "{}")).get(key)
            if _plain(have) != _plain(want):
                raise DemoFileError(
                    f"Cannot resume {self.path}: it was collected with {key}={_plain(have)!r}, "
                    f"this run asks for {_plain(want)!r}. Use the same settings or --overwrite."
                )

    @property
    def num_episodes(self) -> int:
        return sum(1 for name in self._file if name.startswith(EPISODE_PREFIX))

    @property
    def done_seeds(self) -> set[int]:
        """Seeds already tried: kept episodes and failed ones."""
        kept = {int(self._file[name].attrs["seed"]) for name in self._file if name.startswith(EPISODE_PREFIX)}
        return kept | set(json.loads(self._file.attrs["failed_seeds"]))

    def add_failed_seed(self, seed: int) -> None:
        failed = json.loads(self._file.attrs["failed_seeds"])
        self._file.attrs["failed_seeds"] = json.dumps(sorted(set(failed) | {int(seed)}))
        self._file.flush()

    def append_episode(self, episode: dict[str, Any]) -> None:
        """Writes one episode (see `envs.collection.run_expert_episode` for the keys)."""
        group = self._file.create_group(_TMP_GROUP)
        obs = group.create_group("obs")
        obs.create_dataset("qpos", data=np.asarray(episode["qpos"], dtype=np.float32))
        obs.create_dataset("env_state", data=np.asarray(episode["env_state"], dtype=np.float64))
        images = obs.create_group("images")
        for camera, frames in episode["images"].items():
            frames = np.asarray(frames, dtype=np.uint8)  # (T, H, W, 3)
            images.create_dataset(
                camera, data=frames, chunks=(1, *frames.shape[1:]), compression="gzip", compression_opts=4
            )
        group.create_dataset("actions", data=np.asarray(episode["actions"], dtype=np.float32))
        group.attrs["seed"] = int(episode["seed"])
        group.attrs["length"] = len(episode["actions"])
        group.attrs["first_success_step"] = int(episode["first_success_step"])
        group.attrs["object_init_pos"] = np.asarray(episode["object_init_pos"], dtype=np.float64)
        group.attrs["goal_pos"] = np.asarray(episode["goal_pos"], dtype=np.float64)
        self._file.move(_TMP_GROUP, episode_name(self.num_episodes))
        self._file.flush()

    def finalize(self) -> Path:
        """Marks the file complete and atomically renames it to its final name."""
        self._file.attrs["complete"] = True
        self._file.close()
        os.replace(self.path, self.final_path)
        return self.final_path

    def close(self) -> None:
        """Closes without finalizing (the ``.partial`` file stays for --resume)."""
        if self._file.id.valid:
            self._file.close()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


def _fail(path: str | os.PathLike, problem: str) -> DemoFileError:
    return DemoFileError(f"{path}: {problem}")


def validate_demo_file(path: str | os.PathLike, check_data: bool = True) -> DemoFileInfo:
    """Opens `path` read-only, checks it against the schema, and returns what it holds.

    Raises `DemoFileError` with a message naming the problem (missing file, not HDF5,
    not ours, a newer schema, incomplete collection, missing key, wrong dtype or shape).
    """
    path = str(path)
    if not os.path.exists(path):
        hint = ""
        if os.path.exists(path + PARTIAL_SUFFIX):
            hint = f" ({path + PARTIAL_SUFFIX} exists: a collection was interrupted; rerun it with --resume)"
        raise _fail(path, f"no such file{hint}")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise _fail(path, f"not a readable HDF5 file ({error})") from error
    with handle as f:
        attrs = {key: _plain(value) for key, value in f.attrs.items()}
        if attrs.get("schema") != SCHEMA_NAME:
            raise _fail(path, f"not a demonstration file of this project (schema attribute {attrs.get('schema')!r})")
        version = attrs.get("schema_version")
        if version != SCHEMA_VERSION:
            raise _fail(path, f"schema version {version} is not supported (this code reads {SCHEMA_VERSION})")
        if not attrs.get("complete", False):
            raise _fail(path, "collection did not finish (complete=False); rerun the collector with --resume")
        for key in ("task", "cameras", "image_size", "qpos_dim", "action_dim", "env_state_dim"):
            if key not in attrs:
                raise _fail(path, f"missing file attribute {key!r}")
        cameras = tuple(json.loads(attrs["cameras"]))
        size = int(attrs["image_size"])
        dims = {"qpos": int(attrs["qpos_dim"]), "env_state": int(attrs["env_state_dim"])}
        action_dim = int(attrs["action_dim"])
        names = sorted(name for name in f if name.startswith(EPISODE_PREFIX))
        if not names:
            raise _fail(path, "holds no episodes")
        if names != [episode_name(i) for i in range(len(names))]:
            raise _fail(path, f"episode groups are not numbered 0..{len(names) - 1}")
        lengths, seeds = [], []
        for name in names:
            group = f[name]
            expected = {"actions": (np.float32, (action_dim,)), "obs/qpos": (np.float32, (dims["qpos"],))}
            expected["obs/env_state"] = (np.float64, (dims["env_state"],))
            for camera in cameras:
                expected[f"obs/images/{camera}"] = (np.uint8, (size, size, 3))
            if "length" not in group.attrs or "seed" not in group.attrs:
                raise _fail(path, f"{name} lacks its 'length' or 'seed' attribute")
            length = int(group.attrs["length"])
            for key, (dtype, tail) in expected.items():
                if key not in group:
                    raise _fail(path, f"{name} is missing {key!r}")
                dataset = group[key]
                if dataset.dtype != dtype:
                    raise _fail(path, f"{name}/{key} has dtype {dataset.dtype}, expected {np.dtype(dtype)}")
                if dataset.shape != (length, *tail):
                    raise _fail(path, f"{name}/{key} has shape {dataset.shape}, expected {(length, *tail)}")
            if check_data and not np.all(np.isfinite(group["actions"][()])):
                raise _fail(path, f"{name}/actions holds NaN or inf")
            lengths.append(length)
            seeds.append(int(group.attrs["seed"]))
        return DemoFileInfo(
            path=path,
            task=str(attrs["task"]),
            cameras=cameras,
            image_size=size,
            qpos_dim=dims["qpos"],
            action_dim=action_dim,
            num_episodes=len(names),
            episode_lengths=lengths,
            episode_seeds=seeds,
            attrs=attrs,
        )


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (the identity of a demo file or checkpoint in provenance records)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# file attributes that say how and when a file was written, not what it holds
WRITE_RECORD_ATTRS = ("created", "command", "collect_config")


def demo_content_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of what a demo file holds: every dataset's name, dtype, shape and values, every group's and
    dataset's attributes, and the file's attributes except when and how it was written (`WRITE_RECORD_ATTRS`).
    Two collections of the same demonstrations have equal content hashes though their bytes (timestamps,
    compression layout) differ, so runs trained on "the same demos" can be checked to be."""
    import hashlib

    digest = hashlib.sha256()

    def add_attrs(attrs: h5py.AttributeManager, skip: tuple[str, ...] = ()) -> None:
        for key in sorted(attrs):
            if key not in skip:
                value = _plain(attrs[key])
                value = value.tolist() if isinstance(value, np.ndarray) else value
                digest.update(f"attr {key}={value!r}\n".encode())

    with h5py.File(path, "r") as f:
        add_attrs(f.attrs, WRITE_RECORD_ATTRS)
        names: list[str] = []
        f.visit(names.append)
        for name in sorted(names):
            item = f[name]
            digest.update(f"item {name}\n".encode())
            add_attrs(item.attrs)
            if isinstance(item, h5py.Dataset):
                values = np.ascontiguousarray(item[()])
                digest.update(f"{values.dtype.str} {values.shape}\n".encode())
                digest.update(values.tobytes())
    return digest.hexdigest()


def demo_file_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """The demo file's path, sha256 of its bytes and of its content (`demo_content_sha256`) and its collection
    attributes (task, cameras, expert settings, versions, command)."""
    with h5py.File(path, "r") as f:
        attrs = {key: _plain(value) for key, value in f.attrs.items()}
    attrs = {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in attrs.items()}
    return {"path": str(path), "sha256": file_sha256(path), "content_sha256": demo_content_sha256(path),
            "attributes": attrs}


def read_episode(path: str | os.PathLike, index: int, with_images: bool = True) -> dict[str, Any]:
    """One whole episode as numpy arrays (for videos, tests and statistics)."""
    with h5py.File(path, "r") as f:
        group = f[episode_name(index)]
        episode = {
            "qpos": group["obs/qpos"][()],
            "env_state": group["obs/env_state"][()],
            "actions": group["actions"][()],
            **{key: _plain(value) for key, value in group.attrs.items()},
        }
        if with_images:
            episode["images"] = {cam: group[f"obs/images/{cam}"][()] for cam in group["obs/images"]}
        return episode
