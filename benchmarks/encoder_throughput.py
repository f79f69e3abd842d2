# ruff: noqa: I001  (fewshot is imported before torch on purpose)
"""How many images/s (EfficientNet-Lite0) and sentences/s (MiniLM) does ``embed`` reach, against a
plain loop (model in eval mode, NCHW fp32, ``torch.no_grad``, torch's default threads, batch 32)?

Images are 640×480 JPEG files (smooth random content, seeded) read from disk, so decoding and
resizing count; both sides share the preprocessing definition (256 resize, 224 centre crop,
``(x − 127) / 128``), the plain loop applies it image by image as torchvision-style code would.
Sentences are CLINC150 test utterances. Runs are interleaved; medians; goal ≥ 2.5× for images.

    python benchmarks/encoder_throughput.py --quick   # 16 images, 128 sentences
    python benchmarks/encoder_throughput.py           # 256 images, 2048 sentences
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import fewshot  # noqa: E402  (before torch: fewshot's OpenMP wait policy applies to both sides)
import torch  # noqa: E402
from benchmarks.common import interleaved_medians, load_average, print_table, write_json  # noqa: E402
from fewshot.encoders.image import EFFICIENTNET_LITE_PREPROCESS  # noqa: E402
from fewshot.encoders.preprocess import load_image  # noqa: E402

DEFAULT_THREADS = torch.get_num_threads()  # what the plain loop runs with
COLUMNS = ["encoder", "items", "plain_per_s", "fewshot_per_s", "speedup", "max_abs_diff"]


def write_jpegs(folder: Path, count: int, seed: int = 0) -> list[str]:
    """``count`` 640×480 JPEG photos-like files (upscaled random 40×30 colour fields)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        path = folder / f"image-{i:04d}.jpg"
        Image.fromarray(small).resize((640, 480), Image.Resampling.BICUBIC).save(path, quality=90)
        paths.append(str(path))
    return paths


def plain_images(module: torch.nn.Module, paths: list[str]) -> np.ndarray:
    """The obvious loop: per-image preprocessing, NCHW fp32, no_grad, batches of 32."""
    torch.set_num_threads(DEFAULT_THREADS)
    prep = EFFICIENTNET_LITE_PREPROCESS
    mean = torch.tensor(prep.mean).view(3, 1, 1)
    std = torch.tensor(prep.std).view(3, 1, 1)
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), 32):
            tensors = []
            for path in paths[start : start + 32]:
                array = prep.image_to_array(load_image(path, "RGB"))
                tensor = torch.tensor(array).permute(2, 0, 1).float().div(255.0)
                tensors.append((tensor - mean) / std)
            out.append(module(torch.stack(tensors)).numpy())
    return np.concatenate(out)


def plain_texts(module: torch.nn.Module, texts: list[str]) -> np.ndarray:
    """The obvious loop for MiniLM: tokenize and run batches of 32 in input order, no_grad."""
    torch.set_num_threads(DEFAULT_THREADS)
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), 32):
            out.append(module(module.tokenize(texts[start : start + 32])).numpy())
    return np.concatenate(out)


def ours(encoder: fewshot.Encoder, items: list) -> np.ndarray:
    """fewshot's ``embed`` with the library's defaults (threads reset to them first)."""
    fewshot.set_num_threads()
    return encoder.embed(items, progress=False)


def measure(name: str, plain, fast, count: int, repeats: int) -> dict:
    difference = float(np.abs(plain() - fast()).max())
    medians = interleaved_medians({"plain": plain, "fewshot": fast}, repeats=repeats)
    return {
        "encoder": name,
        "items": count,
        "plain_per_s": count / medians["plain"],
        "fewshot_per_s": count / medians["fewshot"],
        "speedup": medians["plain"] / medians["fewshot"],
        "max_abs_diff": difference,
    }


def image_row(count: int, repeats: int) -> dict:
    """EfficientNet-Lite0 on ``count`` JPEG files: the plain NCHW loop against ``embed``."""
    encoder = fewshot.load_encoder("efficientnet-lite0")
    nchw = copy.deepcopy(encoder.module).to(memory_format=torch.contiguous_format)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_jpegs(Path(folder), count)
        return measure(
            "efficientnet-lite0 (JPEG files)",
            lambda: plain_images(nchw, paths),
            lambda: ours(encoder, paths),
            count,
            repeats,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n_images, n_texts = (16, 128) if args.quick else (256, 2048)
    load_before = load_average()
    rows = [image_row(n_images, args.repeats)]
    print_table(rows[-1:], COLUMNS)
    text_encoder = fewshot.load_encoder("minilm")
    data = json.loads((ROOT.parent / "shared/data/clinc150/data_full.json").read_text())
    texts = [text for text, _ in data["test"]][:n_texts]
    rows.append(
        measure(
            "minilm (CLINC150 test)",
            lambda: plain_texts(text_encoder.module, texts),
            lambda: ours(text_encoder, texts),
            n_texts,
            args.repeats,
        )
    )
    print_table(rows[-1:], COLUMNS)
    print()
    print_table(rows, COLUMNS)
    payload = {
        "command": " ".join(sys.argv),
        "load_average_at_start": load_before,
        "plain_threads": DEFAULT_THREADS,
        "wait_policy": fewshot.runtime.wait_policy(),
        "rows": rows,
    }
    print("wrote", write_json("encoder_throughput", payload))


if __name__ == "__main__":
    main()
