"""Load a saved store with the address space capped a little above what imports use.

Usage: ``MALLOC_ARENA_MAX=2 python load_capped.py STORE EXTRA_MIB``. Prints one JSON line: the outcome (``loaded``
or the exception's type) and its message. An allocation beyond ``EXTRA_MIB`` fails as a
MemoryError (or a C++ bad_alloc) instead of succeeding lazily, so "bounded memory" is tested.
"""

import json
import resource
import sys

import fewshot


def virtual_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def main() -> None:
    store, extra = sys.argv[1], int(sys.argv[2])
    cap = virtual_size_bytes() + extra * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        clf = fewshot.FewShotClassifier.load(store)
        outcome = {"outcome": "loaded", "labels": [str(label) for label in clf.labels]}
    except BaseException as exc:  # reported, not raised: the parent test decides
        outcome = {"outcome": type(exc).__name__, "message": str(exc)[:300]}
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
