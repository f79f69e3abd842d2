"""FewShotClassifier: register classes from a few examples, then classify batches with no retraining.

The facade holds the settings and the lock and delegates each job: ``inputs`` turns inputs into
rows, ``catalog`` keeps the classes and the store, ``scoring`` answers queries, ``adapting``
runs ``finetune`` and ``snapshot`` is the file format. Encoding and training run outside the
lock; changes to the catalog are swapped in under it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from fewshot.calibration import ThresholdChoice, pick_threshold
from fewshot.classifier import adapting
from fewshot.classifier.base import ClassifierBase
from fewshot.classifier.inputs import (
    Label,
    embed_groups,
    embed_inputs,
    feature_rows,
    label_batches,
)
from fewshot.classifier.scoring import QueryResult, answer, rejections
from fewshot.classifier.snapshot import (
    Snapshot,
    editing_classifier,
    load_classifier,
    save_classifier,
)
from fewshot.durable import check_path_argument
from fewshot.encoders import Encoder
from fewshot.errors import InputError, NotReadyError
from fewshot.stores import check_k

#: ``query`` pads results with ``None`` up to this ``k`` when fewer classes exist; a larger
#: ``k`` than the classes is refused, so a typo cannot allocate an N × 10¹² result.
MAX_PADDED_K = 1024


class FewShotClassifier(ClassifierBase):
    """Classify inputs among classes registered from a handful of examples each.

    Description:
        Examples pass through ``encoder`` (frozen) into embeddings; ``mode="prototype"`` stores
        one vector per class (the mean of its shots), ``mode="knn"`` stores every shot and votes
        among the ``n_neighbors`` nearest. ``metric`` is ``"cosine"`` or ``"euclidean"``.
        ``threshold`` rejects queries whose best score is below it (``predict`` gives ``None``).
        ``store`` names the vector-store backend: ``"flat"`` (exact) or ``"ivf"`` (approximate,
        for ≥ 10⁶ vectors), with ``store_options`` passed to it (e.g. ``{"nprobe": 32}``).

    Arguments:
        encoder: an ``Encoder``, a name/path for ``fewshot.load_encoder``, or ``None`` when
            examples are precomputed feature vectors (arrays ``N×d``).

    Example:
        >>> clf = FewShotClassifier("minilm")
        >>> clf.register("greeting", ["hi there", "hello!", "good morning"])
        >>> clf.register("refund", ["I want my money back", "refund my order"])
        >>> clf.predict(["hey, how are you?"])
        ['greeting']
    """

    # ---------------------------------------------------------------------------- registering
    def embed(self, examples: Any, what: str = "examples") -> np.ndarray:
        """Encode a batch into raw float32 embeddings ``N×d`` (features pass through, validated)."""
        return embed_inputs(self.encoder, examples, self.dim, what)

    def register(self, label: Label, examples: Any) -> None:
        """Add ``examples`` (a batch of inputs, or an N×d array) as shots of ``label``.

        A new label becomes a class; an existing one is extended (its prototype is the mean of
        all its shots). Nothing changes if any example is invalid.
        """
        self.register_many({label: examples})

    def register_many(self, examples_by_label: Mapping[Label, Any]) -> None:
        """Register several classes at once (one encoder pass); all-or-nothing."""
        batches = label_batches(examples_by_label)
        with self._lock.read():
            encoder, catalog = self.encoder, self._catalog
        embedded, raw = embed_groups(encoder, batches, catalog.dim)  # outside the lock
        with self._lock.write():
            if self._catalog is not catalog:  # finetune() swapped the encoder meanwhile
                embedded, raw = embed_groups(self.encoder, batches, self.dim)
            self._catalog.add(embedded, raw)

    def remove(self, label: Label) -> None:
        """Forget ``label`` and all its shots."""
        with self._lock.write():
            self._catalog.remove(label)

    def clear(self) -> None:
        """Remove every class (the encoder and settings stay)."""
        with self._lock.write():
            for label in self._catalog.labels:
                self._catalog.remove(label)

    # ---------------------------------------------------------------------------- adapting
    def finetune(self, part: str = "auto", **options: Any) -> Any:
        """Adapt the metric space to the registered shots, then rebuild the store.

        ``part="auto"`` (default) picks ``"encoder"`` when the encoder is a text transformer
        and every class kept its raw examples, else ``"head"``. ``"encoder"`` fine-tunes a copy
        of the text encoder's blocks on the registered texts (options of
        ``fewshot.adapt.finetune_text_encoder``: ``loss``, ``layers``, ``epochs``,
        ``batch_size``, ``lr``, ``seed``, ``progress``), drops any head and re-embeds every
        example. ``"head"`` trains a projection head on the registered embeddings (options of
        ``fewshot.adapt.train_projection_head``: ``episodes``, ``n_way``, ``lr``,
        ``identity_weight``, ``seed``, ``progress``).

        Scores change, so ``threshold`` is reset to ``None``: calibrate it again. Returns the
        run's report (encoder) or the head. On bad input (fewer than two labels, no raw
        examples, a non-text encoder, an unknown option) it raises ``InputError`` and the
        classifier is unchanged. Queries keep running while it trains and re-embeds.
        """
        with self._lock.read():
            catalog = self._catalog
            shots = {label: catalog.shots(label).copy() for label in catalog.labels}
            examples = {label: list(catalog.examples(label)) for label in catalog.labels}
            incomplete, version = catalog.incomplete(), catalog.version
        adapted = adapting.adapt(part, self.encoder, catalog, shots, examples, incomplete, options)
        with self._lock.write():
            if self._catalog is not catalog:
                raise InputError(
                    "finetune: another finetune() finished while this one ran; nothing was changed"
                )
            fresh = adapted.catalog
            if catalog.version != version:  # classes changed meanwhile: carry them over
                texts = examples if adapted.encoder is not self._encoder else None
                fresh = adapting.carry_over(catalog, fresh, adapted.encoder, texts)
            self._encoder, self._catalog, self._threshold = adapted.encoder, fresh, None
        return adapted.result

    # ---------------------------------------------------------------------------- querying
    def query(self, batch: Any, k: int = 1) -> QueryResult:
        """Top-``k`` labels and scores for each of the N inputs in ``batch`` (best first)."""
        k = check_k(k)
        with self._lock.read():  # the encoder and the classes it embedded them with, as a pair
            encoder, catalog = self.encoder, self._catalog
        classes = len(catalog)
        if not classes:
            raise NotReadyError("no class is registered yet: call register(label, examples) first")
        if k > max(classes, MAX_PADDED_K):
            raise InputError(
                f"k={k} asks for more answers than the {classes} registered classes; results "
                f"are padded with None only up to k={MAX_PADDED_K}: ask for at most {classes}"
            )
        if encoder is None:  # validated chunk by chunk below, inside the search loop
            rows = feature_rows(batch, catalog.dim, "batch")
        else:  # encode outside the lock: it is the slow part and touches no shared state
            rows = embed_inputs(encoder, batch, catalog.dim, "batch")
        with self._lock.read():  # one consistent view of the classes for the whole batch
            threshold = self._threshold
            metric = catalog.space.metric
            features = encoder is None
            labels, scores = answer(catalog, rows, k, self.n_neighbors, metric, features=features)
        return QueryResult(labels=labels, scores=scores, rejected=rejections(scores, threshold))

    def predict(self, batch: Any) -> list[Label | None]:
        """The best label for each input, or ``None`` where its score is below ``threshold``."""
        result = self.query(batch, k=1)
        return [
            None if rejected else label
            for label, rejected in zip(result.labels[:, 0], result.rejected)
        ]

    def best_scores(self, batch: Any) -> np.ndarray:
        """Each input's best score (N float32): what the rejection threshold is compared with."""
        return self.query(batch, k=1).scores[:, 0]

    def calibrate_threshold(
        self,
        in_scope: Any,
        out_of_scope: Any | None = None,
        *,
        in_scope_acceptance: float | None = None,
        out_of_scope_rejection: float | None = None,
    ) -> ThresholdChoice:
        """Set ``threshold`` from held-out examples of known classes and of none.

        With a target rate (``in_scope_acceptance=0.95`` or ``out_of_scope_rejection=0.9``)
        the threshold meets it; otherwise it maximises balanced accuracy of accept/reject.
        Returns the choice with the rates it achieves on these examples.
        """
        inside = self.best_scores(in_scope)
        outside = None if out_of_scope is None else self.best_scores(out_of_scope)
        choice = pick_threshold(
            inside,
            outside,
            in_scope_acceptance=in_scope_acceptance,
            out_of_scope_rejection=out_of_scope_rejection,
        )
        self.threshold = choice.threshold
        return choice

    # ---------------------------------------------------------------------------- persistence
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Save everything needed to answer queries again; crash-safe (``fewshot.store_directory``).

        Writes a FAISS index, the shots as safetensors, the encoder (its name, or its weights
        as a checkpoint) and a JSON manifest with checksums. Returns the snapshot folder.
        """
        return self._save(check_path_argument(directory), locked=False)

    def _save(self, root: Path, *, locked: bool) -> Path:
        with self._lock.read():
            state, settings = self._catalog.state(), self.get_settings()
            return save_classifier(root, settings, self._encoder, self.head, state, locked=locked)

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        **encoder_options: Any,
    ) -> FewShotClassifier:
        """Load a classifier saved with ``save``; every file is checked and nothing is unpickled.

        Pass ``encoder=`` to supply (or replace) the encoder, e.g. one that could not be saved.
        """
        root = check_path_argument(directory)
        return cls._from_snapshot(load_classifier(root, encoder, encoder_options))

    @classmethod
    @contextmanager
    def editing(
        cls, directory: str | os.PathLike[str], **new_store: Any
    ) -> Iterator[FewShotClassifier]:
        """Load a store (or start one with ``new_store``: the constructor's keywords, encoder
        included), let the block change it, and save it, all under the store's exclusive lock:
        concurrent editors (processes, threads, CLI calls) wait for each other, so none of their
        changes is lost. Nothing is saved if the block raises.

        Example:
            >>> with FewShotClassifier.editing("intents/", encoder="minilm") as clf:
            ...     clf.register("refund", ["I want my money back"])
        """
        root = check_path_argument(directory)
        with editing_classifier(root, None, {}) as snapshot:
            clf = cls(**new_store) if snapshot is None else cls._from_snapshot(snapshot)
            yield clf
            clf._save(root, locked=True)

    @classmethod
    def _from_snapshot(cls, snapshot: Snapshot) -> FewShotClassifier:
        clf = cls(snapshot.encoder, **snapshot.settings)
        clf._catalog = snapshot.catalog
        return clf
