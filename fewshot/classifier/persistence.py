"""Saving, loading and editing a classifier as a store directory (``classifier.snapshot`` holds
the file format, ``fewshot.store_directory`` the crash-safe directory protocol)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from fewshot.classifier.base import ClassifierBase
from fewshot.classifier.label_sets import DEFAULT_SET
from fewshot.classifier.snapshot import (
    Snapshot,
    editing_classifier,
    load_classifier,
    save_classifier,
)
from fewshot.durable import check_path_argument
from fewshot.encoders import Encoder

Self = TypeVar("Self", bound="Persistent")


class Persistent(ClassifierBase):
    """``save``, ``load`` and ``editing`` on top of a classifier's state."""

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Save everything needed to answer queries again; crash-safe (``fewshot.store_directory``).

        Writes a FAISS index, the shots as safetensors, the encoder (its name, or its weights
        as a checkpoint) and a JSON manifest with checksums; a database backend's classes stay
        in the database and only its address is written (never a password). Returns the
        snapshot folder.
        """
        return self._save(check_path_argument(directory), locked=False)

    def _save(self, root: Path, *, locked: bool) -> Path:
        with self._lock.read():
            states, settings = self._sets.states(), self.get_settings()
            default = states.pop(DEFAULT_SET)
            return save_classifier(
                root, settings, self._encoder, self.head, default,
                sets=states, address=self._sets.address(), locked=locked,
            )  # fmt: skip

    @classmethod
    def load(
        cls: type[Self],
        directory: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        store_options: Mapping[str, Any] | None = None,
        **encoder_options: Any,
    ) -> Self:
        """Load a classifier saved with ``save``; every file is checked and nothing is unpickled.

        Pass ``encoder=`` to supply (or replace) the encoder, e.g. one that could not be saved;
        ``store_options=`` to add to the saved ones (a database password, another address).
        """
        root = check_path_argument(directory)
        return cls._from_snapshot(load_classifier(root, encoder, encoder_options, store_options))

    @classmethod
    @contextmanager
    def editing(
        cls: type[Self], directory: str | os.PathLike[str], **new_store: Any
    ) -> Iterator[Self]:
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
    def _from_snapshot(cls: type[Self], snapshot: Snapshot) -> Self:
        settings = snapshot.settings
        clf = cls.__new__(cls)
        clf._adopt(snapshot.encoder, settings["threshold"], settings["n_neighbors"], snapshot.sets)
        return clf
