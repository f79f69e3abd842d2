"""fewshot sets passive OpenMP waiting when it loads torch, and respects a user's own choice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def policy_after(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    script = code + "; import os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=environment, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_passive_when_fewshot_loads_torch_and_user_choice_otherwise():
    assert policy_after("import fewshot") == "PASSIVE"
    assert policy_after("import torch, fewshot") == "unset"  # too late to matter: left alone
    assert policy_after("import fewshot", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
