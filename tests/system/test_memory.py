"""Huge feature batches are validated and searched in chunks: peak memory stays bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
REPO = HELPERS.parent.parent


@pytest.mark.parametrize("call", ["query", "register"])
def test_huge_feature_batches_keep_memory_bounded(call):
    """200k×128 float64 rows (195 MiB): chunking keeps the peak well under another copy."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(HELPERS / "memory_probe.py"), call, "200000", "128"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    # query: only chunk temporaries and the N×k result; register: plus the float32 shots kept
    # (half the float64 input). Without chunking both grew by a full input size (195 MiB).
    limit = 0.25 if call == "query" else 0.65
    assert measured["peak_growth_mib"] < limit * measured["input_mib"], measured
