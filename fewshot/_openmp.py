"""Imported first by ``fewshot/__init__``: passive OpenMP waiting unless the user chose otherwise.

OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads its runtime, so this only acts when
fewshot is imported before torch. Why passive: see ``fewshot.runtime``.
"""

from __future__ import annotations

import os
import sys

if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
