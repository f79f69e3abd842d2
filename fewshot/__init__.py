"""fewshot: few-shot classification with frozen pre-trained encoders and a FAISS class store.

>>> import fewshot
>>> clf = fewshot.FewShotClassifier(fewshot.load_encoder("minilm"))
>>> clf.register("greeting", ["hello there", "good morning"])
"""

from __future__ import annotations

from fewshot import _openmp  # noqa: F401  (first: OpenMP's wait policy, before torch loads)
from fewshot.calibration import ThresholdChoice, pick_threshold
from fewshot.classifier import FewShotClassifier, QueryResult
from fewshot.encoders import (
    Encoder,
    ImagePreprocess,
    TorchEncoder,
    load_encoder,
    register_architecture,
    save_checkpoint,
    wrap_module,
)
from fewshot.errors import (
    FewShotError,
    InputError,
    NotReadyError,
    StoreFormatError,
    StoreUnavailableError,
    UnknownLabelError,
)
from fewshot.runtime import set_num_threads, worker_init_fn
from fewshot.version import __version__

__all__ = [
    "Encoder",
    "FewShotClassifier",
    "FewShotError",
    "ImagePreprocess",
    "InputError",
    "NotReadyError",
    "QueryResult",
    "StoreFormatError",
    "StoreUnavailableError",
    "ThresholdChoice",
    "TorchEncoder",
    "UnknownLabelError",
    "__version__",
    "load_encoder",
    "pick_threshold",
    "register_architecture",
    "save_checkpoint",
    "set_num_threads",
    "worker_init_fn",
    "wrap_module",
]
