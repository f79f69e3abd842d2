"""Mutate saved stores (manifest fields, paths, FAISS and safetensors headers) and load them.

Usage: ``python fuzz_stores.py WORKDIR MUTATIONS SEED EXTRA_MIB``. Builds a few real stores,
then for each seeded mutation loads the mutated copy with the address space capped at
``EXTRA_MIB`` above what imports use. A load must either raise ``StoreFormatError`` or succeed
with a consistent classifier (answers as before for unchanged data, saves and reloads the
same). Prints one JSON line: counts of outcomes and the first failures.
"""

import copy
import json
import random
import resource
import shutil
import sys
from pathlib import Path

import numpy as np

from fewshot import FewShotClassifier
from fewshot.durable import sha256_file
from fewshot.errors import StoreFormatError
from fewshot.store_directory import current_snapshot

NASTY = [None, True, -1, 0, 1, -5, 2**31, 10**12, 10**15, 1.5, float("nan"), "", "x" * 300,
         "../escape", "/etc/passwd", "~/.ssh/id_rsa", [], [1, 2], {}, {"a": 1}, "\ud800"]  # fmt: skip
PROBE = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)


def build(root: Path) -> list[Path]:
    rng = np.random.default_rng(1)
    shots = {f"c{i}": rng.normal(size=(3, 8)) + 3 * np.eye(8)[i] for i in range(4)}
    stores = []
    for name, kwargs in (
        ("proto", {}),
        ("knn", {"mode": "knn", "metric": "euclidean", "threshold": -50.0}),
        ("ivf", {"store": "ivf", "store_options": {"train_at": 39}}),
    ):
        clf = FewShotClassifier(**kwargs)
        clf.register_many(shots)
        clf.register(9, rng.normal(size=(40, 8)) - 3)
        if name == "proto":
            clf.finetune(part="head", episodes=2, progress=False)
        clf.save(root / name)
        stores.append(root / name)
    return stores


def paths(value, prefix=()):
    """Every (path, value) in a JSON tree."""
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from paths(item, (*prefix, position))


def mutate_manifest(manifest: dict, rng: random.Random) -> str:
    path, _ = rng.choice([entry for entry in paths(manifest) if entry[0]])
    parent = manifest
    for key in path[:-1]:
        parent = parent[key]
    choice = rng.random()
    if choice < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
        return f"delete {path}"
    value = rng.choice(NASTY) if choice < 0.85 else [[[[["deep"]]]]]
    parent[path[-1]] = copy.deepcopy(value)
    return f"set {path} = {str(value)[:40]}"


def mutate_binary(folder: Path, rng: random.Random) -> str:
    candidates = [p for p in (folder / "index.faiss", folder / "shots.safetensors") if p.is_file()]
    target = rng.choice(candidates)
    data = bytearray(target.read_bytes())
    # headers only (sizes, counts, types): the data after them may legitimately differ
    header = 82 if target.suffix == ".faiss" else 8 + int.from_bytes(data[:8], "little")
    at = rng.randrange(0, header - 7)
    data[at : at + 8] = rng.choice([10**9, 10**12, 2**62, 0, rng.getrandbits(64)]).to_bytes(
        8, "little"
    )
    target.write_bytes(bytes(data))
    return f"bytes {target.name}@{at}"


def answers(clf: FewShotClassifier) -> tuple:
    result = clf.query(PROBE, k=2)
    return result.labels.tolist(), np.round(result.scores, 4).tolist()


def main() -> None:
    work, count, seed, extra = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    stores = build(work / "originals")
    expected = {store: answers(FewShotClassifier.load(store)) for store in stores}
    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + extra * 2**20, size + extra * 2**20))
    rng = random.Random(seed)
    outcomes: dict[str, int] = {}
    failures: list[str] = []
    for number in range(count):
        original = rng.choice(stores)
        copy_dir = work / f"m{number}"
        shutil.copytree(original, copy_dir, symlinks=True)
        folder = current_snapshot(copy_dir)
        manifest = json.loads((folder / "manifest.json").read_text())
        binary = rng.random() < 0.3
        what = mutate_binary(folder, rng) if binary else mutate_manifest(manifest, rng)
        if rng.random() < 0.7 and isinstance(manifest.get("files"), dict):  # reach deeper checks
            for name in list(manifest["files"]):
                if isinstance(name, str) and (folder / name).is_file() and ".." not in name:
                    manifest["files"][name] = sha256_file(folder / name)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        try:
            clf = FewShotClassifier.load(copy_dir)
            if binary and answers(clf) != expected[original]:
                failures.append(f"{what}: loaded with other answers")
            clf.save(copy_dir)
            if answers(FewShotClassifier.load(copy_dir)) != answers(clf):
                failures.append(f"{what}: a save round trip changed the answers")
            outcomes["loaded"] = outcomes.get("loaded", 0) + 1
        except StoreFormatError:
            outcomes["StoreFormatError"] = outcomes.get("StoreFormatError", 0) + 1
        except BaseException as exc:  # anything else is a finding
            failures.append(f"{what}: {type(exc).__name__}: {str(exc)[:200]}")
        shutil.rmtree(copy_dir, ignore_errors=True)
    print(json.dumps({"outcomes": outcomes, "failures": failures[:20]}), flush=True)


if __name__ == "__main__":
    main()
