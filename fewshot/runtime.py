"""Process-wide settings for torch and FAISS: thread pools and FAISS's BLAS threshold (DESIGN §4)."""

# ruff: noqa: I001  (torch must be imported before faiss; see below)
from __future__ import annotations

import os

import torch  # imported before faiss on purpose: then both share one OpenMP runtime

import faiss

# faiss >= 1.8 uses BLAS for flat search only when nq·d >= 128000 by default; below that a
# batch search was 4–7× slower on these machines. A low threshold restores the fast path.
BLAS_THRESHOLD = 20
faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(n: int | None = None) -> int:
    """Set torch's and FAISS's thread pools together to ``n`` (default: the CPUs available).

    Use 1 when other processes load the machine: with contention one thread per process beat
    two by 2–3× here; in DataLoader workers, always 1 (a forked FAISS search can hang).
    """
    threads = available_cpus() if n is None else int(n)
    if threads < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    return threads


def worker_init_fn(_worker_id: int = 0) -> None:
    """``DataLoader(worker_init_fn=...)``: one thread per worker, so forked workers never hang."""
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)


def _one_thread_in_forked_child() -> None:
    """In a forked child, FAISS's OpenMP pool copied from a parent that searched with several
    threads hangs at the next parallel region (faiss#5206); one thread never enters it."""
    faiss.omp_set_num_threads(1)
    torch.set_num_threads(1)


if hasattr(os, "register_at_fork"):  # POSIX; fork-started DataLoader/multiprocessing children
    os.register_at_fork(after_in_child=_one_thread_in_forked_child)
