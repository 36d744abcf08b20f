"""``neuroevo sweep transplant|interpolate|interpolate-all``: crossover destructiveness sweeps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from neuroevo.cli.options import add_data_arguments, add_memory_budget_argument, load_data
from neuroevo.decoding import direct_equivalent
from neuroevo.files import load_genome
from neuroevo.sweeps import KINDS, VARIANTS, SweepParents, SweepResult, has_layer_summaries, run_sweep, summary_mismatch
from neuroevo.sweeps.summaries import SUMMARY_IMAGES


def _coefficients(text: str) -> list[float]:
    """``"21"`` -> 21 evenly spaced points from 0 to 1; ``"0,0.5,1"`` -> those values."""
    try:
        if "," not in text:
            return list(np.linspace(0.0, 1.0, int(text)).round(6))
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of points or comma-separated values") from None


def _load_pair(paths: list[str] | None, expected: str) -> tuple | None:
    if not paths:
        return None
    pair = tuple(load_genome(path) for path in paths)
    for path, genome in zip(paths, pair):
        if genome.encoding != expected:
            raise ValueError(f"{path}: expected a {expected} genome, found a {genome.encoding} genome")
    return pair


def format_summary(result: SweepResult) -> str:
    """A plain-text table of the per-variant summary (retention at 0.5 / 1.0, AUC, barrier)."""
    rows = result.summary()
    keys = [k for k in rows[0] if k != "variant"]
    width = max(len(r["variant"]) for r in rows) + 2
    lines = ["variant".ljust(width) + "  ".join(k.rjust(16) for k in keys)]
    for row in rows:
        lines.append(str(row["variant"]).ljust(width) + "  ".join(f"{row[k]:16.4f}" for k in keys))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """``neuroevo sweep``: run a transplant or interpolation sweep on the given parents and write its
    CSV, JSON and plot; returns the exit status.

    Raises:
        ValueError: missing or mismatched parents, or settings the sweep refuses, before any work.
    """
    embedding = _load_pair(args.embedding_parents, "embedding")
    direct = _load_pair(args.parents, "direct")
    if args.direct_equivalent:
        if embedding is None or direct is not None:
            raise ValueError("--direct-equivalent takes the direct parents from --embedding-parents; "
                             "give those and no --parents")
        direct = tuple(direct_equivalent(genome) for genome in embedding)
    parents = SweepParents(direct=direct, embedding=embedding)
    data = load_data(args, args.split)
    probe = None
    if parents.direct is not None and any(VARIANTS[n].needs_probe for n in (args.variants or VARIANTS)):
        train = load_data(args, "train")
        generator = torch.Generator().manual_seed(args.seed)
        probe = train.images[torch.randperm(len(train), generator=generator)[: args.probe_size]]
    layer = None if args.kind in ("interpolate-all", "transplant-all-hidden") else args.layer
    result = run_sweep(
        args.kind,
        parents,
        data,
        layer=layer,
        coefficients=args.coefficients,
        repeats=args.repeats,
        variants=args.variants,
        probe=probe,
        seed=args.seed,
        device=args.device,
        memory_budget=args.memory_budget,
    )
    if parents.embedding is not None and has_layer_summaries(parents.embedding[0]):
        images = data.images[:SUMMARY_IMAGES]
        result.setup["summary_mismatch"] = summary_mismatch(*parents.embedding, images)
        result.setup["summary_images"] = f"first {len(images)} images of the evaluation split"
    result.setup["command"] = " ".join(["neuroevo", *sys.argv[1:]])
    result.setup["probe"] = f"{args.probe_size} images of the train split (seed {args.seed})" if probe is not None else None
    stem = args.kind if layer is None else f"{args.kind}-layer{layer}"
    paths = result.write(args.output, stem)
    print(f"data: {result.dataset}; parents: " + ", ".join(f"{k} {v:.4f}" for k, v in result.parent_accuracy.items()))
    if "summary_mismatch" in result.setup:
        print("embedding parents' layer-summary mismatch |F_B - F_A| / |F_A| per hidden layer "
              "(0: interchangeable): " + ", ".join(f"{v:.3f}" for v in result.setup["summary_mismatch"]))
    print(format_summary(result))
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` command to ``subparsers``."""
    sweep = subparsers.add_parser(
        "sweep",
        help="crossover destructiveness sweeps (transplant, interpolation)",
        description="Cross parent A with parent B at every coefficient and measure what the children keep.",
    )
    sweep.add_argument("kind", choices=KINDS, help="transplant one hidden layer or all of them at once, interpolate one layer or all")
    sweep.add_argument("--parents", nargs=2, metavar=("A", "B"), help="direct genome files (A is the target)")
    sweep.add_argument("--embedding-parents", nargs=2, metavar=("A", "B"),
                       help="embedding genome files on one shared input encoding (e.g. fits of A and B)")
    sweep.add_argument("--direct-equivalent", action="store_true",
                       help="run the direct variants on the embedding parents' generated weights (the same two "
                            "networks as weight matrices), e.g. for parents trained as embedding genomes")
    sweep.add_argument("--layer", type=int, default=0, help="the layer to cross (not for the ...-all... kinds)")
    add_data_arguments(sweep)
    sweep.add_argument("--split", default="test", choices=("train", "test"), help="split the children are scored on")
    sweep.add_argument("--coefficients", type=_coefficients, default=_coefficients("21"),
                       help="number of points from 0 to 1, or comma-separated values (default 21)")
    sweep.add_argument("--repeats", type=int, default=10, help="random repeats per coefficient")
    sweep.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), help="default: every variant with parents")
    sweep.add_argument("--probe-size", type=int, default=1000, help="training images used by data-using variants")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--device", default=None, help="cpu, cuda, ... (default: where the data is, the CPU)")
    add_memory_budget_argument(sweep, default="512M")
    sweep.add_argument("-o", "--output", type=Path, default=Path("sweeps"), help="folder for JSON, CSV and PNG")
    sweep.set_defaults(func=run)
