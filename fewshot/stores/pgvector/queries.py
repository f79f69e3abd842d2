"""The SQL of the class store: registration, removal and batched top-k search.

A registration runs in one transaction (READ COMMITTED): advisory locks on its classes (taken
in key order, so two writers never deadlock), then each class's count and prototype are read
(after the lock, so they include every earlier writer's commit), the new shots' metric-space
sum is added to prototype × count in float64, and the new mean is written back; the shots go
in by a binary COPY of rows packed by numpy. A class is visible whole or not at all,
concurrent writers of one class lose nothing, and a registration costs its own shots only.
Each update rounds the stored prototype to float32 once: after K registrations to one class it
is within about K·6e-8 (relative) of the exact mean. A search answers N queries in one round trip: a LATERAL top-k per query, exact
(``+ 0`` hides the ordering from any index) unless an HNSW index was asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from fewshot.classifier.space import MetricSpace
from fewshot.stores.pgvector.schema import OPERATORS, Names

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension
COPY_TRAILER = b"\xff\xff"
COPY_ROWS = 8192  # rows packed and sent at a time


def copy_block(vectors: np.ndarray, first: int, owners: np.ndarray) -> bytes:
    """Binary COPY rows ``(o int4, l int4, v vector)`` for vectors (n×d float32): ``o`` counts
    from ``first``, ``l`` is each row's class (1-based position in the labels array)."""
    count, dim = vectors.shape
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("o_len", ">i4"),
            ("o", ">i4"),
            ("l_len", ">i4"),
            ("l", ">i4"),
            ("v_len", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("v", ">f4", (dim,)),
        ]
    )
    rows = np.zeros(count, dtype=row)
    rows["fields"], rows["o_len"], rows["l_len"] = 3, 4, 4
    rows["o"] = np.arange(first, first + count)
    rows["l"] = owners + 1
    rows["v_len"], rows["dim"] = 4 + 4 * dim, dim
    rows["v"] = vectors
    return rows.tobytes()


def add_classes(
    conn: psycopg.Connection,
    names: Names,
    space: MetricSpace,
    label_set: str,
    labels: Sequence[Any],
    keys: Sequence[int],
    vectors: Sequence[np.ndarray],
    texts: Sequence[list[str] | None],
) -> None:
    """Inside a transaction: lock, add ``vectors[i]`` (n_i×d raw shots) to ``labels[i]`` with
    their ``texts[i]`` (or none), and update each class's counts, sum and prototype."""
    jsonb = [Jsonb(label) for label in labels]
    conn.execute(
        "SELECT count(pg_advisory_xact_lock(k)) FROM "
        "(SELECT unnest(%s::bigint[]) AS k ORDER BY 1) AS keys",
        (sorted(set(keys)),),
    )
    old = {
        row[0]: row[1:]
        for row in conn.execute(
            sql.SQL(
                "SELECT label, shots, texts, prototype FROM {classes} "
                "WHERE label_set = %s AND label = ANY(%s::jsonb[])"
            ).format(classes=names.classes),
            (label_set, jsonb),
        )
    }
    counts, kept, prototypes = [], [], []
    for label, block, items in zip(labels, vectors, texts):
        shots, known_texts, prototype = old.get(label, (0, 0, None))
        summed = space.sum(block)
        if prototype is not None:
            summed += prototype.to_numpy().astype(np.float64) * shots
        counts.append(shots + len(block))
        kept.append(known_texts + (len(items) if items else 0))
        prototypes.append((summed / counts[-1]).astype(np.float32))
    conn.execute(
        sql.SQL(
            "INSERT INTO {classes} (label_set, label, shots, texts, prototype) "
            "SELECT %s, l, n, t, p FROM unnest(%s::jsonb[], %s::int[], %s::int[], "
            "%b::vector[]) WITH ORDINALITY AS u(l, n, t, p, o) ORDER BY o "
            "ON CONFLICT (label_set, label) DO UPDATE SET shots = EXCLUDED.shots, "
            "texts = EXCLUDED.texts, prototype = EXCLUDED.prototype"
        ).format(classes=names.classes),
        (label_set, jsonb, counts, kept, prototypes),
    )
    insert_shots(conn, names, label_set, jsonb, vectors, texts)


def insert_shots(
    conn: psycopg.Connection,
    names: Names,
    label_set: str,
    jsonb: list[Jsonb],
    vectors: Sequence[np.ndarray],
    texts: Sequence[list[str] | None],
) -> None:
    """The shots, through a binary COPY into a temporary table, in their given order."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS fewshot_incoming (o integer, l integer, v vector) "
        "ON COMMIT DELETE ROWS"
    )
    with conn.cursor().copy("COPY fewshot_incoming (o, l, v) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(COPY_HEADER)
        first = 1
        for owner, block in enumerate(vectors):
            for start in range(0, len(block), COPY_ROWS):
                part = np.asarray(block[start : start + COPY_ROWS], dtype=np.float32)
                copy.write(copy_block(part, first, np.full(len(part), owner)))
                first += len(part)
        copy.write(COPY_TRAILER)
    flat: list[str | None] = []
    for block, items in zip(vectors, texts):
        flat += items if items else [None] * len(block)
    conn.execute(
        sql.SQL(
            "INSERT INTO {shots} (label_set, label, vector, example) "
            "SELECT %s, c.l, i.v, e.t FROM fewshot_incoming i "
            "JOIN unnest(%s::jsonb[]) WITH ORDINALITY AS c(l, n) ON c.n = i.l "
            "LEFT JOIN unnest(%s::text[]) WITH ORDINALITY AS e(t, n) ON e.n = i.o "
            "ORDER BY i.o"
        ).format(shots=names.shots),
        (label_set, jsonb, flat if any(text is not None for text in flat) else []),
    )


def remove_class(
    conn: psycopg.Connection, names: Names, label_set: str, label: Any, key: int
) -> bool:
    """Inside a transaction: delete one class and its shots; False if it was not there."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
    cursor = conn.execute(
        sql.SQL("DELETE FROM {classes} WHERE label_set = %s AND label = %s").format(
            classes=names.classes
        ),
        (label_set, Jsonb(label)),
    )
    conn.execute(
        sql.SQL("DELETE FROM {shots} WHERE label_set = %s AND label = %s").format(
            shots=names.shots
        ),
        (label_set, Jsonb(label)),
    )
    return cursor.rowcount > 0


def search(
    conn: psycopg.Connection,
    names: Names,
    mode: str,
    metric: str,
    label_set: str,
    queries: np.ndarray,
    k: int,
    exact: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` classes (prototype mode) or shots (knn) of ``label_set`` for metric-space
    queries (N×d): scores (N×k float32, higher is better; −inf where fewer exist) and labels
    (N×k object, ``None`` there). One round trip; the set is a literal so that its partial
    HNSW index (if any) serves the search."""
    operator = OPERATORS[metric][0]
    table, column = (names.classes, "prototype") if mode == "prototype" else (names.shots, "vector")
    distance = sql.SQL("r.{column} {op} q.v").format(
        column=sql.Identifier(column), op=sql.SQL(operator)
    )
    order = sql.SQL("({}) + 0").format(distance) if exact else distance
    statement = sql.SQL(
        "SELECT q.o, t.label, t.d FROM unnest(%b::vector[]) WITH ORDINALITY AS q(v, o) "
        "CROSS JOIN LATERAL (SELECT r.label, {distance} AS d FROM {table} r "
        "WHERE r.label_set = {label_set} ORDER BY {order} LIMIT %s) AS t ORDER BY q.o, t.d"
    ).format(distance=distance, table=table, label_set=sql.Literal(label_set), order=order)
    rows = conn.execute(statement, (list(queries), k)).fetchall()
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    labels = np.full((len(queries), k), None, dtype=object)
    if not rows:
        return scores, labels
    query = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)) - 1
    distances = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
    starts = np.searchsorted(query, np.arange(len(queries)))
    rank = np.arange(len(rows)) - starts[query]
    if metric == "cosine":  # a zero vector has no direction: similarity 0, as in FAISS
        values = np.nan_to_num(1.0 - distances, nan=0.0)
    else:
        values = -(distances * distances)
    scores[query, rank] = values
    labels[query, rank] = [row[1] for row in rows]
    return scores, labels
