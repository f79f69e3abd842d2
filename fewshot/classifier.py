"""FewShotClassifier: register classes from a few examples, then classify batches with no retraining."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from fewshot.calibration import ThresholdChoice, pick_threshold
from fewshot.encoders import Encoder, TorchEncoder, load_encoder
from fewshot.encoders.base import as_input_list
from fewshot.errors import InputError, NotReadyError, UnknownLabelError
from fewshot.heads.projection import ProjectionHead
from fewshot.index import METRICS, VectorStore, as_float32_matrix, normalize_rows
from fewshot.io import check_path_argument, reading_store, save_snapshot
from fewshot.rwlock import ReadWriteLock
from fewshot.snapshot import read_snapshot, write_snapshot
from fewshot.stores import check_store_name, make_store

Label = Union[str, int]  # noqa: UP007  (kept as a runtime alias for isinstance-free docs)
MODES = ("prototype", "knn")
FINETUNE_PARTS = ("auto", "encoder", "head")
# Rows validated, normalised, averaged or searched at a time: bounds temporary memory for huge
# batches to CHUNK_ROWS×d floats (the input and the N×k result are the only full-size arrays).
CHUNK_ROWS = 8192


@dataclass(frozen=True)
class QueryResult:
    """Top-k answers for a batch of N queries, best first.

    ``labels``: N×k object array (``None`` where fewer than k classes exist);
    ``scores``: N×k float32, higher is better (cosine similarity, or −squared distance);
    ``rejected``: N booleans, True where the best score is below the classifier's threshold.
    """

    labels: np.ndarray
    scores: np.ndarray
    rejected: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def check_label(label: Any) -> Label:
    """A label is a non-empty string or an integer; numpy integers become ``int``."""
    if isinstance(label, (bool, np.bool_)):
        raise InputError("a label must be a string or an int, not a bool")
    if isinstance(label, np.integer):
        return int(label)
    if isinstance(label, int):
        return label
    if isinstance(label, str):
        if not label.strip():
            raise InputError("a label must be a non-empty string (got an empty or blank one)")
        return label
    raise InputError(f"a label must be a string or an int, got {type(label).__name__}: {label!r}")


class FewShotClassifier:
    """Classify inputs among classes registered from a handful of examples each.

    Description:
        Examples pass through ``encoder`` (frozen) into embeddings; ``mode="prototype"`` stores
        one vector per class (the mean of its shots), ``mode="knn"`` stores every shot and votes
        among the ``n_neighbors`` nearest. ``metric`` is ``"cosine"`` or ``"euclidean"``.
        ``threshold`` rejects queries whose best score is below it (``predict`` gives ``None``).
        ``store`` is ``"flat"`` (exact search) or ``"ivf"`` (approximate, for ≥ 10⁶ vectors;
        see ``fewshot.stores.ivf``).

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

    def __init__(
        self,
        encoder: Encoder | str | os.PathLike[str] | None = None,
        *,
        metric: str = "cosine",
        mode: str = "prototype",
        threshold: float | None = None,
        n_neighbors: int = 5,
        store: str = "flat",
    ) -> None:
        if metric not in METRICS:
            raise InputError(f"metric must be one of {METRICS}, got {metric!r}")
        if mode not in MODES:
            raise InputError(f"mode must be one of {MODES}, got {mode!r}")
        if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
            raise InputError(f"n_neighbors must be an int >= 1, got {n_neighbors!r}")
        self.encoder = (
            None
            if encoder is None
            else (encoder if isinstance(encoder, Encoder) else load_encoder(encoder))
        )
        self.metric = metric
        self.mode = mode
        self.threshold = self._check_threshold(threshold)
        self.n_neighbors = int(n_neighbors)
        self.store = check_store_name(store)
        self._lock = ReadWriteLock()  # queries share it; register/remove take it alone
        self._shots: dict[Label, np.ndarray] = {}  # label → raw embeddings, shots×d
        # label → the raw texts behind its shots (only with an encoder, only str inputs: images
        # would hold decoded pixels in memory): after finetune() changes the encoder, the store
        # is rebuilt by embedding these again.
        self._examples: dict[Label, list[Any]] = {}
        self.head: ProjectionHead | None = None  # trained by finetune(part="head")
        self._ids: dict[Label, np.ndarray] = {}  # label → its ids in the store
        self._label_by_id = np.empty(0, dtype=object)  # store id → label (None when free)
        self._next_id = 0
        self._store: VectorStore | None = None
        self._dim: int | None = None if self.encoder is None else self.encoder.dim

    # ----------------------------------------------------------------------------- properties
    @property
    def labels(self) -> list[Label]:
        """Registered labels, in registration order."""
        with self._lock.read():
            return list(self._shots)

    @property
    def dim(self) -> int | None:
        """Embedding dimension (``None`` until known)."""
        return self._dim

    def __len__(self) -> int:
        return len(self._shots)

    def __contains__(self, label: object) -> bool:
        return label in self._shots

    def num_shots(self, label: Label) -> int:
        """How many examples are registered for ``label``."""
        with self._lock.read():
            return len(self._entry(label))

    def __repr__(self) -> str:
        encoder = None if self.encoder is None else self.encoder.spec
        return (
            f"FewShotClassifier(encoder={encoder}, metric={self.metric!r}, mode={self.mode!r}, "
            f"threshold={self.threshold}, classes={len(self)})"
        )

    # ---------------------------------------------------------------------------- embedding
    @staticmethod
    def _check_threshold(threshold: float | None) -> float | None:
        if threshold is None:
            return None
        try:
            value = float(threshold)
        except (TypeError, ValueError) as exc:
            raise InputError(f"threshold must be a number or None, got {threshold!r}") from exc
        if not np.isfinite(value):
            raise InputError(f"threshold must be finite, got {threshold!r}")
        return value

    def _feature_rows(self, examples: Any, what: str) -> np.ndarray:
        """Feature inputs as a 2-D real array of the store's width (not yet copied to float32)."""
        if isinstance(examples, torch.Tensor):
            examples = examples.detach().cpu().numpy()
        try:
            array = np.asarray(examples)
        except ValueError as exc:  # ragged lists
            raise InputError(f"`{what}` must be an N×d array of feature vectors: {exc}") from exc
        if array.dtype == object or array.dtype.kind in "USV":
            raise InputError(
                f"`{what}` must be numeric feature vectors (this classifier has no encoder); "
                "pass FewShotClassifier(encoder=...) to classify raw inputs"
            )
        if array.ndim == 1 and array.size == 0:
            array = array.reshape(0, self._dim or 0)  # an empty batch
        elif array.ndim == 1 and self._dim is not None and array.size == self._dim:
            array = array[None, :]  # one vector
        if array.ndim != 2:
            raise InputError(
                f"`{what}` must be a 2-D array N×d of feature vectors, got shape {array.shape}"
            )
        return array

    def _feature_chunk(self, rows: np.ndarray, start: int, what: str) -> np.ndarray:
        """Rows ``start…start+CHUNK_ROWS`` validated as float32 (NaN/inf named by global row)."""
        return as_float32_matrix(rows[start : start + CHUNK_ROWS], self._dim, what, first_row=start)

    def embed(self, examples: Any, what: str = "examples") -> np.ndarray:
        """Encode a batch into raw float32 embeddings ``N×d`` (features pass through, validated).

        Feature rows are checked chunk by chunk into one new array, so a huge batch costs one
        float32 copy and no full-size temporaries (the copy never aliases the caller's array).
        """
        if self.encoder is None:
            rows = self._feature_rows(examples, what)
            if rows.shape[0] == 0:
                return np.zeros((0, self._dim or rows.shape[1]), dtype=np.float32)
            as_float32_matrix(rows[:0], self._dim, what)  # shape and dtype errors first
            out = np.empty(rows.shape, dtype=np.float32)
            for start in range(0, len(rows), CHUNK_ROWS):
                out[start : start + CHUNK_ROWS] = self._feature_chunk(rows, start, what)
            return out
        items = as_input_list(examples, what)
        if not items:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        try:
            embedded = self.encoder.embed(items)
        except InputError as exc:
            raise InputError(f"`{what}`: {exc}") from exc
        return as_float32_matrix(embedded, self._dim, what)

    def _metric_space(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings as the store compares them: through the head if any, unit length for cosine."""
        if self.head is not None:
            embeddings = self.head.transform(embeddings)
        return normalize_rows(embeddings) if self.metric == "cosine" else embeddings

    def _prototype(self, shots: np.ndarray) -> np.ndarray:
        """Mean of the class's shots in metric space (1×d), normalised chunk by chunk."""
        total = np.zeros(shots.shape[1], dtype=np.float64)
        for start in range(0, len(shots), CHUNK_ROWS):
            chunk = self._metric_space(shots[start : start + CHUNK_ROWS])
            total += chunk.sum(axis=0, dtype=np.float64)
        return (total / len(shots)).astype(np.float32)[None, :]

    # ---------------------------------------------------------------------------- registering
    def register(self, label: Label, examples: Any) -> None:
        """Add ``examples`` (a batch of inputs, or an N×d array) as shots of ``label``.

        A new label becomes a class; an existing one is extended (its prototype is the mean of
        all its shots). Nothing changes if any example is invalid.
        """
        self.register_many({label: examples})

    def register_many(self, examples_by_label: Mapping[Label, Any]) -> None:
        """Register several classes at once (one encoder pass); all-or-nothing."""
        if not isinstance(examples_by_label, Mapping):
            raise InputError(
                "register_many takes a mapping {label: examples}, got "
                f"{type(examples_by_label).__name__}"
            )
        if not examples_by_label:
            raise InputError("register_many got an empty mapping: nothing to register")
        batches: dict[Label, Any] = {}
        for raw_label, examples in examples_by_label.items():
            label = check_label(raw_label)
            if label in batches:
                raise InputError(f"label {label!r} appears twice in register_many")
            batches[label] = examples
        embedded, raw = self._embed_groups(batches)
        with self._lock.write():
            self._add_shots(embedded)
            for label, items in raw.items():
                if all(isinstance(item, str) for item in items):
                    self._examples.setdefault(label, []).extend(items)

    def _embed_groups(
        self, batches: dict[Label, Any]
    ) -> tuple[dict[Label, np.ndarray], dict[Label, list[Any]]]:
        """Embed each label's examples (raw inputs go through the encoder in one pass).

        Returns the embeddings by label and, with an encoder, the raw inputs by label.
        """
        sizes: dict[Label, int] = {}
        raw: dict[Label, list[Any]] = {}
        if self.encoder is None:
            out = {  # embed() returns new arrays: shots never alias the caller's memory
                label: self.embed(examples, f"examples of {label!r}")
                for label, examples in batches.items()
            }
            sizes = {label: len(array) for label, array in out.items()}
        else:
            items: list[Any] = []
            for label, examples in batches.items():
                group = as_input_list(examples, f"examples of {label!r}")
                sizes[label] = len(group)
                raw[label] = group
                items.extend(group)
            if any(size == 0 for size in sizes.values()):
                empty = next(label for label, size in sizes.items() if size == 0)
                raise InputError(f"no examples given for label {empty!r}: pass at least one")
            flat = self.embed(items)
            out, start = {}, 0
            for label, size in sizes.items():
                out[label] = flat[start : start + size]
                start += size
        for label, size in sizes.items():
            if size == 0:
                raise InputError(f"no examples given for label {label!r}: pass at least one")
        dims = {array.shape[1] for array in out.values()}
        if len(dims) > 1:
            raise InputError(f"examples have different dimensions {sorted(dims)}; all must match")
        return out, raw

    def _ensure_store(self, dim: int) -> VectorStore:
        if self._store is None:
            self._dim = dim
            self._store = make_store(self.store, dim, self.metric)
        return self._store

    def _new_ids(self, count: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + count, dtype=np.int64)
        self._next_id += count
        if self._next_id > len(self._label_by_id):
            grown = np.empty(max(self._next_id, 2 * len(self._label_by_id), 64), dtype=object)
            grown[: len(self._label_by_id)] = self._label_by_id
            self._label_by_id = grown
        return ids

    def _add_shots(self, new: dict[Label, np.ndarray]) -> None:
        """Insert validated embeddings; the store is changed in one remove and one add."""
        store = self._ensure_store(next(iter(new.values())).shape[1])
        if self.mode == "prototype":
            stale = [self._ids[label] for label in new if label in self._ids]
            ids = np.concatenate([self._ids.get(label, self._new_ids(1)) for label in new])
            merged = {
                label: np.concatenate([self._shots[label], shots])
                if label in self._shots
                else shots
                for label, shots in new.items()
            }
            vectors = np.concatenate([self._prototype(shots) for shots in merged.values()])
            if stale:
                store.remove(np.concatenate(stale))
            store.add(ids, vectors)
            for position, (label, shots) in enumerate(merged.items()):
                self._shots[label] = shots
                self._ids[label] = ids[position : position + 1]
                self._label_by_id[ids[position]] = label
        else:
            for label, shots in new.items():
                ids = self._new_ids(len(shots))
                for start in range(0, len(shots), CHUNK_ROWS):
                    part = slice(start, start + CHUNK_ROWS)
                    store.add(ids[part], self._metric_space(shots[part]))
                self._label_by_id[ids] = label
                self._shots[label] = (
                    np.concatenate([self._shots[label], shots]) if label in self._shots else shots
                )
                self._ids[label] = (
                    np.concatenate([self._ids[label], ids]) if label in self._ids else ids
                )

    def _entry(self, label: Label) -> np.ndarray:
        try:
            return self._shots[label]
        except (KeyError, TypeError):
            known = ", ".join(repr(name) for name in list(self._shots)[:10])
            more = "" if len(self._shots) <= 10 else f" and {len(self._shots) - 10} more"
            raise UnknownLabelError(
                f"label {label!r} is not registered (known: {known or 'none'}{more})"
            ) from None

    def remove(self, label: Label) -> None:
        """Forget ``label`` and all its shots."""
        with self._lock.write():
            self._entry(label)
            ids = self._ids.pop(label)
            del self._shots[label]
            self._examples.pop(label, None)
            assert self._store is not None
            self._store.remove(ids)
            self._label_by_id[ids] = None

    def clear(self) -> None:
        """Remove every class (the encoder and settings stay)."""
        with self._lock.write():
            for label in list(self._shots):
                self.remove(label)

    def shots(self, label: Label) -> np.ndarray:
        """A copy of the raw embeddings registered for ``label`` (shots×d)."""
        with self._lock.read():
            return self._entry(label).copy()

    def examples(self, label: Label) -> list[Any]:
        """The texts registered for ``label`` (a copy; empty without an encoder or for non-text)."""
        with self._lock.read():
            self._entry(label)
            return list(self._examples.get(label, []))

    # ---------------------------------------------------------------------------- adapting
    def finetune(self, part: str = "auto", **options: Any) -> Any:
        """Adapt the metric space to the registered shots, then rebuild the store.

        ``part="auto"`` (default) picks ``"encoder"`` when the encoder is a text transformer
        and every class kept its raw examples, else ``"head"`` (precomputed features, image
        encoders, classifiers loaded from a format-1 save). ``part="encoder"`` fine-tunes the
        transformer blocks of a text encoder (all of them by default, or the last ``layers``)
        on the registered raw examples (``fewshot.finetune.finetune_text_encoder``; options
        ``loss``, ``layers``, ``epochs``, ``batch_size``, ``lr``, ``seed``, ``progress``, whose
        defaults need no tuning). The classifier takes a fine-tuned copy of the encoder (the
        object passed in is not changed), drops any projection head, and re-embeds every
        example. ``part="head"`` trains a projection head episodically on the registered
        embeddings (``fewshot.heads.projection.train_projection_head``; options ``episodes``,
        ``n_way``, ``lr``, ``identity_weight``, ``seed``, ``progress``).

        Scores change, so ``threshold`` is reset to ``None``: calibrate it again
        (``calibrate_threshold``) on held-out data. Returns the run's report (encoder) or the
        head. On bad input (fewer than two labels, no raw examples, a non-text encoder) it
        raises ``InputError`` and the classifier is unchanged.
        """
        if part not in FINETUNE_PARTS:
            raise InputError(f"part must be one of {FINETUNE_PARTS}, got {part!r}")
        with self._lock.read():
            count = len(self._shots)
            shots = {label: array.copy() for label, array in self._shots.items()}
            examples = {label: list(self._examples.get(label, [])) for label in self._shots}
            incomplete = [
                label
                for label, array in self._shots.items()
                if len(self._examples.get(label, ())) != len(array)
            ]
        if part == "auto":
            part = "encoder" if not incomplete and self._encoder_tunable() else "head"
        if part == "encoder":
            options.setdefault("embeddings", shots)  # the frozen start: no extra encoding pass
        if count < 2:
            raise InputError(
                f"finetune needs at least two registered labels, got {count}; register more "
                "classes first (clf.register(label, examples))"
            )
        if part == "head":
            return self._train_head(shots, options)
        return self._finetune_encoder(examples, incomplete, options)

    def _has_all_examples(self) -> bool:
        """Whether every shot's raw text is kept (needed to re-embed after fine-tuning and to save
        examples); the caller holds the lock."""
        return all(
            len(self._examples.get(label, ())) == len(shots) for label, shots in self._shots.items()
        )

    def _encoder_tunable(self) -> bool:
        """Whether ``finetune(part="encoder")`` applies to this encoder: a text transformer."""
        from fewshot.finetune import transformer_blocks

        if not isinstance(self.encoder, TorchEncoder):
            return False
        try:
            transformer_blocks(self.encoder)
        except InputError:
            return False
        return True

    def _train_head(self, shots: dict[Label, np.ndarray], options: dict[str, Any]) -> Any:
        from fewshot.heads.projection import train_projection_head

        try:
            head = train_projection_head(shots, **options)
        except (TypeError, ValueError) as exc:
            raise InputError(f"finetune(part='head'): {exc}") from exc
        with self._lock.write():
            self.head = head
            self.threshold = None
            self._rebuild(dict(self._shots))
        return head

    def _finetune_encoder(
        self, examples: dict[Label, list[Any]], incomplete: list[Label], options: dict[str, Any]
    ) -> Any:
        from fewshot.finetune import finetune_text_encoder

        if self.encoder is None or not isinstance(self.encoder, TorchEncoder):
            raise InputError(
                "finetune(part='encoder') needs a trainable encoder, but this classifier "
                f"{'holds precomputed features' if self.encoder is None else 'has no torch encoder'}"
                "; use finetune(part='head'), or build it with FewShotClassifier('minilm')"
            )
        if incomplete:
            raise InputError(
                f"finetune needs the raw examples behind every class; {len(incomplete)} class(es) "
                f"lack some (e.g. {incomplete[0]!r}: loaded from an older save or registered as "
                "non-text inputs). Register them again, or use finetune(part='head')"
            )
        try:
            tuned, report = finetune_text_encoder(self.encoder, examples, **options)
        except TypeError as exc:
            raise InputError(f"finetune(part='encoder'): {exc}") from exc
        with self._lock.write():
            if not self._has_all_examples():
                raise InputError(
                    "finetune: classes without raw texts were registered while it trained; "
                    "nothing was changed. Run finetune() again"
                )
            current = {label: self._examples[label] for label in self._shots}  # incl. new ones
            flat = [item for items in current.values() for item in items]
            embedded = as_float32_matrix(tuned.embed(flat), self._dim, "examples")
            shots, start = {}, 0
            for label, items in current.items():
                shots[label] = embedded[start : start + len(items)]
                start += len(items)
            self.encoder = tuned
            self.head = None
            self.threshold = None
            self._rebuild(shots)
        return report

    def _rebuild(self, shots: dict[Label, np.ndarray]) -> None:
        """Replace the store with one built from ``shots`` (label → raw embeddings); holds the write lock."""
        self._store = None
        self._shots, self._ids = {}, {}
        self._label_by_id = np.empty(0, dtype=object)
        self._next_id = 0
        if shots:
            self._add_shots(shots)

    # ---------------------------------------------------------------------------- querying
    def query(self, batch: Any, k: int = 1) -> QueryResult:
        """Top-``k`` labels and scores for each of the N inputs in ``batch`` (best first)."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be an int >= 1, got {k!r}")
        k = int(k)
        if not self._shots:
            raise NotReadyError("no class is registered yet: call register(label, examples) first")
        if self.encoder is None:  # validated chunk by chunk below, inside the search loop
            rows = self._feature_rows(batch, "batch")
            as_float32_matrix(rows[:0], self._dim, "batch")
        else:  # encode outside the lock: it is the slow part and touches no shared state
            rows = self.embed(batch, "batch")
        labels = np.full((len(rows), k), None, dtype=object)
        scores = np.full((len(rows), k), -np.inf, dtype=np.float32)
        with self._lock.read():  # one reader view for the whole batch
            if not self._shots or self._store is None:
                raise NotReadyError(
                    "no class is registered yet: call register(label, examples) first"
                )
            for start in range(0, len(rows), CHUNK_ROWS):
                part = slice(start, start + CHUNK_ROWS)
                chunk = (
                    self._feature_chunk(rows, start, "batch")
                    if self.encoder is None
                    else rows[part]
                )
                queries = self._metric_space(chunk)
                if self.mode == "prototype":
                    scores[part], ids = self._store.search_prepared(queries, k)
                    labels[part] = self._labels_of(ids)
                else:
                    labels[part], scores[part] = self._knn_vote(queries, k)
        if self.threshold is None:
            rejected = np.zeros(len(scores), dtype=bool)
        else:
            rejected = scores[:, 0] < self.threshold if len(scores) else np.zeros(0, dtype=bool)
        return QueryResult(labels=labels, scores=scores, rejected=rejected)

    def _labels_of(self, ids: np.ndarray) -> np.ndarray:
        labels = self._label_by_id[np.maximum(ids, 0)]
        labels[ids < 0] = None
        return labels

    def _knn_vote(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Similarity-weighted vote among the ``n_neighbors`` nearest shots.

        A label's score is the sum of its neighbours' similarities divided by ``n_neighbors``
        (cosine similarity; ``1/(1+d²)`` for euclidean). Labels first met beyond the nearest
        ``n_neighbors`` rank after with their single best similarity / ``n_neighbors``.
        """
        assert self._store is not None
        most_shots = max(len(ids) for ids in self._ids.values())
        depth = min(len(self._store), max(self.n_neighbors, k * most_shots))
        raw, ids = self._store.search_prepared(queries, depth)
        similarity = raw if self.metric == "cosine" else 1.0 / (1.0 - raw)  # raw = −d²
        neighbour_labels = self._labels_of(ids)
        labels = np.full((len(queries), k), None, dtype=object)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for row in range(len(queries)):
            votes: dict[Label, float] = {}
            for rank, (label, value) in enumerate(zip(neighbour_labels[row], similarity[row])):
                if label is None:
                    continue
                if rank < self.n_neighbors:
                    votes[label] = votes.get(label, 0.0) + float(value)
                elif label not in votes:
                    votes[label] = float(value)
            ranked = sorted(votes.items(), key=lambda item: -item[1])[:k]
            for column, (label, value) in enumerate(ranked):
                labels[row, column] = label
                scores[row, column] = value / self.n_neighbors
        return labels, scores

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
        """Save everything needed to answer queries again; crash-safe (see ``fewshot.io``).

        Writes a FAISS index, the shots as safetensors, the encoder (its name, or its weights
        as a checkpoint) and a JSON manifest with checksums. Returns the snapshot folder.
        """
        root = check_path_argument(directory)
        with self._lock.read():
            return save_snapshot(root, lambda folder: write_snapshot(self, folder))

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        **encoder_options: Any,
    ) -> FewShotClassifier:
        """Load a classifier saved with ``save``; checksums are verified and nothing is unpickled.

        Pass ``encoder=`` to supply (or replace) the encoder, e.g. one that could not be saved.
        """
        with reading_store(check_path_argument(directory)) as folder:
            return read_snapshot(cls, folder, encoder, encoder_options)
