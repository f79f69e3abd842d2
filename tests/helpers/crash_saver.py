"""Helper process for test_crash_safety: forks savers on request, so each SIGKILL costs no re-import.

Reads commands on stdin: ``fork G`` starts a child that saves generations G, G+1, … forever into
the store (appending each finished generation to the progress file) and prints its pid;
``reap PID`` waits for that child and prints its raw wait status.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from fewshot import FewShotClassifier

CLASSES = 24
DIM = 64


def generation(g: int) -> dict[str, np.ndarray]:
    """The classes saved as generation ``g``: a changing set, plus one label naming ``g``."""
    present = [j for j in range(CLASSES) if (j * 7 + g) % 5 not in (0, 1)]
    classes = {
        f"classe {j} ✓": np.random.default_rng(j * 100_003 + g).normal(size=(5, DIM)).astype("f4")
        for j in present
    }
    classes[f"generation {g}"] = np.full((1, DIM), g + 1, dtype=np.float32)
    return classes


def save_forever(store: str, progress: str, start: int) -> None:
    """Save generation after generation; record each one only after ``save`` has returned."""
    fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    g = start
    while True:
        clf = FewShotClassifier()
        clf.register_many(generation(g))
        clf.save(store)
        os.write(fd, f"{g}\n".encode())
        g += 1


def main() -> None:
    store, progress = sys.argv[1], sys.argv[2]
    for line in sys.stdin:
        command, argument = line.split()
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                try:
                    save_forever(store, progress, int(argument))
                finally:
                    os._exit(1)
            print(pid, flush=True)
        elif command == "reap":
            print(os.waitpid(int(argument), 0)[1], flush=True)


if __name__ == "__main__":
    main()
