"""Data-parallel training across processes: torch DistributedDataParallel, launched by torchrun.

    torchrun --standalone --nproc_per_node 2 scripts/train_act_proper.py --config configs/shelf_place_cpu.toml ...

The engine is torch's own DistributedDataParallel (gloo on CPUs, NCCL on GPUs) rather than
accelerate: the trainer already owns its device placement, autocast and checkpoints, so all that
data parallelism adds is the gradient all-reduce, and torchrun is the launcher torch ships.

The batch rule: ``batch_size`` is the global batch. Step k's windows are the ones a single process
would draw (``StepBatchSampler`` seeded with (seed, k)); rank r of N takes the r-th of N equal slices,
and the random image shifts and CVAE noise are drawn for the whole batch and sliced the same way, so
N processes compute the gradient of one process's batch and the learning rate needs no change. To
train with a larger batch on more processes, raise ``batch_size`` (and the learning rate by your own
rule: ACT's recipe was tuned at batch 8).

Rank 0 alone writes the run folder (config.json, metrics.jsonl, checkpoints, plots, TensorBoard) and
runs validation and rollouts; the others wait for it at the next step's all-reduce.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: rank, how many, and its rank on this machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's equal, contiguous slice of a global batch (its length must divide by `size`)."""
        if len(items) % self.size:
            raise ValueError(f"a batch of {len(items)} cannot be split evenly over {self.size} processes")
        per_rank = len(items) // self.size
        return list(items[self.rank * per_rank:(self.rank + 1) * per_rank])


SINGLE = World()


def launched_world() -> World:
    """The world torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK); one process without it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SINGLE
    return World(rank=int(os.environ["RANK"]), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def init_process_group(world: World, use_cuda: bool) -> None:
    """Joins the process group torchrun set up: NCCL with one GPU per process, else gloo.

    The timeout is long because ranks other than 0 wait for rank 0's validation, checkpoints and
    rollouts at the next all-reduce."""
    if not world.distributed or dist.is_initialized():
        return
    if use_cuda:
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(hours=2))


def current_world() -> World:
    """The world of the initialised process group (one process when there is none)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return SINGLE
    return World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def all_reduce_mean(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of `tensor` over every rank (in place; unchanged with one process)."""
    if world.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= world.size
    return tensor


def all_reduce_sum(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The sum of `tensor` over every rank (in place; unchanged with one process)."""
    if world.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def on_main(world: World, action: Callable[[], T]) -> T | None:
    """Runs `action` on rank 0 alone and returns its value there (None elsewhere). An exception it
    raises is raised on every rank, so a refusal (a run folder another run holds, say) stops them all
    rather than leaving the others waiting."""
    if not world.distributed:
        return action()
    value, failure = None, None
    if world.is_main:
        try:
            value = action()
        except Exception as error:  # noqa: BLE001  (re-raised on every rank below)
            failure = error
    message: list[Any] = [failure]
    dist.broadcast_object_list(message, src=0)
    if message[0] is not None:
        raise message[0]
    return value


def broadcast(value: T, world: World) -> T:
    """Rank 0's `value` on every rank (any picklable object)."""
    if not world.distributed:
        return value
    message = [value]
    dist.broadcast_object_list(message, src=0)
    return message[0]


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


class ShardedBatches:
    """A batch sampler yielding this rank's slice of every global batch another sampler yields."""

    def __init__(self, sampler: Any, world: World) -> None:
        self.sampler = sampler
        self.world = world

    def __iter__(self) -> Iterator[list[int]]:
        for indices in self.sampler:
            yield self.world.shard(indices)

    def __len__(self) -> int:
        return len(self.sampler)


def close(world: World) -> None:
    """Leaves the process group (at the end of a data-parallel run)."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


__all__ = [
    "SINGLE",
    "ShardedBatches",
    "World",
    "all_reduce_mean",
    "all_reduce_sum",
    "barrier",
    "broadcast",
    "close",
    "current_world",
    "init_process_group",
    "launched_world",
    "on_main",
]
