"""Episode sampling (tasks/s) and ProtoNet training (images/s): ours against learn2learn.

Both sides read the same Omniglot background images (28 px, rotations as classes, decoded once
into one uint8 array) and draw the same kind of N-way K-shot Q-query tasks, in one process,
timed alternately (``interleaved_medians``: median of ``--repeats`` runs each).

(a) sampling: ours is ``episodes.train.episode_batch`` (seeded ``EpisodeSampler`` + one
    vectorised gather into a float (B, 1, S, S) tensor); learn2learn's is a ``Taskset`` with
    ``NWays, KShots(K+Q), LoadData, RemapLabels`` over a ``MetaDataset`` of the same images
    (``episodes.learn2learn.meta_dataset``: one uint8 tensor per example), collated, then the
    same uint8 → float conversion.
(b) training: ours is ``episode_batch`` + ``episodes.train.train_step`` (the loop of
    ``episodes/train.py``: channels_last, no augmentation here since the reference has none);
    learn2learn's is the loop of its ``examples/vision/protonet_miniimagenet.py`` (a task from
    the ``Taskset``, sorted by label, support/query masks, mean prototypes, expanded pairwise
    squared distances, cross-entropy, Adam). Same Conv-4 class with the same initial weights.

    python benchmarks/vs_learn2learn.py --quick     # about a minute: 20 tasks, 1 step per run, 3 runs
    python benchmarks/vs_learn2learn.py             # 100 tasks, 4 steps per run, 5 runs; --profile
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fewshot  # noqa: F401  (before torch: fewshot's OpenMP wait policy, for both sides)

# isort: split
import torch
import torch.nn.functional as F

from benchmarks.common import interleaved_medians, load_average, print_table, write_json
from episodes.config import TrainConfig
from episodes.distributed import EpisodeLearner
from episodes.images import DeviceImages
from episodes.learn2learn import meta_dataset, require_learn2learn
from episodes.network import build_model, embed
from episodes.sampler import EpisodeSampler
from episodes.train import episode_batch, train_step
from fewshot.data.omniglot import Omniglot
from fewshot.encoders.omniglot import ink
from fewshot.heads import PrototypicalHead

SAMPLING = [(5, 1, 15), (20, 1, 15), (60, 1, 5)]
TRAINING = (60, 1, 5)  # episodes/train.py's default task


def l2l_taskset(meta: Any, n: int, k: int, q: int) -> Any:
    """learn2learn's canonical few-shot task pipeline over ``meta`` (fresh tasks each sample)."""
    l2l = require_learn2learn()
    t = l2l.data.transforms
    transforms = [t.NWays(meta, n), t.KShots(meta, k + q), t.LoadData(meta), t.RemapLabels(meta)]
    return l2l.data.Taskset(meta, transforms, num_tasks=-1)


def l2l_task(taskset: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """One learn2learn task as float (B, 1, S, S) ink-1 images and labels (B,)."""
    x, y = taskset.sample()
    return ink(x), y


def ours_sampler(ds: Omniglot, n: int, k: int, q: int, seed: int) -> EpisodeSampler:
    """The sampler episodes/train.py builds (half the tasks within one alphabet)."""
    return EpisodeSampler(ds.labels, n, k, q, n_episodes=10**9, seed=seed,
                          groups=ds.class_groups, within_group=0.5)  # fmt: skip


def l2l_protonet_step(model, optimizer, data, labels, ways: int, shot: int, query: int) -> float:
    """One step of learn2learn's ProtoNet example loop on a task from ``l2l_task`` (its
    ``fast_adapt`` + Adam); returns the loss."""
    sort = torch.sort(labels)
    data, labels = data[sort.indices], labels[sort.indices]
    embeddings = model(data)
    support_indices = np.zeros(data.size(0), dtype=bool)
    selection = np.arange(ways) * (shot + query)
    for offset in range(shot):
        support_indices[selection + offset] = True
    query_indices = torch.from_numpy(~support_indices)
    support_indices = torch.from_numpy(support_indices)
    support = embeddings[support_indices].reshape(ways, shot, -1).mean(dim=1)
    q = embeddings[query_indices]
    n, m = q.shape[0], support.shape[0]
    logits = -((q.unsqueeze(1).expand(n, m, -1) - support.unsqueeze(0).expand(n, m, -1)) ** 2).sum(
        dim=2
    )
    loss = F.cross_entropy(logits, labels[query_indices].long())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def profile(fn: Callable[[], Any], top: int = 12) -> list[str]:
    """cProfile of ``fn()``: the ``top`` lines by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return [line for line in out.getvalue().splitlines() if line.strip()][: top + 8]


def op_profile(fn: Callable[[], Any], top: int = 8) -> list[dict]:
    """torch.profiler of ``fn()``: the ``top`` operators by self CPU time (ms, share)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {"op": e.key, "self_ms": round(e.self_cpu_time_total / 1000, 1),
         "share": round(e.self_cpu_time_total / total, 3)}
        for e in events[:top]
    ]  # fmt: skip


def sampling(ds, images, meta, tasks: int, repeats: int) -> list[dict]:
    """Tasks/s of each side for every task shape in SAMPLING."""
    rows = []
    cfg = TrainConfig(data_root="", out="", augment=False, device="cpu")
    positions = np.arange(len(ds))
    for n, k, q in SAMPLING:
        sampler = ours_sampler(ds, n, k, q, seed=0)
        taskset = l2l_taskset(meta, n, k, q)
        counter = iter(range(10**9))

        def ours(sampler=sampler, counter=counter):
            for _ in range(tasks):
                episode_batch(sampler, next(counter), positions, images, cfg)

        def theirs(taskset=taskset):
            for _ in range(tasks):
                l2l_task(taskset)

        t = interleaved_medians({"ours": ours, "l2l": theirs}, repeats=repeats)
        rows.append({
            "task": f"{n}w{k}s{q}q", "images_per_task": n * (k + q), "tasks_per_run": tasks,
            "ours_tasks_s": round(tasks / t["ours"], 1), "l2l_tasks_s": round(tasks / t["l2l"], 1),
            "ratio": round(t["l2l"] / t["ours"], 2),
        })  # fmt: skip
        print_table(rows[-1:], list(rows[-1]))
    return rows


def training(ds, images, meta, steps: int, repeats: int, ops: bool = False) -> dict:
    """Images/s of both training loops on TRAINING tasks, plus a per-phase time split."""
    n, k, q = TRAINING
    cfg = TrainConfig(data_root="", out="", augment=False, device="cpu", n_way=n, k_shot=k,
                      q_query=q)  # fmt: skip
    torch.manual_seed(0)
    ours_model, _, _, _ = build_model(cfg)
    theirs_model = copy.deepcopy(ours_model)  # same weights, NCHW as a plain loop keeps them
    ours_model = ours_model.to(memory_format=torch.channels_last)
    head = PrototypicalHead("euclidean")
    learner = EpisodeLearner(ours_model, head, lambda m, x: embed(m, x, cfg))
    ours_opt = torch.optim.Adam(ours_model.parameters(), 1e-3)
    theirs_opt = torch.optim.Adam(theirs_model.parameters(), 1e-3)
    sampler = ours_sampler(ds, n, k, q, seed=0)
    positions = np.arange(len(ds))
    taskset = l2l_taskset(meta, n, k, q)
    counter = iter(range(10**9))
    phase = {"ours": {"data": 0.0, "step": 0.0}, "l2l": {"data": 0.0, "step": 0.0}}

    def ours():
        for _ in range(steps):
            t0 = time.perf_counter()
            x, ns, s_lab, q_lab = episode_batch(sampler, next(counter), positions, images, cfg)
            t1 = time.perf_counter()
            train_step(learner, ours_opt, [(x, ns, s_lab, q_lab)])
            phase["ours"]["data"] += t1 - t0
            phase["ours"]["step"] += time.perf_counter() - t1

    def theirs():
        for _ in range(steps):
            t0 = time.perf_counter()
            data, labels = l2l_task(taskset)
            t1 = time.perf_counter()
            l2l_protonet_step(theirs_model, theirs_opt, data, labels, n, k, q)
            phase["l2l"]["data"] += t1 - t0
            phase["l2l"]["step"] += time.perf_counter() - t1

    def theirs_plain():
        for _ in range(steps):
            data, labels = l2l_task(taskset)
            l2l_protonet_step(theirs_model, theirs_opt, data, labels, n, k, q)

    def ours_plain():
        for _ in range(steps):
            x, ns, s_lab, q_lab = episode_batch(sampler, next(counter), positions, images, cfg)
            train_step(learner, ours_opt, [(x, ns, s_lab, q_lab)])

    t = interleaved_medians({"ours": ours_plain, "l2l": theirs_plain}, repeats=repeats)
    per_step = n * (k + q)
    row = {
        "task": f"{n}w{k}s{q}q", "images_per_step": per_step, "steps_per_run": steps,
        "ours_images_s": round(steps * per_step / t["ours"], 1),
        "l2l_images_s": round(steps * per_step / t["l2l"], 1),
        "ratio": round(t["l2l"] / t["ours"], 2),
    }  # fmt: skip
    print_table([row], list(row))
    # A separate pass splits each loop into data (sampling + loading) and the model step.
    ours()
    theirs()
    split = {
        side: {
            "data_ms": round(1000 * v["data"] / steps, 1),
            "model_step_ms": round(1000 * v["step"] / steps, 1),
        }
        for side, v in phase.items()
    }
    row["phase_split"] = split
    print("phase split (ms per step):", split)
    if ops:  # where the model step's time goes, operator by operator, on each side
        row["ops_ours"] = op_profile(ours_plain)
        row["ops_l2l"] = op_profile(theirs_plain)
        for side in ("ours", "l2l"):
            print(f"top operators, {side}:", [(o["op"], o["share"]) for o in row[f"ops_{side}"]])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data/omniglot", help="Omniglot folder")
    parser.add_argument("--quick", action="store_true", help="fewer tasks and steps per run")
    parser.add_argument("--repeats", type=int, default=None, help="runs per side (median)")
    parser.add_argument(
        "--profile", action="store_true",
        help="cProfile of each side's sampling and torch.profiler of each training loop",
    )  # fmt: skip
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    tasks, steps = (20, 1) if args.quick else (100, 4)
    random.seed(0)
    l2l = require_learn2learn()
    t0 = time.perf_counter()
    ds = Omniglot(args.data_root, "background", image_size=28, rotations=(0, 90, 180, 270))
    images = DeviceImages(ds, torch.device("cpu"))
    meta = meta_dataset(ds.images, ds.labels)
    load_before = load_average()
    print(f"Omniglot background 28 px: {len(ds)} examples, {len(ds.classes)} classes; "
          f"torch threads {torch.get_num_threads()}, load {load_before}")  # fmt: skip
    sample_rows = sampling(ds, images, meta, tasks, repeats)
    train_row = training(ds, images, meta, steps, repeats, ops=args.profile)
    profiles = {}
    if args.profile:
        n, k, q = SAMPLING[-1]
        sampler, taskset = ours_sampler(ds, n, k, q, 0), l2l_taskset(meta, n, k, q)
        cfg = TrainConfig(data_root="", out="", augment=False, device="cpu")
        pos = np.arange(len(ds))
        profiles["ours_sampling_60w"] = profile(
            lambda: [episode_batch(sampler, i, pos, images, cfg) for i in range(50)]
        )
        profiles["l2l_sampling_60w"] = profile(lambda: [l2l_task(taskset) for _ in range(50)])
        for name, lines in profiles.items():
            print(f"\n== {name}\n" + "\n".join(lines))
    goals = {
        "sampling_tasks_s_ratio_goal": 2.0,
        "sampling_met": all(r["ratio"] >= 2.0 for r in sample_rows),
        "training_images_s_ratio_goal": 1.5,
        "training_met": train_row["ratio"] >= 1.5,
    }
    print(goals)
    path = write_json(
        "vs_learn2learn" + ("_quick" if args.quick else ""),
        {
            "question": "episode sampling tasks/s and ProtoNet training images/s: ours vs "
            "learn2learn on the same Omniglot images, tasks and Conv-4",
            "command": "python benchmarks/vs_learn2learn.py" + (" --quick" if args.quick else ""),
            "learn2learn": l2l.__version__,
            "repeats": repeats,
            "load_average_at_start": load_before,
            "sampling": sample_rows,
            "training": train_row,
            "goals": goals,
            "profiles": profiles,
            "seconds": round(time.perf_counter() - t0, 1),
            "cpus": os.cpu_count(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
