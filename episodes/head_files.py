"""A trained head in one file: its weights as safetensors, its JSON spec in the metadata.

Evaluation with ``--head siamese`` needs the siamese head an encoder was trained with. A
training run writes it with ``save_head(head, RUN/best/HEAD_FILE)``; ``fewshot evaluate
--encoder RUN/best --head siamese`` then finds it beside the encoder (or ``--head-weights
FILE`` names it). No pickle: the spec is JSON and the weights are tensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from fewshot.durable import write_bytes_atomic
from fewshot.errors import InputError, StoreFormatError
from fewshot.heads import Head, build_head

HEAD_FILE = "head.safetensors"


def save_head(head: Head, path: str | os.PathLike[str]) -> Path:
    """Write ``head`` (weights and spec) to ``path``; a folder gets ``HEAD_FILE`` inside."""
    target = Path(path)
    if target.is_dir():
        target = target / HEAD_FILE
    tensors = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    write_bytes_atomic(target, save(tensors, metadata={"spec": json.dumps(head.spec)}))
    return target


def load_head(path: str | os.PathLike[str]) -> Head:
    """The head saved at ``path`` (a file, or a folder holding ``HEAD_FILE``), in eval mode."""
    target = Path(path)
    if target.is_dir():
        target = target / HEAD_FILE
    if not target.is_file():
        raise InputError(
            f"no trained head at {target}; pass --head-weights FILE (written by "
            "episodes.head_files.save_head), or an encoder folder holding head.safetensors"
        )
    try:
        with safe_open(str(target), framework="pt") as f:
            spec = json.loads((f.metadata() or {})["spec"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except (KeyError, ValueError, OSError, SafetensorError) as exc:
        raise StoreFormatError(
            f"{target} is not a head file (safetensors with a 'spec' in its metadata): {exc}"
        ) from exc
    head = build_head(spec)
    try:
        head.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise StoreFormatError(f"{target}: weights do not fit the head {spec}: {exc}") from exc
    return head.eval()
