"""The ``pgvector`` backend: a classifier's classes in a PostgreSQL table, shared by processes.

``FewShotClassifier(encoder, store="pgvector", store_options={"dsn": ..., "table": ...})``.
Modules: ``options`` (store_options, the address), ``pool`` (connections), ``schema`` (tables,
format record, HNSW indexes), ``queries`` (the SQL), ``catalog`` (one label set as a
``ClassCatalog``) and ``sets`` (the table as ``LabelSets``). Needs the ``postgres`` extra
(``psycopg``, ``pgvector``); nothing else in fewshot imports this package.
"""
