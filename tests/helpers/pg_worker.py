"""A second process on a pgvector table, for the two-process tests.

Usage: ``python pg_worker.py COMMAND DSN TABLE ARGS...``; prints JSON lines.
  watch LABEL TARGET         open the table once, then read num_shots(LABEL) and
                             len(shots(LABEL)) as fast as it can until one reaches TARGET
                             (or 60 s pass); prints every count seen
  hammer LABEL TIMES SEED    print ready, wait for a stdin line, then register 5 seeded shots
                             TIMES times into LABEL
  follow LABEL               print labels, then wait for a stdin line and print labels and
                             the prediction of a query near LABEL's shots (never reopening)
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from fewshot import FewShotClassifier
from fewshot.errors import UnknownLabelError

DIM = 8


def main() -> None:
    command, dsn, table, *args = sys.argv[1:]
    clf = FewShotClassifier(store="pgvector", store_options={"dsn": dsn, "table": table})
    if command == "watch":
        label, target = args[0], int(args[1])
        seen: set[int] = {0}
        deadline = time.monotonic() + 60
        print(json.dumps({"ready": True}), flush=True)
        while max(seen) < target and time.monotonic() < deadline:
            try:
                seen.add(clf.num_shots(label))
                seen.add(len(clf.shots(label)))
            except UnknownLabelError:
                seen.add(0)
        print(json.dumps({"seen": sorted(seen)}), flush=True)
    elif command == "hammer":
        label, times, seed = args[0], int(args[1]), int(args[2])
        rng = np.random.default_rng(seed)
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
        for _ in range(times):
            clf.register(label, rng.normal(size=(5, DIM)))
        print(json.dumps({"done": times}), flush=True)
    elif command == "follow":
        label = args[0]
        print(json.dumps({"labels": clf.labels}), flush=True)
        sys.stdin.readline()
        probe = np.ones((1, DIM)) * 5
        print(json.dumps({"labels": clf.labels, "predicted": clf.predict(probe)}), flush=True)
    clf.close()


if __name__ == "__main__":
    main()
