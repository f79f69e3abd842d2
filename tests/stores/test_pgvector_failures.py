"""pgvector failures: each gets a clear fewshot error and loses nothing. Unreachable server,
a server that never answers (connect_timeout), refused password, a table of another dimension,
metric or format, a foreign table, a dropped table, a server restarted or stopped between
calls, finetune on a shared table, bad options."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
import torch

from fewshot import FewShotClassifier, wrap_module
from fewshot.errors import InputError, StoreFormatError, StoreUnavailableError

psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")
DIM = 8
rng = np.random.default_rng(3)


def pg(options: dict, **settings) -> FewShotClassifier:
    return FewShotClassifier(store="pgvector", store_options=options, **settings)


def test_unreachable_servers_fail_fast_with_the_reason():
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"cannot connect.*is the server running"):
        pg({"dsn": "host=/nonexistent/socket/dir dbname=x user=x"})
    with pytest.raises(StoreUnavailableError, match="refused"):
        pg({"dsn": "postgresql://x@127.0.0.1:1/x"})
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_costs_connect_timeout():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the TCP connection, never speaks
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError, match="connect_timeout=2"):
            pg(
                {
                    "dsn": f"postgresql://x@127.0.0.1:{silent.getsockname()[1]}/x",
                    "connect_timeout": 2,
                }
            )
        assert time.monotonic() - started < 6
    finally:
        silent.close()


def test_a_refused_password_names_the_fix(pg_server, pg_options, tmp_path, monkeypatch):
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS fs_pw")
        conn.execute("CREATE ROLE fs_pw LOGIN SUPERUSER PASSWORD 'right'")
        hba = pg_server.pgdata / "pg_hba.conf"
        if "fs_pw" not in hba.read_text():
            hba.write_text("local all fs_pw scram-sha-256\n" + hba.read_text())
        conn.execute("SELECT pg_reload_conf()")
    socket_dir = pg_server.dsn.split("host=")[1]
    dsn = f"postgresql://fs_pw:wrong@/postgres?host={socket_dir}"
    with pytest.raises(StoreUnavailableError, match=r"password authentication failed.*PGPASSWORD"):
        pg({**pg_options, "dsn": dsn})
    clf = pg({**pg_options, "dsn": dsn, "password": "right"})  # the option wins over the dsn's
    clf.register("a", rng.normal(size=(1, DIM)))
    clf.save(tmp_path / "s")
    clf.close()
    assert "right" not in (tmp_path / "s").joinpath("CURRENT").read_text()
    with pytest.raises(StoreUnavailableError, match="password"):
        FewShotClassifier.load(tmp_path / "s")
    assert FewShotClassifier.load(tmp_path / "s", store_options={"password": "right"}).labels
    monkeypatch.setenv("PGPASSWORD", "right")
    assert FewShotClassifier.load(tmp_path / "s").labels == ["a"]


def test_a_table_of_another_dimension_metric_or_format(pg_options, pg_server):
    pg(pg_options).register("a", rng.normal(size=(2, DIM)))
    encoder = wrap_module(torch.nn.Linear(3, DIM + 4), dim=DIM + 4)
    with pytest.raises(StoreFormatError, match=f"holds {DIM}-d vectors.*gives {DIM + 4}-d"):
        FewShotClassifier(encoder, store="pgvector", store_options=pg_options)
    with pytest.raises(InputError, match="dimension"):
        pg(pg_options).register("b", rng.normal(size=(1, DIM + 1)))
    with pytest.raises(StoreFormatError, match=r"holds cosine prototypes.*euclidean"):
        pg(pg_options, metric="euclidean")
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE foreign_thing (x int)")
        comment = (
            '{"format": "fewshot.pgvector", "format_version": 99, "dim": 8, "metric": "cosine"}'
        )
        conn.execute(f"COMMENT ON TABLE {pg_options['table']} IS '{comment}'")
    with pytest.raises(StoreFormatError, match="is not a fewshot class table"):
        pg({**pg_options, "table": "foreign_thing"})
    with pytest.raises(StoreFormatError, match=r"format_version 99.*upgrade fewshot"):
        pg(pg_options)


def test_a_dropped_table_is_named_and_never_silently_recreated(pg_options):
    clf = pg(pg_options)
    clf.register("a", rng.normal(size=(2, DIM)))
    with psycopg.connect(pg_options["dsn"], autocommit=True) as conn:
        conn.execute(f"DROP TABLE {pg_options['table']} CASCADE")
    with pytest.raises(StoreFormatError, match="no longer exists"):
        clf.labels  # noqa: B018
    with pytest.raises(StoreFormatError, match=r"no longer exists.*nothing was changed"):
        clf.register("b", rng.normal(size=(1, DIM)))
    clf.close()
    fresh = pg(pg_options)  # a new classifier on the name starts an empty table
    assert fresh.labels == []
    fresh.close()


def test_a_restarted_server_is_reconnected_once_transparently(pg_server, pg_options):
    clf = pg({**pg_options, "pool_size": 3})
    clf.register_many({"a": np.eye(DIM)[:2], "b": -np.eye(DIM)[:2]})
    barrier = threading.Barrier(3)

    def hold_a_connection() -> None:  # three pooled connections, all idle afterwards
        barrier.wait()
        clf.predict(np.eye(DIM)[:1])

    threads = [threading.Thread(target=hold_a_connection) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    pg_server.restart()
    assert clf.predict(np.eye(DIM)[:1]) == ["a"]  # dead connections dropped, one retry
    clf.register("c", np.ones((1, DIM)))
    assert clf.labels == ["a", "b", "c"]
    pg_server.stop()
    try:
        with pytest.raises(StoreUnavailableError, match="cannot connect"):
            clf.register("d", np.ones((1, DIM)))
    finally:
        pg_server.start()
    assert clf.labels == ["a", "b", "c"]  # nothing half-done
    clf.close()


def test_finetune_on_a_shared_table_is_refused_with_the_alternative(pg_options):
    clf = pg(pg_options)
    clf.register_many({"a": rng.normal(size=(3, DIM)), "b": rng.normal(size=(3, DIM))})
    with pytest.raises(InputError, match=r"shared 'pgvector' store.*store='flat'"):
        clf.finetune(part="head")
    assert clf.head is None and clf.labels == ["a", "b"]
    clf.close()


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "needs store_options"),
        ({"dsn": "host=/tmp", "colour": "red"}, r"\['colour'\] are not pgvector options"),
        ({"dsn": "host=/tmp", "table": "Robert'); DROP"}, "lower-case SQL name"),
        ({"dsn": "host=/tmp", "index": "ivf"}, "index must be one of"),
        ({"dsn": "host=/tmp", "connect_timeout": 0}, r"connect_timeout must be an int in \[2"),
        ({"dsn": "not a dsn ==="}, "not a PostgreSQL connection string"),
    ],
)
def test_bad_options_are_refused_before_connecting(options, message):
    with pytest.raises(InputError, match=message):
        pg(options)
