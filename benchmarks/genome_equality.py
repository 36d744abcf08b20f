"""Genome equality (``==``, and ``populations.similar``, which DEAP's HallOfFame calls on every
insertion attempt) against the pre-vectorisation implementation, in the same run.

    OMP_NUM_THREADS=1 python benchmarks/genome_equality.py \
        --output benchmarks/results/genome_equality.json

Times, for random direct genomes of ``--arch`` (default 784-400-10), two kinds of pair: a genome
and a copy of it with every hidden layer randomly permuted (equal: the full comparison runs), and
two unrelated random genomes (unequal, the usual case in a hall of fame). Each is timed with

* ``current``: ``a == b`` as the package implements it now;
* ``similar``: ``populations.similar(a, b)`` (the hall-of-fame predicate);
* ``reference_old``: :func:`reference_old_equal`, a faithful copy of the implementation this
  benchmark was written to replace (deep copies of both genomes, a Python loop of stable sorts over
  every column of the record matrix), kept here *only* as the reference point.

Runs are interleaved (current, similar, reference, current, ...) with one torch thread, so that all
three see the same machine load; medians over ``--repeats`` are reported, with the ratio
``reference_old / current``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from neuroevo.architecture import Architecture
from neuroevo.files import atomic_write
from neuroevo.genomes import DirectGenome, Genome
from neuroevo.provenance import provenance
from populations import similar


# ------------------------------------------------ reference point: the old implementation (only here)
def reference_old_lexsort_rows(matrix: torch.Tensor) -> torch.Tensor:
    """The old ``neuroevo.neurons.lexsort_rows``: one stable sort per column, last column first."""
    order = torch.arange(matrix.shape[0])
    for column in reversed(range(matrix.shape[1])):
        keys = matrix[order, column]
        order = order[torch.sort(keys, stable=True).indices]
    return order


def reference_old_canonical(genome: Genome) -> Genome:
    """The old ``Genome.canonical``: a deep copy, then each hidden layer sorted in depth order."""
    result = copy.deepcopy(genome)
    for index in genome.architecture.hidden_layers:
        result.permute_layer(index, reference_old_lexsort_rows(result.layers[index].record_matrix()))
    return result


def reference_old_equal(a: Genome, b: Genome) -> bool:
    """The old ``Genome.__eq__``: compares the two old canonical forms."""
    if a.encoding != b.encoding or a._identity_parts() != b._identity_parts():
        return False
    if a.widths != b.widths:
        return False
    mine, theirs = reference_old_canonical(a), reference_old_canonical(b)
    return all(
        x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names)
        for x, y in zip(mine.layers, theirs.layers)
    )


# ------------------------------------------------------------------------------- the benchmark
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="784-400-10")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="write the figures as JSON here")
    return parser.parse_args(argv)


def make_pairs(arch: Architecture, seed: int) -> dict[str, tuple[Genome, Genome]]:
    """``{"equal": (genome, permuted copy), "unequal": (genome, unrelated genome)}``."""
    generator = torch.Generator().manual_seed(seed)
    genome = DirectGenome.random(arch, generator=generator)
    permuted = genome.clone()
    for index in arch.hidden_layers:
        permuted.permute_layer(index, torch.randperm(permuted.widths[index], generator=generator))
    return {"equal": (genome, permuted), "unequal": (genome, DirectGenome.random(arch, generator=generator))}


def measure(runs: dict[str, Callable[[], bool]], repeats: int) -> dict[str, list[float]]:
    """Wall-clock seconds of every run, ``repeats`` times, interleaved (after one warm-up round)."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if repeat:
                seconds[name].append(time.perf_counter() - start)
    return seconds


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.repeats < 1:
        raise SystemExit("--repeats must be at least 1")
    torch.set_num_threads(1)
    arch = Architecture.parse(args.arch)
    figures: dict[str, dict] = {}
    for kind, (a, b) in make_pairs(arch, args.seed).items():
        runs = {"current": lambda: a == b, "similar": lambda: similar(a, b),
                "reference_old": lambda: reference_old_equal(a, b)}
        answers = {name: bool(run()) for name, run in runs.items()}
        if len(set(answers.values())) != 1 or answers["current"] != (kind == "equal"):
            raise SystemExit(f"{kind} pair: the implementations disagree: {answers}")
        seconds = measure(runs, args.repeats)
        median = {name: statistics.median(times) for name, times in seconds.items()}
        figures[kind] = {
            "answer": answers["current"],
            "seconds": seconds,
            "median_seconds": median,
            "ratio_reference_old_over_current": median["reference_old"] / median["current"],
            "ratio_reference_old_over_similar": median["reference_old"] / median["similar"],
        }
        print(f"{kind} pair ({arch.spec} direct): current {median['current'] * 1e3:.3f} ms, similar "
              f"{median['similar'] * 1e3:.3f} ms, reference (old) {median['reference_old'] * 1e3:.2f} ms: "
              f"{figures[kind]['ratio_reference_old_over_current']:.0f}x", flush=True)
    command = "OMP_NUM_THREADS=1 python benchmarks/genome_equality.py" + (
        f" --arch {args.arch} --repeats {args.repeats} --seed {args.seed}"
        + (f" --output {args.output}" if args.output else ""))
    result = {
        **provenance(command=command, dataset="synthetic random genomes", split="n/a"),
        "architecture": arch.spec,
        "encoding": "direct",
        "threads": torch.get_num_threads(),
        "environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS",) if k in os.environ},
        "load_average_1min": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "pairs": figures,
    }
    if args.output is not None:
        atomic_write(args.output, lambda tmp: tmp.write_text(json.dumps(result, indent=2) + "\n"))
        print(f"wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
