"""A save that runs out of space (a file-size limit here, as a full disk reports it) raises a
StoreWriteError naming the store, and the previous save stays loadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from fewshot import FewShotClassifier

REPO = Path(__file__).resolve().parents[2]
SAVE_TOO_BIG = """
import json, resource, signal, sys
import numpy as np
from fewshot import FewShotClassifier
from fewshot.errors import StoreWriteError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit, write() fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
clf = FewShotClassifier.load(sys.argv[1])
clf.register("big", np.ones((20_000, 8)))  # 640 KB of shots: over the limit
try:
    clf.save(sys.argv[1])
    print(json.dumps({"outcome": "saved"}))
except StoreWriteError as exc:
    print(json.dumps({"outcome": "StoreWriteError", "message": str(exc)}))
"""


def test_a_full_disk_names_the_store_and_keeps_the_previous_save(tmp_path):
    store = tmp_path / "store"
    clf = FewShotClassifier()
    clf.register("small", np.eye(8)[:2])
    clf.save(store)
    result = subprocess.run(
        [sys.executable, "-c", SAVE_TOO_BIG, str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["outcome"] == "StoreWriteError"
    assert str(store) in outcome["message"] and "large" in outcome["message"].lower()
    assert FewShotClassifier.load(store).labels == ["small"]
