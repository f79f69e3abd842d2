"""CPU training throughput (images/s) of ProtoNet on Omniglot episodes, per pipeline choice.

Times the real training step (episode sampling → uint8 gather → augmentation → forward →
prototypical loss → backward → Adam) for channels_last on/off, 1 or 2 threads, augmentation
on/off, plus a per-phase breakdown of the default setting. Prints a table, writes JSON.

    python benchmarks/train_throughput.py --steps 8 \
        --out benchmarks/results/train_throughput_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from episodes.augment import random_affine
from episodes.config import TrainConfig
from episodes.images import DeviceImages
from episodes.network import build_model, embed
from episodes.sampler import EpisodeSampler
from fewshot.data.omniglot import Omniglot
from fewshot.heads import PrototypicalHead


def run(ds, images, cfg: TrainConfig, steps: int, augment: bool, phases: bool = False) -> dict:
    torch.manual_seed(0)
    model, _, _, _ = build_model(cfg)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    head = PrototypicalHead()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    sampler = EpisodeSampler(ds.labels, cfg.n_way, cfg.k_shot, cfg.q_query, n_episodes=steps + 2,
                             seed=0, groups=ds.class_groups, within_group=0.5)  # fmt: skip
    timer = {"sample": 0.0, "gather": 0.0, "augment": 0.0, "forward": 0.0, "backward": 0.0}
    n_images, total = 0, 0.0
    for i in range(steps + 2):
        t = [time.perf_counter()]
        ep = sampler[i]
        t.append(time.perf_counter())
        x = images.batch(np.concatenate([ep.support.ravel(), ep.query.ravel()]))
        t.append(time.perf_counter())
        if augment:
            x = random_affine(x, torch.Generator().manual_seed(i))
        t.append(time.perf_counter())
        z = embed(model, x, cfg)
        ns = ep.support.size
        loss, _ = head.episode_loss(z[:ns], torch.as_tensor(ep.support_labels()), z[ns:],
                                    torch.as_tensor(ep.query_labels()))  # fmt: skip
        t.append(time.perf_counter())
        opt.zero_grad()
        loss.backward()
        opt.step()
        t.append(time.perf_counter())
        if i >= 2:  # two warm-up steps
            for key, a, b in zip(timer, t, t[1:], strict=False):
                timer[key] += b - a
            total += t[-1] - t[0]
            n_images += x.shape[0]
    out = {
        "images_per_s": round(n_images / total, 1),
        "ms_per_episode": round(1000 * total / steps, 1),
    }
    if phases:
        out["phase_share"] = {k: round(v / total, 3) for k, v in timer.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-root", default="../shared/data/omniglot", help="Omniglot folder")
    parser.add_argument("--steps", type=int, default=8, help="timed episodes per setting")
    parser.add_argument("--image-size", type=int, default=28, help="image side")
    parser.add_argument("--out", default=None, help="JSON output path")
    args = parser.parse_args()
    ds = Omniglot(args.data_root, "background", image_size=args.image_size,
                  rotations=(0, 90, 180, 270))  # fmt: skip
    images = DeviceImages(ds, torch.device("cpu"))
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for channels_last in (False, True):
            for augment in (False, True):
                cfg = TrainConfig(data_root="", out="", image_size=args.image_size,
                                  channels_last=channels_last, device="cpu")  # fmt: skip
                phases = threads == 2 and augment
                r = run(ds, images, cfg, args.steps, augment, phases)
                row = {"threads": threads, "channels_last": channels_last, "augment": augment, **r}
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {
        "question": "CPU images/s of one ProtoNet training step (60-way 1-shot 5-query, Conv-4)",
        "image_size": args.image_size,
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "rows": rows,
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
