"""``neuroevo init`` and ``neuroevo info``: create and inspect genome files."""

from __future__ import annotations

import argparse

import torch

from neuroevo.architecture import JUNCTIONS, SIGMAS, Architecture
from neuroevo.files import load_genome, load_input_encoding, save_genome
from neuroevo.genomes import EMBEDDING_INITS, DirectGenome, EmbeddingGenome, Genome


def add_architecture_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The flags that describe an architecture (shared by every command that builds genomes);
    ``required=False`` for commands that can also take genomes from files."""
    parser.add_argument("--arch", required=required, help='layer spec, e.g. "784-400-10" or "1x28x28-20c-40c-100-10"')
    parser.add_argument("--encoding", choices=("embedding", "direct", "direct-separable"), default="embedding",
                        help="embedding genome, direct genome (standard conv), or direct with separable conv")
    parser.add_argument("--d", type=int, default=64, help="embedding width (embedding genomes)")
    parser.add_argument("--init", choices=EMBEDDING_INITS, default="fan-in",
                        help="embedding genomes: fan-in (default) = rescaled so generated weights have He/LeCun "
                             "variance (better than normal at both depths in docs/RESULTS.md); normal = the "
                             "paper's z ~ N(0, 1/d)")
    parser.add_argument("--sigma", choices=SIGMAS, default="identity", help="weight generation W = sigma(Z Z^T)")
    parser.add_argument("--junction", choices=JUNCTIONS, default="position", help="conv-to-dense junction")
    parser.add_argument("--kernel-size", type=int, default=3, help="conv kernel side k")
    parser.add_argument("--pool", type=int, default=2, help="max-pool window after each conv layer")


def architecture_from_args(args: argparse.Namespace, input_shape: tuple[int, ...] | None = None) -> Architecture:
    """The :class:`~neuroevo.architecture.Architecture` of ``--arch`` and its options (``--sigma``,
    ``--junction``, ...), for inputs of ``input_shape`` when the spec has no input token.

    Raises:
        ValueError: a malformed spec or option.
    """
    return Architecture.parse(
        args.arch,
        input_shape,
        sigma=args.sigma,
        junction=args.junction,
        kernel_size=args.kernel_size,
        pool=args.pool,
        conv_style="separable" if args.encoding != "direct" else "standard",
    )


def random_genome(args: argparse.Namespace, architecture: Architecture, generator: torch.Generator) -> Genome:
    """A random genome of the encoding named by ``args.encoding`` (and ``--input-encoding`` if set)."""
    if args.encoding == "embedding":
        encoding = load_input_encoding(args.input_encoding) if getattr(args, "input_encoding", None) else None
        return EmbeddingGenome.random(architecture, args.d, input_encoding=encoding, init=args.init, generator=generator)
    return DirectGenome.random(architecture, generator=generator)


def describe(genome: Genome) -> str:
    """A few human-readable lines about a genome."""
    lines = [
        f"encoding:      {genome.encoding}",
        f"architecture:  {genome.architecture}",
        f"widths:        {'-'.join(str(w) for w in genome.widths)}",
    ]
    if isinstance(genome, EmbeddingGenome):
        lines.append(f"input encoding: {genome.input_encoding}")
    counts = ", ".join(f"{k}={v:,}" for k, v in genome.parameter_counts().items() if v)
    lines.append(f"parameters:    {genome.n_parameters:,} ({counts})")
    lines.append(f"content hash:  {genome.content_hash[:16]}")
    return "\n".join(lines)


def run_init(args: argparse.Namespace) -> int:
    """``neuroevo init``: write a randomly initialised genome file; returns the exit status."""
    architecture = architecture_from_args(args)
    genome = random_genome(args, architecture, torch.Generator().manual_seed(args.seed))
    save_genome(genome, args.output)
    print(describe(genome))
    print(f"written to {args.output}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    """``neuroevo info``: describe each genome file (architecture, widths, parameter counts)."""
    for path in args.files:
        print(f"{path}:")
        print(describe(load_genome(path)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``init`` and ``info`` commands to ``subparsers``."""
    init = subparsers.add_parser("init", help="write a randomly initialised genome file",
                                 description="Write a randomly initialised genome file.")
    add_architecture_arguments(init)
    init.add_argument("--input-encoding", help="build on this shared input encoding file")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("-o", "--output", required=True, help="genome file to write (.safetensors)")
    init.set_defaults(func=run_init)

    info = subparsers.add_parser("info", help="describe genome files", description="Describe genome files.")
    info.add_argument("files", nargs="+", help="genome files")
    info.set_defaults(func=run_info)
