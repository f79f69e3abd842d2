"""Embedding a large input set in shards, by local processes or any scheduler, then registering it.

The input is a JSON-lines file, one ``{"input": ..., "label": ...}`` per line (a text, or an
image path). Shard ``i`` of ``n`` embeds the lines ``[i·N/n, (i+1)·N/n)`` and writes
``shard-<i>-of-<n>/`` (``embeddings.npy`` float32 rows, ``labels.json``, ``shard.json`` with
checksums) under a temporary name, then renames the folder into place: a shard is there whole
or not at all, and ``shard.json`` is its done-marker. A rerun skips finished shards, so any
scheduler (a job array, one machine per shard, ``embed_all`` with local processes) can run
and retry shards independently. ``register_shards`` then streams every shard into a classifier
in bounded memory, without the encoder.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fewshot.durable import read_json, replace_directory, sha256_file, verify_checksums
from fewshot.encoders import Encoder, load_encoder
from fewshot.errors import InputError, StoreFormatError
from fewshot.progress import progress_bar
from fewshot.vectors import as_float32_matrix

SHARD_FORMAT = "fewshot.shard"
SHARD_VERSION = 1
MARKER = "shard.json"
READ_ROWS = 8192  # rows read back from a shard at a time


def shard_name(shard: int, num_shards: int) -> str:
    return f"shard-{shard:05d}-of-{num_shards:05d}"


def parse_shard(text: str) -> tuple[int, int]:
    """``"3/8"`` → ``(3, 8)``: shard 3 of 8, counted from 0."""
    try:
        shard, num_shards = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard takes I/N (shard I of N, from 0), got {text!r}") from None
    check_shard(shard, num_shards)
    return shard, num_shards


def check_shard(shard: int, num_shards: int) -> None:
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise InputError(f"shard must be in [0, {num_shards}) with num_shards >= 1, got {shard}")


def count_items(items: str | os.PathLike[str]) -> int:
    """Lines (items) of a JSON-lines input file."""
    try:
        with open(items, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError as exc:
        raise InputError(f"cannot read the input file {items}: {exc}") from exc


def read_items(items: str | os.PathLike[str], start: int, stop: int) -> Iterator[tuple[Any, Any]]:
    """``(input, label)`` of the non-empty lines ``start…stop`` of a JSON-lines file."""
    position = 0
    with open(items, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            if start <= position < stop:
                try:
                    record = json.loads(line)
                    yield record["input"], record["label"]
                except (ValueError, KeyError, TypeError) as exc:
                    raise InputError(
                        f'{items} line {number}: expected {{"input": ..., "label": ...}}'
                    ) from exc
            position += 1
            if position >= stop:
                return


def _encoder(encoder: Encoder | str) -> Encoder:
    return encoder if isinstance(encoder, Encoder) else load_encoder(encoder)


def embed_shard(
    items: str | os.PathLike[str],
    out: str | os.PathLike[str],
    shard: int,
    num_shards: int,
    encoder: Encoder | str = "minilm",
    *,
    batch_size: int = 256,
    progress: bool | None = None,
) -> Path:
    """Embed shard ``shard`` of ``num_shards`` of ``items`` into ``out``; returns its folder.
    A shard finished earlier (same input size, shard count and encoder) is skipped."""
    check_shard(shard, num_shards)
    encoder = _encoder(encoder)
    total = count_items(items)
    start, stop = shard * total // num_shards, (shard + 1) * total // num_shards
    job = {"input_rows": total, "num_shards": num_shards, "encoder": encoder.spec}
    folder = Path(out) / shard_name(shard, num_shards)
    if (folder / MARKER).is_file():
        marker = read_json(folder / MARKER, "shard")
        if not isinstance(marker, dict) or {k: marker.get(k) for k in job} != job:
            raise StoreFormatError(
                f"{folder} was written by another job (input size, shard count or encoder "
                "differ); write into a new folder"
            )
        return folder

    def write(temp: Path) -> None:
        count = stop - start
        rows = np.lib.format.open_memmap(
            temp / "embeddings.npy", mode="w+", dtype=np.float32, shape=(count, encoder.dim)
        )
        labels: list[Any] = []
        batch: list[Any] = []

        def flush() -> None:
            done = len(labels) - len(batch)
            embedded = as_float32_matrix(encoder.embed(batch), encoder.dim, "embeddings")
            rows[done : len(labels)] = embedded
            bar.update(len(batch))
            batch.clear()

        with progress_bar(desc=f"shard {shard}/{num_shards}", total=count, enabled=progress) as bar:
            for item, label in read_items(items, start, stop):
                batch.append(item)
                labels.append(label)
                if len(batch) == batch_size:
                    flush()
            if batch:
                flush()
        if len(labels) != count:
            raise InputError(f"{items} changed while shard {shard} was embedded; run it again")
        rows.flush()
        (temp / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
        files = {name: sha256_file(temp / name) for name in ("embeddings.npy", "labels.json")}
        marker = {
            "format": SHARD_FORMAT,
            "format_version": SHARD_VERSION,
            "shard": shard,
            "start": start,
            "rows": stop - start,
            "dim": encoder.dim,
            "files": files,
            **job,
        }
        (temp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")

    return replace_directory(folder, write, owned=lambda path: (path / MARKER).is_file())


def _embed_one(args: tuple[str, str, int, int, Any, int]) -> str:
    items, out, shard, num_shards, encoder, threads = args
    from fewshot.runtime import set_num_threads

    set_num_threads(threads)
    return str(embed_shard(items, out, shard, num_shards, encoder, progress=False))


def embed_all(
    items: str | os.PathLike[str],
    out: str | os.PathLike[str],
    num_shards: int,
    encoder: str | dict[str, Any] = "minilm",
    *,
    workers: int = 2,
) -> list[Path]:
    """Every unfinished shard, embedded by ``workers`` local processes (spawned, each loading
    the encoder by name or spec and using its share of the cores); returns the folders."""
    check_shard(0, num_shards)
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    tasks = [(str(items), str(out), i, num_shards, encoder, threads) for i in range(num_shards)]
    with multiprocessing.get_context("spawn").Pool(max(1, min(workers, num_shards))) as pool:
        return [Path(folder) for folder in pool.map(_embed_one, tasks)]


def finished_shards(out: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any]]]:
    """The shard folders of ``out`` with their markers, checked to form one complete job."""
    folders = sorted(Path(out).glob("shard-*-of-*"))
    markers = [(folder, read_json(folder / MARKER, "shard")) for folder in folders]
    if not markers:
        raise InputError(f"no finished shard in {out}: run `fewshot embed` first")
    first = markers[0][1]
    job = ("input_rows", "num_shards", "encoder", "dim")
    for folder, marker in markers:
        if not isinstance(marker, dict) or marker.get("format") != SHARD_FORMAT:
            raise StoreFormatError(f"{folder / MARKER} is not a fewshot shard marker")
        if any(marker.get(key) != first.get(key) for key in job):
            raise StoreFormatError(f"{folder} belongs to another job than {markers[0][0]}")
    missing = sorted(set(range(first["num_shards"])) - {m["shard"] for _, m in markers})
    if missing:
        raise InputError(f"{out} misses shards {missing[:10]} of {first['num_shards']}: run them")
    return markers


def read_shards(out: str | os.PathLike[str]) -> Iterator[tuple[np.ndarray, list[Any]]]:
    """``(rows, labels)`` batches of every shard in order (checksums verified, rows mapped
    from disk ``READ_ROWS`` at a time)."""
    for folder, marker in finished_shards(out):
        verify_checksums(folder, marker["files"], "shard")
        labels = read_json(folder / "labels.json", "shard labels")
        rows = np.load(folder / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        if rows.shape != (marker["rows"], marker["dim"]) or len(labels) != len(rows):
            raise StoreFormatError(f"{folder}: embeddings and labels do not match its marker")
        for start in range(0, len(rows), READ_ROWS):
            yield np.array(rows[start : start + READ_ROWS]), labels[start : start + READ_ROWS]


def register_shards(clf: Any, out: str | os.PathLike[str], **options: Any) -> int:
    """Register every shard of ``out`` into ``clf`` (a ``FewShotClassifier`` with the shards'
    encoder) with ``clf.register_embedded``; ``options`` go to it. Returns the rows."""
    _, marker = finished_shards(out)[0]
    if clf.encoder is not None and clf.encoder.spec != marker["encoder"]:
        raise InputError(
            f"the shards were embedded by {marker['encoder']}, this classifier's encoder is "
            f"{clf.encoder.spec}: embed again with it, or use a classifier with that encoder"
        )
    return int(clf.register_embedded(read_shards(out), **options))
