"""REPAIR for direct genomes: renormalise the units of a crossed network on a probe batch.

Jordan et al. 2023, "REPAIR: REnormalizing Permuted Activations for Interpolation Repair": a
network interpolated between two aligned parents loses the variance of its hidden units
("variance collapse"). REPAIR measures every hidden unit's pre-activation on a probe batch and
rescales it so that its mean and standard deviation become the same mixture of the parents'
statistics as the unit itself, folding the affine correction into the unit's incoming weights
and bias (no extra layer): with ``s = sigma_target / sigma_child``, ``weight <- s * weight`` and
``bias <- s * (bias - mu_child) + mu_target``. Layers are repaired in depth order, so each layer is
measured with the earlier ones already repaired. Needs data (the probe batch); direct genomes only.

A recurrent layer is measured one step from the zero state (the probe as the first step of a
sequence, where the recurrent weights contribute nothing); its recurrent incoming weights are
scaled with its other incoming weights, so the correction is the same affine map of the unit's
whole pre-activation at every step.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import direct_pre_activation, hidden_layer_output
from neuroevo.genomes import DirectGenome, Genome
from neuroevo.neurons import NeuronSet
from operators._probe import pre_activations, unit_statistics
from operators._validation import (
    check_compatible,
    check_encoding,
    check_fraction,
    check_genome,
    check_hidden_layer,
    check_probe,
    layer_index,
)

#: Mixing weight of ``other``'s statistics, per layer: one float for every unit or one per unit.
Mix = Mapping[int, "float | Tensor"]

_TINY_STD = 1e-8


def repair(
    child: DirectGenome,
    reference: DirectGenome,
    other: DirectGenome,
    probe: Tensor,
    mix: float | Mix = 0.5,
) -> None:
    """Renormalise ``child``'s hidden units in place (REPAIR).

    Unit ``i`` of a repaired layer ``l`` gets pre-activation mean ``(1 - m) * mu_ref + m * mu_other``
    and standard deviation ``(1 - m) * sigma_ref + m * sigma_other`` on ``probe``, where ``mu_ref``,
    ``sigma_ref`` are the statistics of unit ``i`` of ``reference``'s layer ``l`` (likewise for
    ``other``) and ``m`` is ``mix[l]`` (per unit). ``other`` must already be aligned with
    ``reference`` (unit ``i`` matched with unit ``i``). A unit whose standard deviation is zero on
    the probe is only shifted. Deterministic; needs data (the probe batch).

    Args:
        child: the crossed network; its hidden layers' ``weight`` and ``bias`` are replaced.
        reference, other: the two (aligned) parents; not modified.
        probe: ``[B, *input_shape]`` or ``[B, n_inputs]`` inputs, ``B >= 2``.
        mix: a float in ``[0, 1]`` (every hidden layer, every unit: the child of an interpolation
            at ``alpha`` uses ``mix=alpha``), or ``{layer: float or [n] tensor}`` for the layers to
            repair (the others are left alone).

    Raises:
        ValueError: a non-direct or incompatible genome, NaN or Inf in any of the three (the
            message names which and the layer), an output layer in ``mix``, a mix outside
            ``[0, 1]``, or a missing or malformed probe. ``child`` is then unchanged.
    """
    for name, genome in (("child", child), ("reference", reference), ("other", other)):
        check_genome(genome, name)
        check_encoding(genome, "direct", "REPAIR")
    check_compatible(child, reference)
    check_compatible(child, other)
    probe = check_probe(child, probe, "REPAIR")
    arch = child.architecture
    if isinstance(mix, Mapping):
        weights = {}
        for layer, value in mix.items():
            index = layer_index(child, layer)
            check_hidden_layer(child, index, "REPAIR")
            weights[index] = _unit_mix(value, len(child.layers[index]), index)
    else:
        value = check_fraction("mix", mix)
        weights = {i: torch.full((len(child.layers[i]),), value) for i in arch.hidden_layers}
    child.layers[:] = _repaired_layers(arch, list(child.layers), reference, other, probe, weights)


def repaired_children(
    layers_a: list[NeuronSet],
    layers_b: list[NeuronSet],
    reference: Genome,
    other: Genome,
    probe: Tensor,
    mix_a: Mix,
) -> tuple[list[NeuronSet], list[NeuronSet]]:
    """REPAIR both children of a crossover of ``reference`` and aligned ``other`` (new lists).

    ``mix_a`` is the first child's per-layer mix (see :func:`repair`); the second child, built the
    other way round, uses ``1 - mix_a``.
    """
    arch = reference.architecture
    weights_a = {i: _unit_mix(m, len(layers_a[i]), i) for i, m in mix_a.items()}
    weights_b = {i: 1.0 - m for i, m in weights_a.items()}
    return (
        _repaired_layers(arch, layers_a, reference, other, probe, weights_a),
        _repaired_layers(arch, layers_b, reference, other, probe, weights_b),
    )


def _unit_mix(value: float | Tensor, n: int, index: int) -> Tensor:
    mix = torch.as_tensor(value, dtype=torch.float32)
    if mix.dim() == 0:
        mix = mix.expand(n)
    if mix.shape != (n,):
        raise ValueError(f"REPAIR mix for layer {index} must be a float or [{n}] tensor, got {list(mix.shape)}")
    if not bool(((mix >= 0) & (mix <= 1)).all()):
        raise ValueError(f"REPAIR mix for layer {index} must lie in [0, 1]")
    return mix


@torch.no_grad()
def _repaired_layers(
    arch: Architecture,
    layers: list[NeuronSet],
    reference: Genome,
    other: Genome,
    probe: Tensor,
    weights: dict[int, Tensor],
) -> list[NeuronSet]:
    """``layers`` with the layers in ``weights`` renormalised, in depth order (a new list)."""
    if not weights:
        return list(layers)
    stats_ref = [unit_statistics(pre) for pre in pre_activations(arch, reference.layers, probe)]
    stats_other = [unit_statistics(pre) for pre in pre_activations(arch, other.layers, probe)]
    result = list(layers)
    h = probe
    for index in range(max(weights) + 1):
        pre = direct_pre_activation(arch, result[index], index, h)
        if index in weights:
            m = weights[index].to(pre.device)
            target_mean = torch.lerp(stats_ref[index][0], stats_other[index][0], m)
            target_std = torch.lerp(stats_ref[index][1], stats_other[index][1], m)
            result[index] = _renormalised(result[index], pre, target_mean, target_std)
            pre = direct_pre_activation(arch, result[index], index, h)
        h = hidden_layer_output(arch, index, pre)
    return result


def _renormalised(layer: NeuronSet, pre: Tensor, target_mean: Tensor, target_std: Tensor) -> NeuronSet:
    """``layer`` with every unit's affine correction folded into its incoming weight rows
    (``weight``, and ``recurrent`` in a recurrent layer) and bias."""
    mean, std = unit_statistics(pre)
    scale = torch.where(std > _TINY_STD, target_std / std.clamp_min(_TINY_STD), torch.ones_like(std))
    scaled = {
        name: layer[name] * scale.reshape(-1, *([1] * (layer[name].dim() - 1)))
        for name in ("weight", "recurrent")
        if name in layer
    }
    return layer.replace(**scaled, bias=scale * (layer["bias"] - mean) + target_mean)
