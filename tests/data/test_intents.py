"""CLINC150 and BANKING77 loaders on the real packed data in ../shared/data, and their errors
on missing, corrupt and foreign copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fewshot.data import (
    OOS_LABEL,
    DatasetError,
    DatasetNotFoundError,
    IntentDataset,
    TextSplit,
    draw_k_shot,
    load_banking77,
    load_clinc150,
    sources,
)
from fewshot.data.intents import BANKING77_FILES, CLINC150_FILES
from fewshot.data.sources import RemoteFile
from fewshot.durable import sha256_file
from fewshot.errors import FewShotError, InputError

ROOT = sources.REPO_DATA_ROOT


@pytest.fixture(scope="module")
def clinc150() -> IntentDataset:
    return load_clinc150(ROOT)


@pytest.fixture(scope="module")
def banking77() -> IntentDataset:
    return load_banking77(ROOT)


def copy_dataset(name: str, tmp_path: Path) -> Path:
    """A private copy of one dataset folder under tmp_path/data, returned as the data root."""
    shutil.copytree(ROOT / name, tmp_path / "data" / name)
    return tmp_path / "data"


# --- counts and label sets -------------------------------------------------------------------


def test_clinc150_counts_and_labels(clinc150: IntentDataset) -> None:
    assert clinc150.name == "clinc150"
    assert len(clinc150.intents) == 150 and OOS_LABEL not in clinc150.intents
    assert list(clinc150.intents) == sorted(clinc150.intents)
    assert clinc150.val is not None
    for split, per in ((clinc150.train, 100), (clinc150.val, 20), (clinc150.test, 30)):
        assert split.label_set == clinc150.intents
        assert set(split.counts().values()) == {per}
    assert (len(clinc150.train), len(clinc150.val), len(clinc150.test)) == (15000, 3000, 4500)
    first = "what expression would i use to say i love you if i were an italian"
    assert clinc150.train.texts[0] == first
    assert clinc150.train.labels[0] == "translate"


def test_clinc150_out_of_scope_splits(clinc150: IntentDataset) -> None:
    assert {k: len(v) for k, v in clinc150.out_of_scope.items()} == {
        "train": 100,
        "val": 100,
        "test": 1000,
    }
    for split in clinc150.out_of_scope.values():
        assert split.label_set == (OOS_LABEL,)
    assert clinc150.out_of_scope["test"].texts[0] == "how much has the dow changed today"
    # out-of-scope queries are disjoint from in-scope test queries
    assert not set(clinc150.out_of_scope["test"].texts) & set(clinc150.test.texts)


def test_clinc150_domains(clinc150: IntentDataset) -> None:
    assert len(clinc150.domains) == 10
    assert all(len(v) == 15 for v in clinc150.domains.values())
    assert sorted(i for v in clinc150.domains.values() for i in v) == list(clinc150.intents)
    assert "freeze_account" in clinc150.domains["banking"]


def test_banking77_counts_and_labels(banking77: IntentDataset) -> None:
    assert banking77.name == "banking77"
    assert (len(banking77.train), len(banking77.test), len(banking77.intents)) == (10003, 3080, 77)
    assert banking77.val is None and not banking77.out_of_scope and not banking77.domains
    assert banking77.train.label_set == banking77.intents == banking77.test.label_set
    counts = banking77.train.counts()
    assert (min(counts.values()), max(counts.values())) == (35, 187)
    assert set(banking77.test.counts().values()) == {40}
    assert "Refund_not_showing_up" in banking77.intents  # the original's capitalisation is kept
    # quoted CSV fields keep their commas
    assert any("," in t for t in banking77.train.texts)
    assert banking77.train.texts[0] == "I am still waiting on my card?"


@pytest.mark.parametrize("k", [5, 10])
def test_fixed_subsets_have_k_shots_per_intent(
    clinc150: IntentDataset, banking77: IntentDataset, k: int
) -> None:
    for ds in (clinc150, banking77):
        subset = ds.few_shot[k]
        assert len(subset) == k * len(ds.intents)
        assert subset.label_set == ds.intents
        assert set(subset.counts().values()) == {k}
        grouped = subset.by_label()
        assert list(grouped) == list(ds.intents)
        assert all(len(v) == k for v in grouped.values())


def test_fixed_subsets_come_from_train_not_test(
    clinc150: IntentDataset, banking77: IntentDataset
) -> None:
    # SOURCES.md: every subset utterance is an official train utterance, lowercased and with
    # whitespace normalised. CLINC150's own train and test share two utterances, so a subset may
    # meet test only there; BANKING77's subsets never meet its test set.
    def norm(texts: tuple[str, ...]) -> set[str]:
        return {" ".join(t.lower().split()) for t in texts}

    for ds in (clinc150, banking77):
        train, test = norm(ds.train.texts), norm(ds.test.texts)
        for k in (5, 10):
            subset = norm(ds.few_shot[k].texts)
            assert subset <= train
            assert subset & test <= train & test
    assert not norm(banking77.few_shot[10].texts) & norm(banking77.test.texts)


# --- seeded K-shot draws ---------------------------------------------------------------------


def test_k_shot_draw_is_reproducible_and_seed_dependent(banking77: IntentDataset) -> None:
    a, again, other = (
        banking77.k_shot(5, seed=0),
        banking77.k_shot(5, seed=0),
        banking77.k_shot(5, 1),
    )
    assert a == again
    assert a.texts != other.texts
    assert len(a) == 5 * 77 and set(a.counts().values()) == {5}
    train_pairs = set(zip(banking77.train.texts, banking77.train.labels, strict=True))
    assert set(zip(a.texts, a.labels, strict=True)) <= train_pairs


def test_k_shot_draw_has_no_repeats_and_takes_all_at_the_smallest_class(
    banking77: IntentDataset,
) -> None:
    counts = banking77.train.counts()
    smallest = min(counts, key=counts.__getitem__)
    draw = banking77.k_shot(35, seed=3)
    grouped = draw.by_label()
    assert sorted(grouped[smallest]) == sorted(banking77.train.by_label()[smallest])
    assert all(len(set(v)) == 35 for v in grouped.values())


def test_k_shot_draw_rejects_impossible_k(banking77: IntentDataset) -> None:
    with pytest.raises(InputError, match=r"k=36 .*pass k <= 35"):
        banking77.k_shot(36, seed=0)
    with pytest.raises(InputError, match="k=0"):
        draw_k_shot(banking77.train, 0, seed=0)


def test_text_split_checks_lengths() -> None:
    with pytest.raises(InputError, match="one label per text"):
        TextSplit(("a", "b"), ("x",))
    split = TextSplit(["b", "a", "c"], ["y", "x", "y"])
    assert split.texts == ("b", "a", "c")  # stored immutably
    assert split.by_label() == {"x": ["a"], "y": ["b", "c"]}


# --- roots ------------------------------------------------------------------------------------


def test_root_may_name_the_dataset_folder_itself(tmp_path: Path) -> None:
    root = copy_dataset("banking77", tmp_path)
    assert len(load_banking77(root / "banking77").test) == 3080


def test_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_dataset("clinc150", tmp_path)
    monkeypatch.setenv(sources.DATA_ENV, str(root))
    assert sources.data_root() == root
    assert len(load_clinc150().test) == 4500


def test_missing_root_says_where_to_put_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"root=.*is not a directory"):
        load_clinc150(tmp_path / "nowhere")
    monkeypatch.setenv(sources.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError, match="FEWSHOT_DATA"):
        load_banking77()
    monkeypatch.delenv(sources.DATA_ENV)
    monkeypatch.setattr(sources, "REPO_DATA_ROOT", tmp_path / "no-shared")
    monkeypatch.setattr(sources, "CACHE_DATA_ROOT", tmp_path / "no-cache")
    with pytest.raises(DatasetNotFoundError, match=r"no data root found.*FEWSHOT_DATA.*no-shared"):
        load_clinc150()


def test_root_without_the_dataset_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"has no clinc150/ folder"):
        load_clinc150(tmp_path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    root = copy_dataset("banking77", tmp_path)
    (root / "banking77" / "few_shot_subsets" / "train_5" / "label").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"lacks few_shot_subsets/train_5/label"):
        load_banking77(root)


# --- corrupt and foreign files ----------------------------------------------------------------


def test_truncated_json_is_reported(tmp_path: Path) -> None:
    root = copy_dataset("clinc150", tmp_path)
    path = root / "clinc150" / "data_full.json"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DatasetError, match=r"data_full.json is not valid UTF-8 JSON") as caught:
        load_clinc150(root)
    assert isinstance(caught.value, FewShotError)  # callers can catch the library's errors


def test_foreign_json_is_reported(tmp_path: Path) -> None:
    root = copy_dataset("clinc150", tmp_path)
    (root / "clinc150" / "data_full.json").write_text(json.dumps({"train": [], "test": []}))
    with pytest.raises(DatasetError, match=r"not CLINC150's data_full.json"):
        load_clinc150(root)


def test_dropped_examples_fail_the_count_check(tmp_path: Path) -> None:
    root = copy_dataset("clinc150", tmp_path)
    path = root / "clinc150" / "data_full.json"
    raw = json.loads(path.read_text())
    raw["oos_test"] = raw["oos_test"][:-1]
    path.write_text(json.dumps(raw))
    with pytest.raises(DatasetError, match=r"\['oos_test'\]: 999 examples, expected 1000"):
        load_clinc150(root)


def test_wrong_domains_are_reported(tmp_path: Path) -> None:
    root = copy_dataset("clinc150", tmp_path)
    path = root / "clinc150" / "domains.json"
    raw = json.loads(path.read_text())
    raw["banking"][0] = "not_an_intent"
    path.write_text(json.dumps(raw))
    with pytest.raises(DatasetError, match=r"domains.json must list 10 domains"):
        load_clinc150(root)


def test_foreign_csv_is_reported(tmp_path: Path) -> None:
    root = copy_dataset("banking77", tmp_path)
    (root / "banking77" / "test.csv").write_text("sentence,label\nhello,greet\n")
    with pytest.raises(DatasetError, match=r"test.csv must start with the header 'text,category'"):
        load_banking77(root)


def test_relabelled_csv_fails_the_label_check(tmp_path: Path) -> None:
    root = copy_dataset("banking77", tmp_path)
    path = root / "banking77" / "test.csv"
    path.write_text(path.read_text().replace(",card_arrival\n", ",card_arrivals\n"))
    with pytest.raises(DatasetError, match=r"test.csv: .*label set differs"):
        load_banking77(root)


def test_binary_garbage_is_reported(tmp_path: Path) -> None:
    root = copy_dataset("banking77", tmp_path)
    (root / "banking77" / "train.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match=r"train.csv is not a readable UTF-8 CSV"):
        load_banking77(root)


def test_misaligned_subset_files_are_reported(tmp_path: Path) -> None:
    root = copy_dataset("clinc150", tmp_path)
    label = root / "clinc150" / "few_shot_subsets" / "train_10" / "label"
    label.write_text("\n".join(label.read_text().split("\n")[1:]))
    with pytest.raises(DatasetError, match=r"seq.in has 1500 lines but .*label has 1499"):
        load_clinc150(root)


def test_subset_with_wrong_shots_is_reported(tmp_path: Path) -> None:
    root = copy_dataset("banking77", tmp_path)
    sub = root / "banking77" / "few_shot_subsets" / "train_5"
    labels = (sub / "label").read_text().split("\n")
    labels[0] = labels[5]  # one intent now has 4 shots, another 6
    (sub / "label").write_text("\n".join(labels))
    with pytest.raises(DatasetError, match=r"train_5: .*per-label counts \[4, 5, 6\]"):
        load_banking77(root)


# --- pinned downloads -------------------------------------------------------------------------


def test_pinned_checksums_match_the_packed_copies() -> None:
    for folder, files in (("clinc150", CLINC150_FILES), ("banking77", BANKING77_FILES)):
        for remote in files:
            assert remote.url.startswith("https://raw.githubusercontent.com/")
            assert remote.url.endswith(remote.relpath.replace("few_shot_subsets/", ""))
            assert sha256_file(ROOT / folder / remote.relpath) == remote.sha256, remote.relpath


def _as_local(remote: RemoteFile, folder: str) -> RemoteFile:
    """The same pinned file served from the packed copy through a file:// URL."""
    return RemoteFile(remote.relpath, (ROOT / folder / remote.relpath).as_uri(), remote.sha256)


def test_download_fills_a_root_and_verifies_checksums(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tuple(_as_local(r, "banking77") for r in BANKING77_FILES)
    monkeypatch.setattr("fewshot.data.intents.BANKING77_FILES", local)
    with pytest.raises(DatasetNotFoundError):
        load_banking77(tmp_path / "fresh")
    ds = load_banking77(tmp_path / "fresh", download=True)
    assert len(ds.train) == 10003
    assert sorted(p.name for p in (tmp_path / "fresh" / "banking77").iterdir()) == [
        "categories.json",
        "few_shot_subsets",
        "test.csv",
        "train.csv",
    ]


def test_download_with_wrong_checksum_keeps_nothing(tmp_path: Path) -> None:
    good = _as_local(CLINC150_FILES[1], "clinc150")
    bad = RemoteFile(good.relpath, good.url, "0" * 64)
    with pytest.raises(DatasetError, match=r"checksum mismatch .*domains.json"):
        sources.download(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert sources.download(good, tmp_path) == tmp_path / "domains.json"
    assert sha256_file(tmp_path / "domains.json") == good.sha256


def test_failed_download_names_the_url_and_the_manual_fix(tmp_path: Path) -> None:
    gone = RemoteFile("train.csv", (tmp_path / "no-such-file.csv").as_uri(), "0" * 64)
    with pytest.raises(DatasetError, match=r"could not download .*no-such-file.csv.*by hand"):
        sources.download(gone, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
