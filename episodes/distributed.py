"""Training under ``torchrun``: one process per rank, gradients averaged by DistributedDataParallel.

``torchrun --standalone --nproc_per_node=N -m episodes train ...`` sets ``WORLD_SIZE``, ``RANK``
and ``LOCAL_RANK``; ``start_world`` joins the process group (gloo on CPU, NCCL on CUDA). The
sampler is random-access, so no DistributedSampler is needed: optimiser step ``s`` uses
episodes ``s·E … s·E + E − 1`` with ``E = world size × episodes_per_step``, and rank ``r``
takes its own ``episodes_per_step`` of them. The network and the head are wrapped together in
one DDP module (``EpisodeLearner``), so a learnable head scale stays the same on every rank.
BatchNorm stays per process (each rank normalises its own episode; SyncBatchNorm refuses CPU
modules), and rank 0's buffers are the ones saved. Validation, checkpoints and the best
encoder are written by rank 0 only, then every rank meets at a barrier.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from fewshot.heads import PrototypicalHead


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (a single process is rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0


def start_world(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1); returns the
    world and the device this rank uses (``cuda:LOCAL_RANK`` on GPUs)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(rank, size, local), device


def stop_world(world: World) -> None:
    """Leave the process group (after a last barrier, so no rank exits while others work)."""
    if world.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.size > 1:
        dist.barrier()


def agree(world: World, flag: bool) -> bool:
    """True on every rank when rank 0 says so (a stop decision taken on one clock)."""
    if world.size == 1:
        return flag
    value = torch.tensor([1.0 if (flag and world.main) else 0.0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather(world: World, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rank's ``record`` (JSON-ready), in rank order, on every rank."""
    if world.size == 1:
        return [record]
    records: list[Any] = [None] * world.size
    dist.all_gather_object(records, record)
    return records


class EpisodeLearner(nn.Module):
    """Network and head as one module, so DDP averages the gradients of both.

    ``forward(x, ns, support_labels, query_labels)``: embeds x (N·K + N·Q, C, S, S), the first
    ``ns`` rows being the support, and returns ``(loss, accuracy)`` of the episode.
    """

    def __init__(self, model: nn.Module, head: PrototypicalHead, embed: Any) -> None:
        super().__init__()
        self.model, self.head, self._embed = model, head, embed

    def forward(
        self, x: torch.Tensor, ns: int, s_lab: torch.Tensor, q_lab: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        z = self._embed(self.model, x)
        return self.head.episode_loss(z[:ns], s_lab, z[ns:], q_lab)


def wrap(learner: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``learner`` itself for one process; DistributedDataParallel around it otherwise."""
    if world.size == 1:
        return learner
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(learner, device_ids=ids)


def parameters_sha256(module: nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in name order: equal on every rank after a step."""
    digest = hashlib.sha256()
    for name, parameter in sorted(module.named_parameters()):
        digest.update(name.encode())
        digest.update(parameter.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
