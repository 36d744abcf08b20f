"""``neuroevo train`` and ``neuroevo fit``: train a genome from random initialisation, fit an
embedding genome to a reference network.

Both write into an output folder: ``genome.safetensors``, ``input_encoding.safetensors`` (embedding
genomes: the basis another genome can be built or fitted on) and ``metrics.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from neuroevo.cli.genome_commands import add_architecture_arguments, architecture_from_args, describe, random_genome
from neuroevo.cli.options import add_data_arguments, load_data
from neuroevo.data import train_holdout_split
from neuroevo.files import load_genome, load_input_encoding, save_genome, save_input_encoding
from neuroevo.fitting import FIT_METHODS, fit_to_reference
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.evaluation import check_genome_fits_data, evaluate_genome
from neuroevo.training import (
    OPTIMIZERS,
    TrainConfig,
    dataset_summary,
    parameter_summary,
    train_genome,
    write_metrics,
)

GENOME_FILE = "genome.safetensors"
ENCODING_FILE = "input_encoding.safetensors"
METRICS_FILE = "metrics.json"


def _count_or_fraction(text: str) -> int | float:
    """``"500"`` -> 500 samples, ``"0.1"`` -> a tenth of the training split."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a sample count nor a fraction") from None


def _output_folder(path: str) -> Path:
    """The output folder (created when the first file is written); checked now, before any work."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output {folder} exists and is not a folder")
    return folder


def _save(genome: Genome, folder: Path) -> None:
    save_genome(genome, folder / GENOME_FILE)
    if isinstance(genome, EmbeddingGenome):
        save_input_encoding(genome.input_encoding, folder / ENCODING_FILE)


def _encoding_summary(genome: Genome, *, trained: bool, source: str | None) -> dict[str, Any] | None:
    if not isinstance(genome, EmbeddingGenome):
        return None
    return {"id": genome.input_encoding.identity, "d": genome.d, "trained": trained, "source": source}


# ------------------------------------------------------------------- train
def run_train(args: argparse.Namespace) -> int:
    """``neuroevo train``: train a genome from random initialisation (the best holdout step kept,
    one test evaluation) and write it with its input encoding and metrics; returns the exit status."""
    full_train, test = load_data(args, "train"), load_data(args, "test")
    train, holdout = train_holdout_split(full_train, args.holdout, seed=args.split_seed, stratify=True)
    architecture = architecture_from_args(args, train.input_shape)
    check_genome_fits_data(architecture, train)
    genome = random_genome(args, architecture, torch.Generator().manual_seed(args.seed))
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        max_lr=args.max_lr,
        momentum=args.momentum,
        validate_every=args.validate_every,
        seed=args.seed,
        train_input_encoding=args.input_encoding is None,
    )
    folder = _output_folder(args.output)
    result = train_genome(genome, train, holdout, config=config, device=args.device, progress=not args.no_progress)
    test_metrics = evaluate_genome(result.genome, test, device=args.device)
    _save(result.genome, folder)
    metrics = {
        "command": "train",
        "data": {"source": str(args.data), "train": dataset_summary(train), "holdout": dataset_summary(holdout),
                 "test": dataset_summary(test), "holdout_split_seed": args.split_seed},
        "architecture": str(architecture),
        "encoding": args.encoding,
        "input_encoding": _encoding_summary(result.genome, trained=config.train_input_encoding,
                                            source=args.input_encoding),
        "config": config.as_dict(),
        "steps": result.steps,
        "best_step": result.best_step,
        "holdout": result.holdout.as_dict(),
        "test": test_metrics.as_dict(),
        "parameters": parameter_summary(result.genome),
        "wall_time_s": result.wall_time_s,
        "device": str(args.device),
        "history": result.history,
    }
    write_metrics(folder / METRICS_FILE, metrics)
    print(describe(result.genome))
    print(f"best step {result.best_step}/{result.steps}: holdout accuracy {result.holdout.accuracy:.4f}; "
          f"test accuracy {test_metrics.accuracy:.4f}, cross-entropy {test_metrics.cross_entropy:.4f} "
          f"({test.name}, {test.split}, {len(test)} samples); {result.wall_time_s:.1f} s")
    print(f"written to {folder}/")
    return 0


# --------------------------------------------------------------------- fit
def run_fit(args: argparse.Namespace) -> int:
    """``neuroevo fit``: fit an embedding genome to a trained direct network (eq. 4) and write it
    with its input encoding and metrics; returns the exit status.

    Raises:
        ValueError: a reference that is not a direct genome, or settings the fit refuses.
    """
    reference = load_genome(args.reference)
    if not isinstance(reference, DirectGenome):
        raise ValueError(f"{args.reference}: the reference must be a direct genome, not an {reference.encoding} genome")
    encoding = load_input_encoding(args.input_encoding) if args.input_encoding else None
    test = None
    if args.data:
        test = load_data(args, "test")
        check_genome_fits_data(reference.architecture, test)
    d = args.d if args.d is not None or encoding is not None else 64
    folder = _output_folder(args.output)
    result = fit_to_reference(
        reference, d, input_encoding=encoding, junction=args.junction, method=args.method,
        steps=args.steps, lr=args.lr, generator=torch.Generator().manual_seed(args.seed), device=args.device,
    )
    _save(result.genome, folder)
    metrics: dict[str, Any] = {
        "command": "fit",
        "reference": str(args.reference),
        "reference_architecture": str(reference.architecture),
        "architecture": str(result.genome.architecture),
        "d": result.genome.d,
        "method": result.method,
        "adam": {"steps": args.steps, "lr": args.lr} if result.method != "als" else None,
        "input_encoding": _encoding_summary(result.genome, trained=encoding is None, source=args.input_encoding),
        "per_layer_mse": list(result.per_layer_mse),
        "objective": result.objective,
        "parameters": {"reference": parameter_summary(reference), "fitted": parameter_summary(result.genome)},
        "wall_time_s": result.wall_time_s,
        "history": result.history,
    }
    mse = ", ".join(f"{m:.3g}" for m in result.per_layer_mse)
    print(f"fitted d={result.genome.d} ({result.method}) in {result.wall_time_s:.1f} s; per-layer weight MSE {mse}")
    if test is not None:
        reference_metrics = evaluate_genome(reference, test, device=args.device)
        fitted_metrics = evaluate_genome(result.genome, test, device=args.device)
        metrics["data"] = {"source": str(args.data), "test": dataset_summary(test)}
        metrics["reference_test"] = reference_metrics.as_dict()
        metrics["test"] = fitted_metrics.as_dict()
        print(f"test accuracy: reference {reference_metrics.accuracy:.4f}, fitted {fitted_metrics.accuracy:.4f} "
              f"({test.name}, {test.split}, {len(test)} samples)")
    write_metrics(folder / METRICS_FILE, metrics)
    print(f"written to {folder}/")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``fit`` commands to ``subparsers``."""
    train = subparsers.add_parser(
        "train", help="train a genome from random initialisation",
        description="Train a randomly initialised genome (default: the paper's recipe, Adam with a one-cycle "
                    "learning rate peaking at 0.01, batches of 1000, 2000 steps), select the step with the best "
                    "holdout accuracy, evaluate it once on the test split. Writes OUTPUT/genome.safetensors, "
                    "OUTPUT/input_encoding.safetensors (embedding genomes) and OUTPUT/metrics.json.")
    add_architecture_arguments(train)
    train.add_argument("--input-encoding", help="build on this shared input encoding file and keep it fixed "
                                                "(default: a fresh encoding, learned with the genome)")
    add_data_arguments(train)
    train.add_argument("--holdout", type=_count_or_fraction, default=0.1,
                       help="validation samples taken from the training split: a count or a fraction (default 0.1)")
    train.add_argument("--split-seed", type=int, default=0, help="seed of the (stratified) holdout split")
    train.add_argument("--steps", type=int, default=2000)
    train.add_argument("--batch-size", type=int, default=1000)
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="adam (one-cycle learning rate) or sgd (momentum, linear annealing to 0)")
    train.add_argument("--max-lr", type=float, default=0.01, help="peak (adam) or initial (sgd) learning rate")
    train.add_argument("--momentum", type=float, default=0.9, help="sgd momentum")
    train.add_argument("--validate-every", type=int, default=100, help="steps between holdout evaluations")
    train.add_argument("--seed", type=int, default=0, help="seeds the initial genome and the batch order")
    train.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("-o", "--output", required=True, help="output folder")
    train.set_defaults(func=run_train)

    fit = subparsers.add_parser(
        "fit", help="fit an embedding genome to a reference direct network",
        description="Fit an embedding genome to a reference direct genome (dense or separable conv) by minimising "
                    "the paper's eq. 4, sum_l ||W_l - Z_{l-1} Z_l^T||_F^2 / (m_l n_l); biases and depthwise kernels "
                    "are carried over. Writes OUTPUT/genome.safetensors, OUTPUT/input_encoding.safetensors (pass it "
                    "as --input-encoding to fit a second network on the same basis) and OUTPUT/metrics.json.")
    fit.add_argument("reference", help="reference direct genome file (e.g. from neuroevo train --encoding direct)")
    fit.add_argument("--d", type=int, help="embedding width (default 64, or the width of --input-encoding)")
    fit.add_argument("--input-encoding", help="hold the input encoding fixed to this shared one")
    fit.add_argument("--junction", choices=("free", "position", "gap"),
                     help="conv-to-dense junction of the fitted genome "
                          "(default: free for a flatten reference, gap for gap)")
    fit.add_argument("--method", choices=FIT_METHODS,
                     help="als (default for sigma=identity), adam (the paper's), als+adam (default otherwise)")
    fit.add_argument("--steps", type=int, default=2000, help="Adam steps (adam, als+adam)")
    fit.add_argument("--lr", type=float, default=0.002, help="Adam learning rate")
    add_data_arguments(fit, default=None)
    fit.add_argument("--seed", type=int, default=0, help="seeds the random start (adam) and position embeddings")
    fit.add_argument("--device", default="cpu")
    fit.add_argument("-o", "--output", required=True, help="output folder")
    fit.set_defaults(func=run_fit)
