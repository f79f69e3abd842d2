"""Omniglot (Lake et al. 2015) read straight from its upstream zips into a uint8 image cache.

Splits: ``background`` (30 alphabets), ``evaluation`` (20 alphabets) and the Vinyals et al.
(2016) character split ``vinyals-{train,val,trainval,test}`` whose rotations (0/90/180/270)
are extra classes. Images are decoded once per (zip, size) and kept as ``uint8`` arrays in the
original polarity (ink 0, paper 255); rotations are applied on access, so a rotated class costs
no memory. Every class carries its alphabet, so samplers can draw within-alphabet tasks, and
every image its drawer, so Lake's drawer-pair runs can be built. ``Omniglot`` is a
``FewShotDataset`` like any other: items are its images, groups its alphabets, sources its
drawers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fewshot.data.dataset import FewShotDataset
from fewshot.data.omniglot_files import ensure_zip, load_zip

SPLITS = ("background", "evaluation", "vinyals-train", "vinyals-val", "vinyals-trainval",
          "vinyals-test")  # fmt: skip
ROTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class OmniglotClass:
    """One class: a character of an alphabet, possibly rotated (degrees counter-clockwise)."""

    alphabet: str
    character: str
    rotation: int = 0

    @property
    def name(self) -> str:
        """``Alphabet/characterNN`` or, when rotated, ``Alphabet/characterNN/rotDDD``."""
        base = f"{self.alphabet}/{self.character}"
        return base if self.rotation == 0 else f"{base}/rot{self.rotation:03d}"


class Omniglot(FewShotDataset):
    """Omniglot images and integer labels for one split, at ``image_size`` × ``image_size``.

    Arguments:
        root: folder holding ``images_background.zip`` / ``images_evaluation.zip`` (and
            ``splits/vinyals/*.txt`` for the Vinyals splits).
        split: one of ``SPLITS``.
        image_size: side of the square images (28 and 105 are the usual ones).
        rotations: for ``background``/``evaluation``, the rotations to add as extra classes
            (default ``(0,)``: none). The Vinyals splits take theirs from the split files.
        alphabets: keep only these alphabets (for small experiments and tests).
        download: fetch a missing zip from the upstream URL and check its md5.
        cache_dir: where decoded arrays are kept (default ``$FEWSHOT_CACHE`` or
            ``~/.cache/fewshot``); ``None``-valued env means the default.

    Attributes: ``labels`` (int64, N), ``classes`` (list of ``OmniglotClass``),
    ``class_names``, ``class_groups`` (alphabet of each class), ``base_images`` (uint8,
    M×S×S, unrotated), ``image_index`` / ``rotation`` (int, N: which base image, which k·90°),
    ``drawers`` = ``sources`` (int, N: which of the 20 people drew it, 1..20; the file names'
    ``_DD``, one person per number within an alphabet).

    Example:
        >>> ds = Omniglot("../shared/data/omniglot", "evaluation", image_size=105)
        >>> images = ds.images([0, 1, 2])   # uint8, 3×105×105, ink dark
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "background",
        image_size: int = 28,
        rotations: Sequence[int] = (0,),
        alphabets: Sequence[str] | None = None,
        download: bool = False,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"Omniglot: `split` must be one of {SPLITS}, got {split!r}")
        if not isinstance(image_size, int) or not 4 <= image_size <= 512:
            raise ValueError(
                f"Omniglot: `image_size` must be an int in [4, 512], got {image_size!r}"
            )
        bad = [r for r in rotations if r not in ROTATIONS]
        if bad or not rotations:
            raise ValueError(
                f"Omniglot: `rotations` must be a subset of {ROTATIONS}, got {rotations!r}"
            )
        self.root = Path(root)
        self.split = split
        self.image_size = image_size
        cache = Path(cache_dir or os.environ.get("FEWSHOT_CACHE") or Path.home() / ".cache/fewshot")

        if split.startswith("vinyals-"):
            wanted = _read_vinyals(self.root, split.removeprefix("vinyals-"))
            zips = ["images_background", "images_evaluation"]
        else:
            wanted = None
            zips = ["images_background" if split == "background" else "images_evaluation"]

        arrays, paths = [], []
        for stem in zips:
            zip_path = ensure_zip(self.root, stem, download)
            images, names = load_zip(zip_path, stem, image_size, cache)
            arrays.append(images)
            paths.extend(names)
        self.base_images = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

        by_char: dict[tuple[str, str], list[int]] = {}
        for i, p in enumerate(paths):
            _, alphabet, character, _ = p.split("/", 3)
            by_char.setdefault((alphabet, character), []).append(i)
        if wanted is None:
            wanted = [OmniglotClass(a, c, r) for (a, c) in sorted(by_char) for r in rotations]
        if alphabets is not None:
            known = {a for a, _ in by_char}
            missing = sorted(set(alphabets) - known)
            if missing:
                raise ValueError(
                    f"Omniglot: `alphabets` {missing} are not in split {split!r}; "
                    f"choose from {sorted(known)}"
                )
            keep = set(alphabets)
            wanted = [c for c in wanted if c.alphabet in keep]

        classes: list[OmniglotClass] = list(wanted)
        drawer_of = np.array([int(p.rsplit("_", 1)[1]) for p in paths], dtype=np.int64)
        index, rot, labels = [], [], []
        for label, cls in enumerate(classes):
            members = by_char.get((cls.alphabet, cls.character))
            if members is None:
                raise ValueError(
                    f"Omniglot: class {cls.name!r} of split {split!r} is not in {zips}"
                )
            index.extend(members)
            rot.extend([cls.rotation // 90] * len(members))
            labels.extend([label] * len(members))
        self.image_index = np.asarray(index, dtype=np.int64)
        self.rotation = np.asarray(rot, dtype=np.int64)
        super().__init__(
            _Images(self, len(labels)), labels, classes, class_groups=[c.alphabet for c in classes],
            sources=drawer_of[self.image_index], kind="image",
        )  # fmt: skip
        self.classes: list[OmniglotClass] = classes
        self.drawers: np.ndarray = self.sources  # type: ignore[assignment]

    @property
    def class_names(self) -> list[str]:
        """Unique names of the classes, in label order."""
        return [c.name for c in self.classes]

    @property
    def class_groups(self) -> list[str]:
        """The alphabet of each class, in label order (for within-alphabet sampling)."""
        return [c.alphabet for c in self.classes]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """``(image uint8 S×S, label)`` of example ``i``."""
        return self.images([i])[0], int(self.labels[i])

    def inputs(self, indices: Sequence[int] | np.ndarray) -> list[Any]:
        """What an encoder embeds: the images of ``indices`` (uint8 S×S each, ink dark)."""
        return list(self.images(indices))

    def images(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Images of examples ``indices`` as uint8 B×S×S, rotations applied (ink 0, paper 255)."""
        idx = np.asarray(indices, dtype=np.int64)
        out = self.base_images[self.image_index[idx]]
        rot = self.rotation[idx]
        for k in (1, 2, 3):
            sel = rot == k
            if sel.any():
                out[sel] = np.rot90(out[sel], k=k, axes=(1, 2))
        return out

    def describe(self) -> dict:
        """JSON-ready description of this dataset, for manifests and reports."""
        return {
            "dataset": "omniglot",
            "split": self.split,
            "image_size": self.image_size,
            "classes": len(self.classes),
            "examples": len(self),
        }


def _read_vinyals(root: Path, name: str) -> list[OmniglotClass]:
    path = root / "splits" / "vinyals" / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"Omniglot: Vinyals split file {path} is missing; put the split files of "
            "jakesnell/prototypical-networks in `root`/splits/vinyals"
        )
    classes = []
    for line in path.read_text().split():
        alphabet, character, rot = line.split("/")
        classes.append(OmniglotClass(alphabet, character, int(rot.removeprefix("rot"))))
    return classes


class _Images(Sequence[np.ndarray]):
    """``Omniglot.items``: image ``i`` decoded on access (rotation applied), nothing copied."""

    def __init__(self, dataset: Omniglot, n: int) -> None:
        self._dataset, self._n = dataset, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return list(self._dataset.images(np.arange(len(self))[i]))
        return self._dataset.images([int(i)])[0]
