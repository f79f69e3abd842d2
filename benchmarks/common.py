"""Shared helpers for benchmark scripts: interleaved timing, machine description, JSON output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import faiss
    import torch

    return {
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
    }


def load_average() -> list[float]:
    """The 1/5/15-minute load averages: how busy the shared machine was (2 cores here)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


# A bounded busy loop: it stops by itself even if the benchmark dies before stopping it.
_BUSY = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


@contextmanager
def competing_load(seconds: float = 600.0) -> Iterator[subprocess.Popen]:
    """Run a one-core busy loop in a child process for the duration of the ``with`` block."""
    child = subprocess.Popen([sys.executable, "-c", _BUSY.format(seconds=float(seconds))])
    try:
        time.sleep(0.2)  # let it reach the loop
        yield child
    finally:
        child.terminate()
        child.wait()


def interleaved_medians(
    functions: dict[str, Callable[[], Any]], repeats: int = 7, number: int = 1
) -> dict[str, float]:
    """Median seconds per call of each function, run alternately so machine noise hits all alike.

    Each sample times ``number`` back-to-back calls (use > 1 for calls of microseconds).
    """
    for function in functions.values():
        function()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(number):
                function()
            times[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(values) for name, values in times.items()}


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (with the machine description) to benchmarks/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    machine_info = {**machine(), "load_average_at_end": load_average()}
    path.write_text(json.dumps({"machine": machine_info, **payload}, indent=2) + "\n")
    return path


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain fixed-width table on stdout."""
    widths = [max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in rows:
        print("  ".join(_fmt(row[c]).ljust(w) for c, w in zip(columns, widths)))


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
