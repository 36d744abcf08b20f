"""Scoring one network: a module or a decoded genome, over a whole data set in chunks.

This is the reference path (one model at a time); :mod:`~neuroevo.evaluation.batched` scores a
whole population in one pass and is tested against it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroevo.architecture import Architecture
from neuroevo.data import Dataset, as_dataset
from neuroevo.decoding import decode
from neuroevo.genomes import Genome
from neuroevo.validation import check_int


#: Samples per forward call of the reference path.
REFERENCE_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Metrics:
    """Classification quality on a data set.

    Attributes:
        accuracy: fraction of samples whose arg-max logit is the label, in ``[0, 1]``.
        cross_entropy: mean cross-entropy of the softmax of the logits, in nats per sample.
        n_samples: number of samples evaluated.
    """

    accuracy: float
    cross_entropy: float
    n_samples: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def data_tensors(data: Dataset | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """``(images [N, ...] float, labels [N] int64)`` of a :class:`Dataset` or a pair, checked.

    Raises:
        ValueError: another kind of object, wrong dtypes or shapes, or no samples.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = data
    elif hasattr(data, "images") and hasattr(data, "labels"):
        images, labels = data.images, data.labels
    else:
        raise ValueError("data must be a Dataset or a pair (images, labels)")
    if not isinstance(images, Tensor) or not images.is_floating_point() or images.dim() < 2:
        raise ValueError("images must be a floating-point tensor [N, *input_shape]")
    if not isinstance(labels, Tensor) or labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
        raise ValueError(f"labels must be an int64 tensor [{images.shape[0]}] (one per image)")
    if len(labels) == 0:
        raise ValueError("the data set has no samples")
    return images, labels


@torch.no_grad()
def evaluate_module(
    module: nn.Module, data: Dataset | tuple[Tensor, Tensor], *, batch_size: int = REFERENCE_BATCH_SIZE
) -> Metrics:
    """Evaluate ``module`` on every sample of ``data``, ``batch_size`` samples at a time.

    Batches are moved to the device of the module's parameters; the module is put in eval mode
    and its previous mode restored afterwards.

    Args:
        module: maps images ``[B, *input_shape]`` to logits ``[B, n_classes]``.
        data: a :class:`Dataset` or a pair ``(images [N, ...], labels [N])`` (any device).
        batch_size: samples per forward pass (bounds memory, not the result).

    Returns:
        Accuracy and mean cross-entropy over the whole data set.

    Raises:
        ValueError: malformed or empty data, or a non-positive batch size.
    """
    images, labels = data_tensors(data)
    check_int("batch_size", batch_size)
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    correct = 0
    total_loss = 0.0
    for first in range(0, len(labels), batch_size):
        chunk_images = images[first : first + batch_size].to(device)
        chunk_labels = labels[first : first + batch_size].to(device)
        logits = module(chunk_images)
        total_loss += float(F.cross_entropy(logits, chunk_labels, reduction="sum"))
        correct += int((logits.argmax(dim=1) == chunk_labels).sum())
    module.train(was_training)
    n = len(labels)
    return Metrics(accuracy=correct / n, cross_entropy=total_loss / n, n_samples=n)


def evaluate_genome(
    genome: Genome,
    data: Dataset | tuple[Tensor, Tensor],
    *,
    device: torch.device | str | None = None,
    batch_size: int = REFERENCE_BATCH_SIZE,
) -> Metrics:
    """Decode ``genome`` on ``device`` (CPU when ``None``) and evaluate it on ``data``: the
    one-model-at-a-time reference path.

    Raises:
        ValueError: the genome's input size or classes do not match the data (a :class:`Dataset`
            must have exactly the genome's classes, see :func:`check_genome_fits_data`), or
            malformed or empty data.
    """
    data = as_dataset(data, n_classes=genome.architecture.n_classes)
    images, labels = data_tensors(data)
    if isinstance(data, Dataset):
        check_genome_fits_data(genome.architecture, data)
    else:
        check_fits_images(genome.architecture, images, labels)
    return evaluate_module(decode(genome, device), (images, labels), batch_size=batch_size)


def check_feed_forward(architecture: Architecture) -> None:
    """Raise ``ValueError`` for a recurrent architecture: classification scores one image at a
    time, which would silently drop the recurrent weights."""
    if architecture.recurrent_layers:
        raise ValueError(
            f"architecture {architecture.spec} is recurrent: it steps through sequences, so it is scored as a "
            "controller (populations.rollouts) or by decoding it and running sequences, not on images"
        )


def check_fits_images(architecture: Architecture, images: Tensor, labels: Tensor) -> None:
    """Raise ``ValueError`` unless networks of ``architecture`` are feed-forward, take
    ``images [N, ...]`` (as many values per sample as inputs) and every label is one of their classes."""
    check_feed_forward(architecture)
    if images[0].numel() != architecture.n_inputs_flat:
        raise ValueError(
            f"images of shape {tuple(images.shape[1:])} do not fit architecture {architecture.spec} "
            f"({architecture.n_inputs_flat} inputs)"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= architecture.n_classes:
        raise ValueError(f"labels range over {low}..{high} but {architecture.spec} has only {architecture.n_classes} classes")


def check_genome_fits_data(architecture: Architecture, dataset: Dataset) -> None:
    """Raise ``ValueError`` unless networks of ``architecture`` can classify ``dataset``.

    A dense-first network needs as many inputs as the images have values; a conv network needs
    the images' exact ``(C, H, W)``; the number of output neurons must equal the number of classes;
    recurrent networks are refused (:func:`check_feed_forward`).
    """
    check_feed_forward(architecture)
    data_shape = dataset.input_shape
    if architecture.n_conv:
        if tuple(architecture.input_shape) != tuple(data_shape):
            raise ValueError(
                f"architecture {architecture.spec} expects images of shape {architecture.input_shape}, "
                f"data set {dataset.name} ({dataset.split}) has {data_shape}"
            )
    elif architecture.n_inputs_flat != math.prod(data_shape):
        raise ValueError(
            f"architecture {architecture.spec} has {architecture.n_inputs_flat} inputs, data set "
            f"{dataset.name} ({dataset.split}) has images of shape {data_shape} ({math.prod(data_shape)} values)"
        )
    if architecture.n_classes != dataset.n_classes:
        raise ValueError(
            f"architecture {architecture.spec} has {architecture.n_classes} output neurons, data set "
            f"{dataset.name} has {dataset.n_classes} classes"
        )
