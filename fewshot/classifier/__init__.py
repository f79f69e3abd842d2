"""The few-shot classifier: classes registered from a few examples, answered by a vector store.

Modules, bottom up: ``rwlock`` (readers–writer lock), ``inputs`` (inputs → validated float32
rows), ``space`` (head + metric), ``catalog`` (classes, ids, the store), ``scoring`` (prototype
and kNN answers), ``adapting`` (``finetune``), ``snapshot`` (the saved format), ``base``
(settings and state) and ``facade`` (``FewShotClassifier``).
"""

from fewshot.classifier.facade import FewShotClassifier
from fewshot.classifier.inputs import MODES, Label, check_label
from fewshot.classifier.scoring import QueryResult

__all__ = ["MODES", "FewShotClassifier", "Label", "QueryResult", "check_label"]
