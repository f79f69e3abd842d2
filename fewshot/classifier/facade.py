"""FewShotClassifier: register classes from a few examples, then classify batches with no retraining.

The facade holds the settings and the lock and delegates each job: ``inputs`` turns inputs into
rows, ``catalog`` keeps the classes and the store, ``scoring`` answers queries, ``adapting``
runs ``finetune`` and ``snapshot`` is the file format. Encoding and training run outside the
lock; changes to the catalog are swapped in under it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from fewshot.calibration import ThresholdChoice, pick_threshold
from fewshot.classifier import adapting
from fewshot.classifier.inputs import (
    Label,
    embed_groups,
    embed_inputs,
    feature_rows,
    label_batches,
)
from fewshot.classifier.label_sets import DEFAULT_SET, check_label_set, check_label_sets
from fewshot.classifier.persistence import Persistent
from fewshot.classifier.scoring import QueryResult, answer_sets, require_classes
from fewshot.classifier.streaming import CHUNK_SIZE, register_stream
from fewshot.errors import InputError, UnknownLabelError
from fewshot.stores import check_k


class FewShotClassifier(Persistent):
    """Classify inputs among classes registered from a handful of examples each.

    Description:
        Examples pass through ``encoder`` (frozen) into embeddings; ``mode="prototype"`` stores
        one vector per class (the mean of its shots), ``mode="knn"`` stores every shot and votes
        among the ``n_neighbors`` nearest. ``metric`` is ``"cosine"`` or ``"euclidean"``.
        ``threshold`` rejects queries whose best score is below it (``predict`` gives ``None``).
        ``store`` names the backend, ``store_options`` its settings: ``"flat"`` (exact),
        ``"ivf"`` (approximate, ≥ 10⁶ vectors; ``{"nprobe": 32}``) or ``"pgvector"`` (a
        PostgreSQL table shared by processes; ``{"dsn": ..., "table": ...}``). Classes live in
        label sets (``label_set=``, default ``"default"``): independent groups, one encoder.

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

    def register(self, label: Label, examples: Any, *, label_set: str = DEFAULT_SET) -> None:
        """Add ``examples`` (a batch of inputs, or an N×d array) as shots of ``label``.

        A new label becomes a class; an existing one is extended (its prototype is the mean of
        all its shots). Nothing changes if any example is invalid.
        """
        self.register_many({label: examples}, label_set=label_set)

    def register_many(
        self,
        examples: Any,
        *,
        label_set: str = DEFAULT_SET,
        chunk_size: int = CHUNK_SIZE,
        progress: bool | None = None,
    ) -> int:
        """Register several classes at once; returns the number of examples registered.

        ``{label: examples}``: one encoder pass, all-or-nothing. An iterable of ``(input,
        label)`` pairs, or a ``DataLoader`` of ``(inputs, labels)`` batches: streamed in chunks
        of ``chunk_size`` rows (bounded memory, a progress bar), each chunk all-or-nothing.
        """
        label_set = check_label_set(label_set)
        if not isinstance(examples, Mapping):
            add = partial(self._add_group, label_set=label_set, embedded=False)
            return register_stream(add, examples, chunk_size, progress)
        return self._add_group(label_batches(examples), label_set=label_set, embedded=False)

    def register_embedded(
        self,
        source: Any,
        *,
        label_set: str = DEFAULT_SET,
        chunk_size: int = CHUNK_SIZE,
        progress: bool | None = None,
    ) -> int:
        """Register raw embeddings made earlier by this classifier's encoder (e.g. by
        ``fewshot.shards``), skipping the encoder: ``(vector, label)`` pairs or ``(N×d rows,
        N labels)`` batches, streamed like ``register_many``; returns the rows registered."""
        label_set = check_label_set(label_set)
        add = partial(self._add_group, label_set=label_set, embedded=True)
        return register_stream(add, source, chunk_size, progress)

    def _add_group(self, batches: dict[Label, Any], *, label_set: str, embedded: bool) -> int:
        """Embed ``{label: batch}`` outside the lock, then add it to ``label_set`` under it."""
        with self._lock.read():
            encoder, sets = self.encoder, self._sets
        rows, raw = embed_groups(None if embedded else encoder, batches, sets.dim)
        with self._lock.write():
            if self._sets is not sets:  # finetune() swapped the encoder meanwhile
                if embedded:
                    raise InputError(
                        "finetune() replaced the encoder while embeddings were registered; "
                        "embed them again with the new encoder"
                    )
                rows, raw = embed_groups(self.encoder, batches, self.dim)
            self._sets.get(label_set).add(rows, raw)
        return sum(len(group) for group in rows.values())

    def remove(self, label: Label, *, label_set: str = DEFAULT_SET) -> None:
        """Forget ``label`` and all its shots."""
        with self._lock.write():
            self._catalog(label_set).remove(label)

    def clear(self, *, label_set: str | None = None) -> None:
        """Remove every class of ``label_set`` (``None``: of every set); the encoder and
        settings stay."""
        with self._lock.write():
            names = self._sets.names() if label_set is None else [check_label_set(label_set)]
            for name in names:
                catalog = self._sets.get(name)
                for label in catalog.labels:
                    with contextlib.suppress(UnknownLabelError):  # another process was faster
                        catalog.remove(label)

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
            sets, name, catalog = adapting.only_set(self._sets)
            shots = {label: catalog.shots(label).copy() for label in catalog.labels}
            examples = {label: list(catalog.examples(label)) for label in catalog.labels}
            incomplete, version = catalog.incomplete(), catalog.version
        adapted = adapting.adapt(part, self.encoder, catalog, shots, examples, incomplete, options)
        with self._lock.write():
            if self._sets is not sets or set(sets.names()) - {name}:
                raise InputError(
                    "finetune: another finetune() finished, or classes were registered in "
                    "another label set, while this one ran; nothing was changed"
                )
            fresh = adapted.catalog
            if catalog.version != version:  # classes changed meanwhile: carry them over
                texts = examples if adapted.encoder is not self._encoder else None
                fresh = adapting.carry_over(catalog, fresh, adapted.encoder, texts)
            self._encoder, self._threshold = adapted.encoder, None
            self._sets = sets.replaced(name, fresh)
        return adapted.result

    # ---------------------------------------------------------------------------- querying
    def query(self, batch: Any, k: int = 1, *, label_set: str = DEFAULT_SET) -> QueryResult:
        """Top-``k`` labels and scores for each of the N inputs in ``batch`` (best first),
        among the classes of ``label_set``."""
        label_set = check_label_set(label_set)
        return self._query(batch, k, [label_set])[label_set]

    def query_sets(
        self, batch: Any, k: int = 1, *, label_sets: Any = None
    ) -> dict[str, QueryResult]:
        """``query`` against several label sets from one encoder pass: ``{set: result}``
        (``label_sets=None``: every set that holds a class)."""
        names = self.label_sets if label_sets is None else check_label_sets(label_sets)
        return self._query(batch, k, names)

    def _query(self, batch: Any, k: int, names: list[str]) -> dict[str, QueryResult]:
        k = check_k(k)
        with self._lock.read():  # the encoder and the classes it embedded them with, as a pair
            encoder, sets = self.encoder, self._sets
        catalogs = {name: sets.get(name) for name in names}
        require_classes(catalogs, k)
        if encoder is None:  # validated chunk by chunk below, inside the search loop
            rows = feature_rows(batch, sets.dim, "batch")
        else:  # encode outside the lock: it is the slow part and touches no shared state
            rows = embed_inputs(encoder, batch, sets.dim, "batch")
        with self._lock.read():  # one consistent view of the classes for the whole batch
            return answer_sets(
                catalogs,
                rows,
                k,
                self.n_neighbors,
                self._threshold,
                sets.space.metric,
                features=encoder is None,
            )

    def predict(self, batch: Any, *, label_set: str = DEFAULT_SET) -> list[Label | None]:
        """The best label for each input, or ``None`` where its score is below ``threshold``."""
        result = self.query(batch, k=1, label_set=label_set)
        return [
            None if rejected else label
            for label, rejected in zip(result.labels[:, 0], result.rejected)
        ]

    def best_scores(self, batch: Any, *, label_set: str = DEFAULT_SET) -> np.ndarray:
        """Each input's best score (N float32): what the rejection threshold is compared with."""
        return self.query(batch, k=1, label_set=label_set).scores[:, 0]

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
