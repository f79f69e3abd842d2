"""Few-shot image classification with the frozen EfficientNet-Lite0 (ImageNet) encoder.

Point it at a folder with one sub-folder per class; the first --shots images of each class are
registered and the rest are classified:

    python examples/images.py --folder path/to/images --shots 3

Without --folder it uses the two photographs that scikit-learn ships (installed with
sentence-transformers): random crops of each photo form a class.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import fewshot

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}


def folder_classes(folder: Path) -> dict[str, list]:
    """``folder/<class>/<image>`` → {class: [paths]} (sorted, images only)."""
    classes = {
        sub.name: sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for sub in sorted(folder.iterdir())
        if sub.is_dir()
    }
    return {name: paths for name, paths in classes.items() if paths}


def shipped_photo_classes(crops_per_class: int = 8, seed: int = 0) -> dict[str, list]:
    """Random 160×160 crops of scikit-learn's sample photos, one class per photo."""
    from sklearn.datasets import load_sample_images

    samples = load_sample_images()
    rng = np.random.default_rng(seed)
    classes = {}
    for name, photo in zip(samples.filenames, samples.images):
        height, width = photo.shape[:2]
        ys = rng.integers(0, height - 160, crops_per_class)
        xs = rng.integers(0, width - 160, crops_per_class)
        classes[Path(name).stem] = [photo[y : y + 160, x : x + 160] for y, x in zip(ys, xs)]
    return classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--folder", type=Path, help="folder with one sub-folder of images per class"
    )
    parser.add_argument(
        "--shots", type=int, default=3, help="images per class to register (default: 3)"
    )
    args = parser.parse_args()
    classes = folder_classes(args.folder) if args.folder else shipped_photo_classes()
    too_small = [name for name, items in classes.items() if len(items) <= args.shots]
    if too_small:
        parser.error(f"classes {too_small} need more than --shots={args.shots} images")

    clf = fewshot.FewShotClassifier(fewshot.load_encoder("efficientnet-lite0"))
    clf.register_many({name: items[: args.shots] for name, items in classes.items()})
    queries = [(item, name) for name, items in classes.items() for item in items[args.shots :]]
    predicted = clf.predict([item for item, _ in queries])
    for name in classes:
        hits = [p == n for p, (_, n) in zip(predicted, queries) if n == name]
        print(f"{name:20} {sum(hits)}/{len(hits)} correct")
    accuracy = np.mean([p == n for p, (_, n) in zip(predicted, queries)])
    print(f"accuracy {accuracy:.1%} on {len(queries)} queries, {args.shots} shots per class")


if __name__ == "__main__":
    main()
