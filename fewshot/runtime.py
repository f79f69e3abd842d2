"""Process-wide settings for torch and FAISS: OpenMP wait policy, thread pools, BLAS threshold.

Defaults, chosen from ``benchmarks/threads.py`` on the 2-core development machine (which other
processes load most of the time; the README's "Speed and memory" section has the numbers):

* ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it, applied by ``fewshot._openmp`` only when
  fewshot is imported before torch (OpenMP reads it once, when torch first loads it). With the runtime's default busy-waiting,
  two threads beside another busy process were 2.6–13× *slower* than one (each thread spins
  at every barrier while its partner is descheduled); with passive waiting two threads were
  never worse than ~1.1× one thread and up to 2.5× faster. So threads stay at the CPU count.
* If torch was imported before fewshot with busy-waiting, ``set_num_threads(1)`` is the safe
  choice on a shared machine (one thread loses at most ~2× when the machine is idle).
* FAISS picks BLAS for flat search when ``queries·d`` reaches its threshold; BLAS wins from
  about 4 queries on and loses 2–4× for 1–2; such small batches also run on one thread
  (``search``).
"""

# ruff: noqa: I001  (torch must be imported before faiss; see below)
from __future__ import annotations

import os

import torch  # imported before faiss on purpose: then both share one OpenMP runtime

import faiss
import numpy as np

from fewshot.errors import InputError

# Queries per search from which BLAS (matrix-matrix products) beats FAISS's SIMD loops here:
# 1 query × 10⁴ × 1280-d took 2.3 ms without BLAS and 10.4 ms with it; 32 queries × 64-d took
# 2.3 ms without and 0.7 ms with.
BLAS_MIN_QUERIES = 4
BLAS_THRESHOLD = 20  # the import-time value (any search with ≥ 1 query of d ≥ 20 uses BLAS)
faiss.cvar.distance_compute_blas_threshold = BLAS_THRESHOLD


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``index.search`` with the kernel and threads that suit the batch size (N×d queries).

    FAISS compares ``queries·d`` with one process-wide BLAS threshold, so it is set per call
    (BLAS from ``BLAS_MIN_QUERIES`` queries on; it changes speed, not results beyond rounding).
    Smaller batches run on one thread: a single 10⁵×64 query took 1.4 ms on one thread and
    11–32 ms on two on the loaded 2-core machine. ``omp_set_num_threads`` only affects the
    calling thread, so concurrent searches from other threads keep their own setting.
    """
    faiss.cvar.distance_compute_blas_threshold = BLAS_MIN_QUERIES * int(index.d)
    if len(queries) >= BLAS_MIN_QUERIES:
        return index.search(queries, k)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(queries, k)
    finally:
        faiss.omp_set_num_threads(threads)


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"`` picks CUDA when available, else CPU; anything else is passed to torch."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:0'"
        ) from exc


def wait_policy() -> str:
    """The OpenMP wait policy this process runs with ("PASSIVE", "ACTIVE" or "default")."""
    return os.environ.get("OMP_WAIT_POLICY", "default").upper()


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and container limits)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_num_threads(n: int | None = None) -> int:
    """Set torch's and FAISS's thread pools together to ``n`` (default: the CPUs available).

    With passive waiting (fewshot's default) the CPU count is right idle and loaded. Use 1 when
    torch was imported first with busy-waiting and other processes load the machine; in
    DataLoader workers, always 1 (a forked FAISS search can hang).
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise InputError(f"set_num_threads: n must be an int >= 1 or None, got {n!r}")
    threads = available_cpus() if n is None else n
    if threads < 1:
        raise InputError(f"set_num_threads: n must be an int >= 1, got {n!r}")
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
