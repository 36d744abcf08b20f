"""Builds the package's built-in data set ``mnist-small`` from a folder of MNIST IDX files.

    python benchmarks/build_mnist_small.py SOURCE [--train N] [--test N] [--seed S] [--output FOLDER]

SOURCE holds one train and one test split of MNIST as IDX files (raw or gzip; any names that
:func:`neuroevo.data.find_idx_files` accepts). Each split is cut to a stratified random subset of
the requested size (class proportions kept, :func:`neuroevo.data.stratified_indices`; samples keep
their source order), or kept whole when no size is given, and written as gzip IDX files with fixed
headers (the same input always gives the same bytes) into ``neuroevo/data/builtin/mnist-small``.

The shipped files were built from MNIST's official 10,000-image test split and a 5,000-image
subset of its training split (500 per class) with the defaults: both splits whole. The command
prints each file's MD5 and the class counts, as recorded in the folder's README.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import torch

from neuroevo.data import read_idx_split, stratified_indices, write_idx

OUTPUT = Path(__file__).resolve().parents[1] / "neuroevo" / "data" / "builtin" / "mnist-small"
FILE_PREFIX = {"train": "train", "test": "t10k"}


def build(source: Path, output: Path, sizes: dict[str, int | None], seed: int = 0) -> dict[str, dict]:
    """Writes the stratified subsets of ``source``'s splits into ``output``.

    Args:
        source: Folder of IDX files with a train and a test split.
        output: Folder to write (created if needed).
        sizes: ``{"train": n or None, "test": n or None}``: samples kept per split (``None``: all).
        seed: Seed of the random choice of samples.

    Returns:
        Per split: ``n``, ``per_class`` (counts of labels 0..max) and ``md5`` of each written file.

    Raises:
        ValueError: A size larger than its split or below 1.
    """
    output.mkdir(parents=True, exist_ok=True)
    summary = {}
    for split, size in sizes.items():
        images, labels = read_idx_split(source, split)
        if size is not None:
            if not 1 <= size <= len(labels):
                raise ValueError(f"--{split} {size}: the {split} split of {source} has {len(labels)} samples")
            generator = torch.Generator().manual_seed(seed)
            keep = np.sort(stratified_indices(torch.from_numpy(labels), size, generator).numpy())
            images, labels = images[keep], labels[keep]
        files = {
            "images": write_idx(output / f"{FILE_PREFIX[split]}-images-idx3-ubyte.gz", images),
            "labels": write_idx(output / f"{FILE_PREFIX[split]}-labels-idx1-ubyte.gz", labels.astype(np.uint8)),
        }
        summary[split] = {
            "n": len(labels),
            "per_class": np.bincount(labels).tolist(),
            "md5": {path.name: hashlib.md5(path.read_bytes()).hexdigest() for path in files.values()},
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder of MNIST IDX files (a train and a test split)")
    parser.add_argument("--train", type=int, default=None, help="training images kept (default: all)")
    parser.add_argument("--test", type=int, default=None, help="test images kept (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stratified choice")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="folder written (default: the package's)")
    args = parser.parse_args()
    summary = build(args.source, args.output, {"train": args.train, "test": args.test}, seed=args.seed)
    for split, facts in summary.items():
        print(f"{split}: {facts['n']} samples, per class {facts['per_class']}")
        for name, digest in facts["md5"].items():
            print(f"  {digest}  {name}")


if __name__ == "__main__":
    main()
