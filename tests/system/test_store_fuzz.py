"""Fuzzing saved stores: seeded mutations of manifests (types, sizes, paths, missing fields)
and of FAISS and safetensors headers. Every load either raises StoreFormatError or gives a
consistent classifier, in an address space capped 2 GiB above what the imports use (so any
allocation a header merely claims fails loudly instead of succeeding lazily)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


@pytest.mark.parametrize("seed", [0, 1])
def test_every_mutated_store_loads_consistently_or_fails_cleanly(tmp_path, seed):
    result = subprocess.run(
        [sys.executable, str(HELPERS / "fuzz_stores.py"), str(tmp_path), "300", str(seed), "2000"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(HELPERS.parent.parent), "MALLOC_ARENA_MAX": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    assert report["outcomes"].get("StoreFormatError", 0) > 100  # the mutations did bite
    assert report["outcomes"].get("loaded", 0) > 10  # and harmless ones still load
