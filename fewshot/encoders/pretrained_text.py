"""Text encoders users bring: a sentence-transformers folder, a Hugging Face transformers folder
of a BERT-style model (mean pooling over tokens), or a model-hub name where the hub is reachable.

All three become a ``TextEncoder`` over sentence-transformers, so fine-tuning, blocks
(``fewshot.encoders.blocks``) and checkpoints treat them as they treat MiniLM. The spec names
the folder and a SHA-256 over its files, so a checkpoint that starts from it can check it
rebuilt the same model.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from pathlib import Path
from typing import Any

from fewshot.encoders.lineage import mark_base
from fewshot.encoders.text import SentenceEmbedding, TextEncoder
from fewshot.errors import InputError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")
SKIPPED = ("README.md", "desktop.ini")


def is_sentence_folder(path: Path) -> bool:
    """A sentence-transformers model folder (it lists its modules)."""
    return (path / "modules.json").is_file()


def is_transformers_folder(path: Path) -> bool:
    """A Hugging Face transformers model folder: ``config.json`` beside its weights."""
    return (path / "config.json").is_file() and any((path / f).is_file() for f in WEIGHT_FILES)


def folder_sha256(path: Path, max_files: int = 1000) -> str:
    """One SHA-256 over every file in a model folder (relative names and bytes, sorted),
    README and hidden files aside: what a checkpoint records of its base. Symbolic links to
    folders are not followed, and a folder with more than ``max_files`` files is refused (a
    checkpoint naming ``/`` must not hash the machine)."""
    files: list[Path] = []
    for parent, folders, names in os.walk(path):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in names:
            if name not in SKIPPED and not name.startswith(".") and Path(parent, name).is_file():
                files.append(Path(parent, name))
        if len(files) > max_files:
            raise InputError(f"{path} holds more than {max_files} files: not a model folder")
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.relative_to(path).as_posix()):
        digest.update(f"{file.relative_to(path).as_posix()}\0".encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _quiet_load(build: Any) -> Any:
    """Run ``build()`` with Hugging Face's per-load progress bars off, and load errors as
    ``InputError``."""
    from transformers.utils import logging as hf_logging

    bars_were_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return build()
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()


def embedding_size(model: Any) -> int:
    """The output size of a sentence-transformers model or module (named differently across
    sentence-transformers versions)."""
    for method in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        if callable(getattr(model, method, None)):
            return int(getattr(model, method)())
    return int(model.get_word_embedding_dimension())


def build_sentence_transformer(path: str, pooling: str | None = None) -> SentenceEmbedding:
    """The network of a sentence-transformers folder, or (``pooling`` given) of a transformers
    folder with that pooling over its token embeddings (``"mean"`` uses the attention mask)."""
    from sentence_transformers import SentenceTransformer

    try:
        modules: Any = importlib.import_module("sentence_transformers.sentence_transformer.modules")
    except ImportError:  # sentence-transformers < 6
        modules = importlib.import_module("sentence_transformers.models")
    Pooling, Transformer = modules.Pooling, modules.Transformer

    def build() -> Any:
        if pooling is None:
            return SentenceTransformer(path, device="cpu", local_files_only=True)
        transformer = Transformer(path, model_kwargs={"local_files_only": True})
        size = embedding_size(transformer)
        return SentenceTransformer(modules=[transformer, Pooling(size, pooling)], device="cpu")

    try:
        model = _quiet_load(build)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot load the text model in {path}: {exc}") from exc
    return SentenceEmbedding(model)


def folder_encoder(path: str | os.PathLike[str], **options: Any) -> TextEncoder:
    """A frozen text encoder from a sentence-transformers folder or a transformers folder (mean
    pooling); raises ``InputError`` naming what a folder must hold when it is neither."""
    folder = Path(path).resolve()
    if is_sentence_folder(folder):
        pooling = None
    elif is_transformers_folder(folder):
        pooling = "mean"
    else:
        raise InputError(
            f"{path} is not an encoder checkpoint (no encoder.json), nor a sentence-transformers "
            "model folder (modules.json), nor a Hugging Face transformers model folder "
            f"(config.json beside one of {', '.join(WEIGHT_FILES)}); pass one of those, or a "
            "name such as 'minilm'"
        )
    module = build_sentence_transformer(str(folder), pooling)
    dim = embedding_size(module.model)
    spec: dict[str, Any] = {
        "name": "sentence-transformers",
        "path": str(folder),
        "sha256": folder_sha256(folder),
    }
    kwargs: dict[str, Any] = {"path": str(folder)}
    if pooling is not None:
        spec["pooling"] = kwargs["pooling"] = pooling
    options.setdefault("batch_size", 64)
    encoder = TextEncoder(
        module,
        dim=dim,
        spec=spec,
        base=spec,
        architecture="sentence-transformers",
        architecture_kwargs=kwargs,
        preprocess_spec={"kind": "text"},
        **options,
    )
    mark_base(encoder)  # pristine now: a checkpoint later never reloads the folder to compare
    return encoder


def looks_like_hub_name(text: str) -> bool:
    """``owner/name`` with no such local path: a model-hub id."""
    parts = text.split("/")
    return (
        len(parts) == 2
        and all(parts)
        and not text.startswith((".", "~"))
        and not Path(text).exists()
    )


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_encoder(name: str, **options: Any) -> TextEncoder:
    """A text model by hub id (``owner/name``): from the local Hugging Face cache, else
    downloaded where the machine can reach the hub; ``InputError`` naming the fix otherwise."""
    from huggingface_hub import snapshot_download

    fix = (
        f'on a machine with access to the Hugging Face hub, run `python -c "from '
        f"sentence_transformers import SentenceTransformer; SentenceTransformer('{name}')"
        f".save('FOLDER')\"`, copy FOLDER here and pass its path to load_encoder"
    )
    try:
        folder = snapshot_download(name, local_files_only=True)
    except Exception as cached_miss:
        if _offline():
            raise InputError(
                f"{name!r} is not in the local Hugging Face cache and this process is offline "
                f"(HF_HUB_OFFLINE=1, set by fewshot for its packaged models): {fix}"
            ) from cached_miss
        try:
            folder = snapshot_download(name)
        except Exception as exc:
            raise InputError(f"cannot download {name!r} from the hub ({exc}): {fix}") from exc
    encoder = folder_encoder(folder, **options)
    encoder.spec = {**encoder.spec, "hub": name}
    encoder.base = encoder.spec
    return encoder
