"""Speed of a full transplant sweep: batched evaluation vs one model at a time, in one run.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/sweep_speed.py \
        --parents runs/sweeps/fc2-mnist/pair0 --threads 1 [--points 21 --repeats 10 --rounds 2 \
        --sequential-fraction 1.0] [--output docs/figures/sweeps/speed.json]

Times :func:`run_sweep` (transplant of the first hidden layer, ``--points`` coefficients x ``--repeats``
repeats x the five ``--variants``, the 10k test images) on the same parents in two arms: as written
(every variant's children scored in one :func:`evaluate_population` call), and with that call
replaced by a loop of :func:`evaluate_genome` (decode one child, forward it, next). The arms are
interleaved, ``--rounds`` times each (round ``r`` runs batched first when ``r`` is even, one at a
time first when odd), so both see the same machine load; medians are reported with every round's
time and the load average before and after. Both timings include building the children (alignment,
transplants). ``--sequential-fraction`` < 1 scores only
an evenly spaced subset of each variant's children one at a time (the rest get placeholder scores)
and the whole one-at-a-time sweep's time is estimated as the measured time outside scoring plus the
measured scoring time per child times all children; the largest accuracy difference between the two
runs (on the children scored in both) is reported. Parents: ``A.safetensors``, ``B.safetensors``, ``fit-A.safetensors``, ``fit-B.safetensors``
in ``--parents`` (made by ``benchmarks/reproduce_sweeps.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence
from unittest import mock

import numpy as np
import torch

from neuroevo.data import BUILTIN_DATASET, load_dataset
from neuroevo.provenance import portable_path, provenance
from neuroevo.evaluation import evaluate_genome
from neuroevo.evaluation.metrics import PopulationScores
from neuroevo.files import atomic_write, load_genome
from neuroevo.genomes import Genome
from neuroevo.sweeps import SweepParents, run_sweep

VARIANTS = ("direct", "direct-outgoing", "direct-aligned-activation", "embedding", "embedding-aligned")


def one_at_a_time(fraction: float, tally: dict[str, float]):
    """An ``evaluate_population`` stand-in scoring each genome alone with :func:`evaluate_genome`.

    Scores an evenly spaced ``fraction`` of the genomes (at least one; all of the first call, the
    parents); the others get NaN. Adds to ``tally``: ``children`` (genomes passed after the first
    call), ``scored`` (of those, scored) and ``scoring_s`` (seconds spent scoring them).
    """

    def evaluate(genomes: Sequence[Genome], data, **_: object) -> PopulationScores:
        n, parents = len(genomes), "calls" not in tally
        tally["calls"] = tally.get("calls", 0) + 1
        share = 1.0 if parents else fraction
        chosen = sorted(set(np.linspace(0, n - 1, max(1, round(share * n))).round().astype(int).tolist()))
        accuracy = torch.full((n,), float("nan"))
        cross_entropy = torch.full((n,), float("nan"))
        started = time.perf_counter()
        for index in chosen:
            scores = evaluate_genome(genomes[index], data)
            accuracy[index], cross_entropy[index] = scores.accuracy, scores.cross_entropy
        if not parents:
            tally["children"] += n
            tally["scored"] += len(chosen)
            tally["scoring_s"] += time.perf_counter() - started
        return PopulationScores(n_samples=len(data), accuracy=accuracy, cross_entropy=cross_entropy)

    return evaluate


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=Path, default=Path("runs/sweeps/fc2-mnist/pair0"))
    parser.add_argument("--data", default=BUILTIN_DATASET)
    parser.add_argument("--layer", type=int, default=0)
    parser.add_argument("--points", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--sequential-fraction", type=float, default=1.0,
                        help="fraction of each variant's children scored one at a time (time per child compared)")
    parser.add_argument("--rounds", type=int, default=2, help="times each arm runs, interleaved")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--output", type=Path, help="write the timings as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not 0 < args.sequential_fraction <= 1:
        raise ValueError(f"--sequential-fraction must be in (0, 1], got {args.sequential_fraction}")
    if args.rounds < 1:
        raise ValueError(f"--rounds must be >= 1, got {args.rounds}")
    if args.threads:
        torch.set_num_threads(args.threads)
    direct = tuple(load_genome(args.parents / f"{n}.safetensors") for n in "AB")
    fit_a = load_genome(args.parents / "fit-A.safetensors")
    fit_b = load_genome(args.parents / "fit-B.safetensors", input_encoding=fit_a.input_encoding)
    parents = SweepParents(direct=direct, embedding=(fit_a, fit_b))
    test = load_dataset(args.data, "test")
    train = load_dataset(args.data, "train")
    probe = train.images[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:1000]]
    coefficients = np.linspace(0, 1, args.points).round(4)
    sweep = dict(layer=args.layer, coefficients=coefficients, repeats=args.repeats, variants=args.variants,
                 probe=probe, progress=False)

    load_before = os.getloadavg()[0]
    rounds: list[dict[str, float]] = []
    for round_index in range(args.rounds):
        times: dict[str, float] = {}
        for arm in ("batched", "sequential") if round_index % 2 == 0 else ("sequential", "batched"):
            if arm == "batched":
                started, cpu = time.perf_counter(), time.process_time()
                batched = run_sweep("transplant", parents, test, **sweep)
                times["batched_s"] = time.perf_counter() - started
                times["batched_cpu_s"] = time.process_time() - cpu
                continue
            tally = {"children": 0, "scored": 0, "scoring_s": 0.0}
            with mock.patch("neuroevo.sweeps.run.evaluate_population", one_at_a_time(args.sequential_fraction, tally)):
                started, cpu = time.perf_counter(), time.process_time()
                sequential = run_sweep("transplant", parents, test, **sweep)
                times["sequential_s"] = time.perf_counter() - started
                times["sequential_cpu_s"] = time.process_time() - cpu
            children = sum(c.accuracy.size for c in sequential.curves)
            # One-at-a-time time of the whole sweep: everything but scoring children as measured, plus the
            # measured scoring time per child times all children (exact when every child was scored).
            times["sequential_scored"] = tally["scored"]
            times["sequential_full_s"] = (times["sequential_s"] - tally["scoring_s"]
                                          + tally["scoring_s"] / tally["scored"] * children)
        times["ratio"] = times["sequential_full_s"] / times["batched_s"]
        rounds.append(times)
        print(f"round {round_index + 1}/{args.rounds}: batched {times['batched_s']:.1f} s "
              f"({times['batched_cpu_s']:.1f} s CPU), one at a time {times['sequential_full_s']:.1f} s "
              f"({times['sequential_cpu_s']:.1f} s CPU), {times['ratio']:.2f}x", flush=True)
    load_after = os.getloadavg()[0]
    children = sum(c.accuracy.size for c in batched.curves)
    difference = max(
        float(np.nanmax(np.abs(s.accuracy - b.accuracy))) for s, b in zip(sequential.curves, batched.curves)
    )
    batched_s = statistics.median(r["batched_s"] for r in rounds)
    sequential_full_s = statistics.median(r["sequential_full_s"] for r in rounds)
    environment = ", ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ)
    record = {
        "description": (
            f"Transplant sweep of layer {args.layer} of `{direct[0].architecture.spec}` (MNIST, {len(test)} test "
            f"images): {args.points} coefficients x {args.repeats} repeats x {len(args.variants)} variants "
            f"({', '.join(args.variants)}), parents from `{portable_path(args.parents)}`; wall-clock on "
            f"{platform.processor() or platform.machine()} with {torch.get_num_threads()} torch threads "
            f"({environment or 'default OpenMP settings'}), machine shared with other jobs; the two arms interleaved, "
            f"{args.rounds} round(s) each, medians. Both timings include building the children; one-at-a-time "
            f"scored {args.sequential_fraction:.0%} of each variant's children. CPU seconds are the process's "
            "(`time.process_time`), less sensitive than wall-clock to other jobs on a shared machine."
        ),
        "children": children,
        "batched_s": batched_s,
        "sequential_scored": int(rounds[-1]["sequential_scored"]),
        "sequential_s": statistics.median(r["sequential_s"] for r in rounds),
        "sequential_full_s": sequential_full_s,
        "ratio": sequential_full_s / batched_s,
        "batched_cpu_s": statistics.median(r["batched_cpu_s"] for r in rounds),
        "sequential_cpu_s": statistics.median(r["sequential_cpu_s"] for r in rounds),
        "rounds": rounds,
        "threads": torch.get_num_threads(),
        "load_average_1min": {"before": load_before, "after": load_after, "cpus": os.cpu_count()},
        "max_accuracy_difference": difference,
    } | provenance(dataset=test.name, split=f"{test.split} ({len(test)} images); probe from {train.split}",
                   data=[test, train])
    print(json.dumps(record, indent=1))
    if args.output:
        atomic_write(args.output, lambda tmp: tmp.write_text(json.dumps(record, indent=1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
