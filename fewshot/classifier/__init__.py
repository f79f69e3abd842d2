"""The few-shot classifier: classes registered from a few examples, answered by a vector store.

Modules, bottom up: ``rwlock`` (readers–writer lock), ``inputs`` (inputs → validated float32
rows), ``space`` (head + metric), ``catalog`` (the protocol of one label set's classes),
``local_catalog`` (classes, ids and a FAISS store in this process), ``label_sets`` (several
sets behind one classifier), ``backends`` (store name → label sets; ``fewshot.stores.pgvector``
for a database), ``scoring`` (prototype and kNN answers), ``streaming`` (registrations in
chunks), ``adapting`` (``finetune``), ``set_files`` and ``snapshot`` (the saved format),
``base`` (settings and state) and ``facade`` (``FewShotClassifier``).
"""

from fewshot.classifier.facade import FewShotClassifier
from fewshot.classifier.inputs import MODES, Label, check_label
from fewshot.classifier.scoring import QueryResult

__all__ = ["MODES", "FewShotClassifier", "Label", "QueryResult", "check_label"]
