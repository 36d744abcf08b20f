"""Batched population evaluation vs decoding each genome and looping, in one run.

    python benchmarks/batched_evaluation.py --data mnist-small --population 64 \
        [--device cpu|cuda] [--repeats 5] --output benchmarks/results/batched_evaluation.json

Scores ``--population`` random embedding genomes (``--arch``, ``--d``; one shared input encoding)
(or, with ``--offspring-of K``, the children of first-hidden-layer transplant crossovers among ``K``
random parents, no mutation: a crossover generation, whose genomes share their parents' neurons)
on the 10k MNIST test images: with :func:`evaluate_genome` for each genome in turn (decode, forward
in chunks of ``REFERENCE_BATCH_SIZE``: the loop), the same loop with the whole data set in one
forward call (what a first attempt does), and with :func:`evaluate_population` (batched). Each
repeat times a matmul peak probe (a square float32 GEMM) and the three runs, one after the other;
medians are reported with the spread, and process CPU times beside wall-clock times, because
other jobs may share the machine. On a busy machine, OpenMP's default spin-waiting makes every
multi-threaded torch run (loop and batched alike) several times slower and erratic: run with
``OMP_WAIT_POLICY=PASSIVE`` in the environment, or ``--threads 1``.

FLOPs are 2 per multiply-add of matrix products (element-wise work not counted):

* performed: what the batched evaluator counted while running (shared input projection
  ``N n_in d`` once, each genome's layers in the form it chose, weight generation);
* loop: the same count for the reference path (decode applies each layer in the cheaper form for
  its chunk size and regenerates dense weights for every chunk);
* dense-W equivalent: ``N sum_l m_l n_l`` per genome, as if every W were materialised.

The "ceiling" is the speed-up the batched pass would reach with all its FLOPs at the probe's rate
(loop time x probe rate / performed FLOPs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

import operators
from neuroevo.architecture import Architecture
from neuroevo.provenance import provenance
from neuroevo.decoding import factored_is_cheaper
from neuroevo.evaluation import evaluate_genome, evaluate_population
from neuroevo.evaluation.single import REFERENCE_BATCH_SIZE
from neuroevo.files import atomic_write
from neuroevo.genomes import EmbeddingGenome


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data set name (e.g. mnist-small) or IDX folder; random data of MNIST's shape when omitted")
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--arch", default="784-400-10")
    parser.add_argument("--d", type=int, default=64, help="embedding width")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--probe-size", type=int, default=2048, help="side of the square GEMM peak probe")
    parser.add_argument("--batch-size", type=int, default=None, help="batched evaluator chunk (default: its own)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--offspring-of", type=int, default=None, metavar="K",
                        help="score children of transplant crossovers among K random parents instead of "
                             "unrelated random genomes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    return parser.parse_args(argv)


def load_data(folder: str | None) -> tuple[torch.Tensor, torch.Tensor, str]:
    if folder is None:
        generator = torch.Generator().manual_seed(0)
        images = torch.randn(10_000, 1, 28, 28, generator=generator)
        return images, torch.randint(0, 10, (10_000,), generator=generator), "random [10000, 1, 28, 28]"
    from neuroevo.data import load_dataset

    dataset = load_dataset(folder, "test")
    return dataset.images, dataset.labels, f"{dataset.name} {dataset.split} ({len(dataset)} images)"


def make_population(arch: Architecture, d: int, size: int, offspring_of: int | None, seed: int) -> list:
    """``size`` random embedding genomes on one input encoding, or (``offspring_of = K``) ``size``
    children of transplant crossovers (first hidden layer, coefficient 0.5) between random pairs of
    ``K`` random parents."""
    if offspring_of is not None and offspring_of < 2:
        sys.exit("--offspring-of needs at least 2 parents")
    generator = torch.Generator().manual_seed(seed)
    first = EmbeddingGenome.random(arch, d, generator=generator)
    n_random = size if offspring_of is None else offspring_of
    genomes = [first] + [EmbeddingGenome.random(arch, input_encoding=first.input_encoding, generator=generator)
                         for _ in range(n_random - 1)]
    if offspring_of is None:
        return genomes
    rng = random.Random(seed)
    children = []
    while len(children) < size:
        a, b = rng.sample(genomes, 2)
        children.extend(operators.cx_transplant(a.clone(), b.clone(), layer=0, coefficient=0.5, rng=rng))
    return children[:size]


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``fn()`` (device work included)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def loop_flops(arch: Architecture, d: int, n_samples: int, chunk: int) -> int:
    """FLOPs of the reference path for one dense embedding genome (see the module docstring)."""
    total = 0
    m = arch.n_inputs_flat
    for n in arch.dense_widths + (arch.n_classes,):
        for first in range(0, n_samples, chunk):
            b = min(chunk, n_samples - first)
            if factored_is_cheaper(b, m, d, n):
                total += 2 * b * d * (m + n)
            else:
                total += 2 * (m * d * n + b * m * n)
        m = n
    return total


def dense_equivalent_flops(arch: Architecture, n_samples: int) -> int:
    widths = (arch.n_inputs_flat,) + arch.dense_widths + (arch.n_classes,)
    return 2 * n_samples * sum(m * n for m, n in zip(widths, widths[1:]))


def measure(runs: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> tuple[dict, dict]:
    """Wall-clock and CPU seconds of every run, ``repeats`` times, interleaved (probe: median of 3)."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats):
        for name, fn in runs.items():
            times = [timed(fn, device) for _ in range(3 if name == "probe" else 1)]
            wall[name].append(statistics.median(t[0] for t in times))
            cpu[name].append(statistics.median(t[1] for t in times))
        print(f"repeat {repeat + 1}/{repeats}: " + ", ".join(f"{n} {wall[n][-1]:.3f} s" for n in runs), flush=True)
    return wall, cpu


def report(r: dict) -> None:
    wall, median = r["wall_seconds"], r["median_wall_seconds"]
    spread = {name: f"{min(t):.3f}..{max(t):.3f}" for name, t in wall.items()}
    load = r["load_average_1min"]
    environment = "".join(f", {k}={v}" for k, v in r["environment"].items())
    print(f"\n{r['population']} x {r['architecture']} (d={r['d']}; {r['population_kind']}) on {r['data']}, "
          f"{r['device']}, {r['threads']} "
          f"threads{environment}; medians of {r['repeats']} repeats (min..max); load average "
          f"{load['before']:.1f} -> {load['after']:.1f} on {load['cpus']} CPUs")
    print(f"loop (evaluate_genome each, chunks of {r['reference_batch_size']}): {median['loop']:.3f} s "
          f"({spread['loop']})")
    print(f"loop, whole data set per forward: {median['loop_unchunked']:.3f} s ({spread['loop_unchunked']})")
    print(f"batched (evaluate_population): {median['batched']:.3f} s ({spread['batched']})")
    print(f"speed-up: {r['speedup']:.1f}x (range {r['speedup_range'][0]:.1f}..{r['speedup_range'][1]:.1f}; by CPU "
          f"time {r['speedup_cpu_time']:.1f}x); vs the unchunked loop {r['speedup_vs_unchunked_loop']:.1f}x")
    print(f"FLOPs performed (batched, counted by the evaluator): {r['flops_performed'] / 1e9:.1f} G; for "
          "n_in-n_1-C nets 2 N [n_in d + P (d n_1 + n_1 C)] + weight generation 2 P n_1 C d")
    print(f"FLOPs of the loop: {r['flops_loop'] / 1e9:.1f} G; dense-W equivalent: "
          f"{r['flops_dense_equivalent'] / 1e9:.1f} G")
    print(f"achieved: {r['achieved_gflops']:.1f} GFLOP/s (loop {r['loop_gflops']:.1f}); probe ({r['probe_size']}^3 "
          f"GEMM): {r['probe_gflops']:.1f} GFLOP/s; fraction {r['fraction_of_probe']:.0%} (by CPU time "
          f"{r['fraction_of_probe_cpu_time']:.0%})")
    print(f"ceiling: with its FLOPs at the probe's rate the batched pass would be "
          f"{r['speedup_ceiling_at_probe_rate']:.1f}x faster than the loop")
    errors = r["max_abs_difference"]
    print(f"max |batched - loop|: accuracy {errors['accuracy']:.2g}, cross-entropy {errors['cross_entropy']:.2g}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    arch = Architecture.parse(args.arch)
    if arch.n_conv:
        sys.exit("this benchmark times dense (FC) embedding genomes; give an FC --arch")
    images, labels, data_name = load_data(args.data)
    data = (images.to(device), labels.to(device))
    n_samples = len(labels)
    population = make_population(arch, args.d, args.population, args.offspring_of, args.seed)
    a = torch.randn(args.probe_size, args.probe_size, device=device)
    b = torch.randn(args.probe_size, args.probe_size, device=device)
    load_before = os.getloadavg()[0]
    runs = {
        "probe": lambda: torch.mm(a, b),
        "loop": lambda: [evaluate_genome(g, data, device=device) for g in population],
        "loop_unchunked": lambda: [evaluate_genome(g, data, device=device, batch_size=n_samples) for g in population],
        "batched": lambda: evaluate_population(population, data, device=device, batch_size=args.batch_size),
    }
    # Warm up (allocator, thread pool, kernels), and check that both paths agree.
    reference = runs["loop"]()
    scores = runs["batched"]()
    runs["probe"]()
    wall, cpu = measure(runs, args.repeats, device)

    median = {name: statistics.median(times) for name, times in wall.items()}
    median_cpu = {name: statistics.median(times) for name, times in cpu.items()}
    probe_flops = 2 * args.probe_size**3
    performed = scores.flops
    loop_total = args.population * loop_flops(arch, args.d, n_samples, REFERENCE_BATCH_SIZE)
    probe_rate = probe_flops / median["probe"]
    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
        or platform.machine(),
        "threads": torch.get_num_threads(),
        "environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ},
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0], "cpus": os.cpu_count()},
        "torch": torch.__version__,
        "data": data_name,
        "population": args.population,
        "population_kind": ("unrelated random genomes" if args.offspring_of is None
                            else f"children of transplant crossovers among {args.offspring_of} random parents"),
        "architecture": arch.spec,
        "d": args.d,
        "repeats": args.repeats,
        "probe_size": args.probe_size,
        "reference_batch_size": REFERENCE_BATCH_SIZE,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "median_wall_seconds": median,
        "speedup": median["loop"] / median["batched"],
        "speedup_range": [min(wall["loop"]) / max(wall["batched"]), max(wall["loop"]) / min(wall["batched"])],
        "speedup_vs_unchunked_loop": median["loop_unchunked"] / median["batched"],
        "speedup_cpu_time": median_cpu["loop"] / median_cpu["batched"],
        "flops_performed": performed,
        "flops_loop": loop_total,
        "flops_loop_unchunked": args.population * loop_flops(arch, args.d, n_samples, n_samples),
        "flops_dense_equivalent": args.population * dense_equivalent_flops(arch, n_samples),
        "achieved_gflops": performed / median["batched"] / 1e9,
        "loop_gflops": loop_total / median["loop"] / 1e9,
        "probe_gflops": probe_rate / 1e9,
        "fraction_of_probe": performed / median["batched"] / probe_rate,
        "fraction_of_probe_cpu_time": (performed / median_cpu["batched"]) / (probe_flops / median_cpu["probe"]),
        "speedup_ceiling_at_probe_rate": median["loop"] * probe_rate / performed,
        "max_abs_difference": {
            "accuracy": max(abs(s.accuracy - float(x)) for s, x in zip(reference, scores.accuracy)),
            "cross_entropy": max(
                abs(s.cross_entropy - float(x)) for s, x in zip(reference, scores.cross_entropy)
            ),
        },
    }
    result |= provenance(dataset=data_name, split="test" if args.data else "random images")
    report(result)
    if args.output is not None:
        atomic_write(args.output, lambda tmp: tmp.write_text(json.dumps(result, indent=2) + "\n"))
        print(f"wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
