"""Mutation: Gaussian noise on neuron records, and structural mutation of embedding genomes."""

from __future__ import annotations

import math
import random
from typing import Iterable, Sequence

import torch

from neuroevo.genomes import Genome, random_embedding_records
from neuroevo.neurons import NeuronSet
from operators._validation import check_encoding, check_fraction, check_genome, check_hidden_layer, layer_index
from operators.randomness import RandomSource, python_rng, torch_generator


def mut_gaussian(
    individual: Genome,
    mu: float = 0.0,
    sigma: float = 0.01,
    indpb: float = 0.1,
    *,
    fields: Iterable[str] | None = None,
    rng: random.Random | None = None,
) -> tuple[Genome]:
    """Gaussian mutation of neuron records, like DEAP's ``mutGaussian``: each gene (every scalar
    of the selected record fields of every layer) independently, with probability ``indpb``,
    gets ``N(mu, sigma^2)`` added.

    Embedding genomes' fields are ``embeddings``, ``bias``, ``kernels``, ``features`` (free
    junction embeddings) and ``recurrent`` (recurrent keys); direct genomes' are ``weight``,
    ``bias``, ``kernels`` and ``recurrent`` (recurrent weights). The input encoding is never
    mutated.

    The individual is modified in place (mutated layers are replaced by new neuron sets);
    ``fitness`` is not touched.

    Args:
        individual: an embedding or direct genome.
        mu: mean of the added noise.
        sigma: standard deviation of the added noise (``>= 0``).
        indpb: probability of mutating each gene, in ``[0, 1]``.
        fields: record fields to mutate (default: all of them).
        rng: source of randomness (seeds the torch generator drawing masks and noise); Python's
            :mod:`random` when ``None``.

    Returns:
        A tuple of one individual.

    Raises:
        ValueError: NaN or Inf in the individual (or an otherwise invalid one; the message names
            the layer), ``sigma < 0``, ``mu`` or ``sigma`` not finite, ``indpb`` outside
            ``[0, 1]`` or an unknown field name (the individual is then unchanged).
    """
    check_genome(individual, "individual")
    indpb = check_fraction("indpb", indpb)
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"mu must be finite and sigma finite and >= 0, got mu={mu}, sigma={sigma}")
    available = sorted({name for layer in individual.layers for name in layer.names})
    selected = set(available if fields is None else fields)
    unknown = selected - set(available)
    if unknown:
        raise ValueError(f"unknown record fields {sorted(unknown)}; this genome has {available}")
    generator = torch_generator(rng)
    new_layers = []
    for layer in individual.layers:
        mutated = {}
        for name, values in layer.items():
            if name in selected:
                mask = torch.rand(values.shape, generator=generator) < indpb
                noise = torch.randn(values.shape, generator=generator) * sigma + mu
                mutated[name] = torch.where(mask.to(values.device), values + noise.to(values), values)
        new_layers.append(layer.replace(**mutated))
    individual.layers[:] = new_layers
    return (individual,)


def mut_add_neuron(individual: Genome, layer: int | None = None, *, rng: random.Random | None = None) -> tuple[Genome]:
    """Structural mutation: add one neuron with a fresh random record to a hidden layer of an
    embedding genome, drawn at the layer's own scale. Its incoming and outgoing weights (in a
    recurrent layer, its recurrent ones too: ``sigma(r_i . z_new)`` and ``sigma(r_new . z_j)``)
    are generated from its record, so the layer simply grows.

    Every record field but the bias (embedding, kernel, free junction features, recurrent key) is
    drawn ``N(0, s^2)`` per component, where ``s`` is the root mean square of that field over the
    layer's existing neurons: the new neuron's expected squared norm is the layer's mean squared
    norm, whatever the initialisation or training did to the layer's scale. The bias is 0. A
    field that is zero throughout the layer falls back to the initial rule of
    :func:`neuroevo.genomes.random_embedding_records` (``z ~ N(0, 1/d)``, kernels
    ``U(-1/k, 1/k)``, recurrent keys at the ``1 / n`` recurrent weight scale).

    The individual is modified in place; ``fitness`` is not touched.

    Args:
        individual: an embedding genome.
        layer: the hidden layer to grow, or ``None`` for one chosen uniformly at random.
        rng: source of randomness (the layer and the new record); Python's :mod:`random` when
            ``None``.

    Returns:
        A tuple of one individual.

    Raises:
        ValueError: a direct genome (its widths are fixed by its neighbours' weight shapes), the
            output layer (keyed by class), ``layer`` out of range, or NaN or Inf in the
            individual (the message names the layer). The individual is then unchanged.
    """
    check_genome(individual, "individual")
    check_encoding(individual, "embedding", "structural mutation")
    rng = python_rng(rng)
    index = _chosen_layer(individual, layer, rng, individual.architecture.hidden_layers)
    if index is None:
        raise ValueError(f"architecture {individual.architecture.spec} has no hidden layer to grow")
    grown = individual.layers[index]
    generator = torch_generator(rng)
    fallback = random_embedding_records(individual.architecture, index, 1, individual.d, generator=generator)
    scaled = {}
    for name, values in grown.items():
        scale = 0.0 if name == "bias" else values.detach().double().square().mean().sqrt().item()
        if scale > 0:
            scaled[name] = torch.randn(fallback[name].shape, generator=generator) * scale
    record = fallback.replace(**scaled)
    individual.layers[index] = NeuronSet.concat([grown, record.to(grown["bias"].device)])
    return (individual,)


def mut_remove_neuron(
    individual: Genome, layer: int | None = None, *, rng: random.Random | None = None
) -> tuple[Genome]:
    """Structural mutation: remove one random neuron from a hidden layer of an embedding genome
    (with its record, so in a recurrent layer its recurrent weights go with it).

    The last neuron of a layer is never removed: with ``layer=None`` the layer is chosen uniformly
    among hidden layers with at least two neurons, and when there are none (or the given layer
    has one neuron) the individual is left unchanged.

    The individual is modified in place; ``fitness`` is not touched.

    Args:
        individual: an embedding genome.
        layer: the hidden layer to shrink, or ``None`` for one chosen at random.
        rng: source of randomness (the layer and the neuron); Python's :mod:`random` when ``None``.

    Returns:
        A tuple of one individual.

    Raises:
        ValueError: a direct genome, the output layer, ``layer`` out of range, or NaN or Inf in
            the individual (the message names the layer). The individual is then unchanged.
    """
    check_genome(individual, "individual")
    check_encoding(individual, "embedding", "structural mutation")
    rng = python_rng(rng)
    shrinkable = [i for i in individual.architecture.hidden_layers if len(individual.layers[i]) > 1]
    index = _chosen_layer(individual, layer, rng, shrinkable)
    if index is None or len(individual.layers[index]) < 2:
        return (individual,)
    n = len(individual.layers[index])
    removed = rng.randrange(n)
    individual.layers[index] = individual.layers[index].select([i for i in range(n) if i != removed])
    return (individual,)


def _chosen_layer(
    individual: Genome, layer: int | None, rng: RandomSource, candidates: Sequence[int]
) -> int | None:
    """The validated hidden layer ``layer``, or when ``None`` one of ``candidates`` chosen uniformly
    (``None`` when there are no candidates)."""
    if layer is not None:
        index = layer_index(individual, layer)
        check_hidden_layer(individual, index, "structural mutation")
        return index
    return rng.choice(list(candidates)) if candidates else None
