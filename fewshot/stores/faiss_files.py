"""FAISS index files and metric codes: reading an index back and checking it is the one expected."""

from __future__ import annotations

import os

from fewshot.errors import StoreFormatError
from fewshot.metrics import Metric
from fewshot.runtime import faiss


def faiss_metric(metric: Metric) -> int:
    """FAISS's metric code: inner product for cosine (unit rows), L2 for euclidean."""
    return faiss.METRIC_INNER_PRODUCT if metric.inner_product else faiss.METRIC_L2


def flat_index(dim: int, metric: Metric) -> faiss.Index:
    """An exact flat index for ``metric``: ``IndexFlatIP`` or ``IndexFlatL2``."""
    return faiss.IndexFlatIP(dim) if metric.inner_product else faiss.IndexFlatL2(dim)


def read_checked_index(path: str | os.PathLike[str], dim: int, metric: Metric) -> faiss.Index:
    """Read a FAISS index file; a clear error if it is unreadable or not ``dim``-d ``metric``."""
    try:
        index = faiss.read_index(os.fspath(path))
    except RuntimeError as exc:
        raise StoreFormatError(f"cannot read FAISS index {path}: {exc}") from exc
    if index.d != dim or index.metric_type != faiss_metric(metric):
        raise StoreFormatError(
            f"FAISS index {path} has d={index.d}, metric {index.metric_type}; "
            f"the manifest says d={dim}, {metric.name}"
        )
    return index


class _Reader:
    """Reads little-endian fields of a FAISS index file, refusing any count beyond the file."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.at, self.path = data, 0, path

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise StoreFormatError(
                f"FAISS index {self.path}: {what} claims {size} bytes at offset {self.at}, but "
                f"the file has {len(self.data)}; it is truncated or corrupt"
            )
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def u64(self, what: str) -> int:
        return int.from_bytes(self.take(8, what), "little")

    def skip_array(self, item: int, expected: int | None, what: str) -> int:
        """A FAISS vector: a uint64 count, then ``count × item`` bytes; returns the count."""
        count = self.u64(what)
        if expected is not None and count != expected:
            raise StoreFormatError(
                f"FAISS index {self.path}: {what} holds {count}, expected {expected}"
            )
        if count > len(self.data) // max(item, 1):
            raise StoreFormatError(f"FAISS index {self.path}: {what} claims {count} entries")
        self.take(count * item, what)
        return count

    def header(self, kinds: tuple[bytes, ...], what: str) -> tuple[bytes, int, int, int]:
        """fourcc, d, ntotal, metric of an index header (FAISS's write_index_header)."""
        fourcc = self.take(4, what)
        if fourcc not in kinds:
            raise StoreFormatError(
                f"FAISS index {self.path}: {what} is {fourcc!r}, not an index type fewshot writes"
            )
        d = int.from_bytes(self.take(4, "d"), "little", signed=True)
        ntotal = int.from_bytes(self.take(8, "ntotal"), "little", signed=True)
        self.take(16, "header")  # two unused int64
        if self.take(1, "is_trained") != b"\x01":
            raise StoreFormatError(f"FAISS index {self.path}: {what} is not trained")
        metric = int.from_bytes(self.take(4, "metric"), "little", signed=True)
        if metric > 1:
            self.take(4, "metric argument")
        if not 0 < d <= 1 << 16 or ntotal < 0 or metric not in (0, 1):
            raise StoreFormatError(f"FAISS index {self.path}: impossible d={d} or ntotal={ntotal}")
        return fourcc, d, ntotal, metric


_FLAT = (b"IxFI", b"IxF2")


def check_index_file(path: str | os.PathLike[str], dim: int) -> None:
    """Check a FAISS file of the kinds fewshot writes (``IndexIDMap2`` over a flat index, or
    ``IndexIVFFlat`` with array lists) against its size before FAISS allocates anything, so a
    tiny file claiming 10⁹ vectors fails here instead of allocating gigabytes."""
    with open(path, "rb") as handle:
        data = handle.read()
    read = _Reader(data, os.fspath(path))
    kind, d, ntotal, metric = read.header((b"IxM2", b"IwFl"), "index type")
    if d != dim:
        raise StoreFormatError(f"FAISS index {path} has d={d}; the manifest says {dim}")
    if kind == b"IxM2":
        _, inner_d, inner_total, inner_metric = read.header(_FLAT, "flat index")
        if (inner_d, inner_total, inner_metric) != (d, ntotal, metric):
            raise StoreFormatError(f"FAISS index {path}: the id map and its flat index disagree")
        read.skip_array(4, ntotal * d, "vectors")
        read.skip_array(8, ntotal, "ids")
    else:
        nlist = read.u64("nlist")
        read.u64("nprobe")
        _, _, centroids, quantizer_metric = read.header(_FLAT, "quantizer")
        if centroids != nlist or nlist > len(data) or quantizer_metric != metric:
            raise StoreFormatError(f"FAISS index {path}: {centroids} centroids for {nlist} lists")
        read.skip_array(4, centroids * d, "centroids")
        read.take(1, "direct map type")
        read.skip_array(8, None, "direct map")
        _check_array_lists(read, nlist, d, ntotal)
    if read.at != len(data):
        raise StoreFormatError(
            f"FAISS index {path}: {len(data) - read.at} unexpected trailing bytes"
        )


def _check_array_lists(read: _Reader, nlist: int, d: int, ntotal: int) -> None:
    """FAISS's ArrayInvertedLists: ``full`` sizes of every list, or ``sprs`` (list, size) pairs."""
    if read.take(4, "inverted lists") != b"ilar":
        raise StoreFormatError(
            f"FAISS index {read.path}: inverted lists of a kind fewshot never writes"
        )
    if read.u64("lists") != nlist or read.u64("code size") != 4 * d:
        raise StoreFormatError(f"FAISS index {read.path}: inverted lists do not fit the index")
    layout = read.take(4, "list layout")
    count = read.u64("list sizes")
    if layout not in (b"full", b"sprs") or count > len(read.data) // 8:
        raise StoreFormatError(f"FAISS index {read.path}: unreadable list sizes")
    values = [int.from_bytes(read.take(8, "list size"), "little") for _ in range(count)]
    sizes = values if layout == b"full" else values[1::2]
    if sum(sizes) != ntotal:
        raise StoreFormatError(
            f"FAISS index {read.path}: lists hold {sum(sizes)} of {ntotal} vectors"
        )
    for size in sizes:
        read.take(size * 4 * d, "list codes")
        read.take(size * 8, "list ids")
