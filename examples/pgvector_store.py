"""Classes in PostgreSQL + pgvector, shared by two classifiers as two processes would share them.

Starts a throwaway local PostgreSQL 18 with pgvector (the postgres-server extra) in a temporary
folder, registers intents through one classifier, answers them from a second one that never
reloads, serves a second label set from the same encoder pass, saves the address, and stops
the server. Offline, about 15 s here.

    python examples/pgvector_store.py              # its own server
    python examples/pgvector_store.py --dsn postgresql://user@host/db   # an existing one
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator

import fewshot


@contextlib.contextmanager
def server(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    from fewshot.stores.pgvector.local_server import local_server

    with local_server() as local:  # stopped and deleted on exit, whatever happens
        print(f"started a local PostgreSQL in {local.pgdata.parent}")
        yield local.dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="an existing PostgreSQL with pgvector (default: start one)")
    parser.add_argument("--table", default="example_intents")
    args = parser.parse_args()
    encoder = fewshot.load_encoder("minilm")
    with server(args.dsn) as dsn:
        options = {"dsn": dsn, "table": args.table}
        writer = fewshot.FewShotClassifier(encoder, store="pgvector", store_options=options)
        reader = fewshot.FewShotClassifier(encoder, store="pgvector", store_options=options)
        writer.clear()  # a rerun against an existing table starts afresh
        writer.register_many(
            {
                "lost_card": ["I lost my credit card", "my debit card was stolen"],
                "weather": ["will it rain tomorrow", "what's the forecast for this weekend"],
            }
        )
        print("the reader sees", reader.labels, "without reloading")
        writer.register("greeting", ["hello there", "good morning"])  # commits at once
        print("reader:", reader.predict(["someone took my visa card", "hi, how are you?"]))
        writer.register_many(
            {"billing": ["my invoice is wrong"], "outage": ["the site is down"]},
            label_set="tenant-b",
        )
        answers = reader.query_sets(["my bill looks too high"], k=1)  # one encoder pass
        print({name: result.labels[0, 0] for name, result in answers.items()})
        with tempfile.TemporaryDirectory() as folder:
            writer.save(folder)  # the encoder's name and the table's address, not the vectors
            again = fewshot.FewShotClassifier.load(folder)
            print("loaded from the address:", again.labels)
            again.close()
        writer.clear(label_set=None)
        writer.close()
        reader.close()


if __name__ == "__main__":
    main()
