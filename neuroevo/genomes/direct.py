"""The direct genome: ordinary weight matrices, the baseline every experiment compares against."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from neuroevo.architecture import Architecture
from neuroevo.genomes.base import Genome
from neuroevo.neurons import NeuronSet


class DirectGenome(Genome):
    """A network stored as weight matrices, with neurons as rows.

    Each neuron's record is its *incoming* weights and bias, so the operators that move neuron
    records work on both encodings alike:

    * dense layer: ``weight [fan_in]``, ``bias []``, where ``fan_in`` is the previous width, the
      number of input pixels, or at the conv-to-dense junction ``c_last * P`` (flatten, channel
      major as ``torch.flatten``) or ``c_last`` (``"gap"`` junction);
    * separable conv layer: ``weight [c_prev]`` (1x1 pointwise), ``kernels [k, k]`` (its own
      depthwise kernel), ``bias []``;
    * standard conv layer: ``weight [c_prev, k, k]``, ``bias []``.

    A neuron's *outgoing* weights are columns of the next layer's records, which is why permuting
    a hidden layer also permutes those columns (:meth:`permute_layer`).
    """

    encoding = "direct"

    def __init__(self, architecture: Architecture, layers: Sequence[NeuronSet]) -> None:
        super().__init__(architecture, layers)
        self.validate()

    @classmethod
    def random(cls, architecture: Architecture, *, generator: torch.Generator | None = None) -> "DirectGenome":
        """PyTorch's default initialisation (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as ``nn.Linear``
        and ``nn.Conv2d``) for every weight, kernel and bias."""
        layers = []
        for index, width in enumerate(architecture.widths):
            shapes = direct_record_shapes(architecture, index, architecture.widths)
            fields = {
                name: (torch.rand(width, *shape, generator=generator) * 2 - 1) / math.sqrt(math.prod(shape))
                for name, shape in shapes.items()
                if name != "bias"
            }
            fan_in = math.prod(shapes["weight"])
            fields["bias"] = (torch.rand(width, generator=generator) * 2 - 1) / math.sqrt(fan_in)
            layers.append(NeuronSet(**fields))
        return cls(architecture, layers)

    def expected_fields(self, index: int) -> dict[str, tuple[int, ...]]:
        return direct_record_shapes(self.architecture, index, self.widths)

    def _validate_layer(self, index: int, layer: NeuronSet) -> None:
        self._check_fields(index, layer)

    def _permute_successor_inputs(self, index: int, permutation: Tensor) -> None:
        successor = self.layers[index + 1]
        self.layers[index + 1] = successor.replace(
            weight=permute_incoming_columns(self.architecture, index + 1, successor["weight"], permutation)
        )

    def parameter_counts(self) -> dict[str, int]:
        """``weights`` (incl. pointwise), ``kernels`` (depthwise), ``biases``."""
        counts = {"weights": 0, "kernels": 0, "biases": 0}
        for layer in self.layers:
            counts["weights"] += layer["weight"].numel()
            counts["biases"] += layer["bias"].numel()
            counts["kernels"] += layer["kernels"].numel() if "kernels" in layer else 0
        return counts


def direct_record_shapes(
    architecture: Architecture, index: int, widths: Sequence[int]
) -> dict[str, tuple[int, ...]]:
    """Per-neuron field shapes of layer ``index`` of a direct genome whose layers have ``widths``."""
    arch = architecture
    k = arch.kernel_size
    if arch.is_conv(index):
        c_prev = arch.input_shape[0] if index == 0 else widths[index - 1]
        if arch.conv_style == "standard":
            return {"weight": (c_prev, k, k), "bias": ()}
        return {"weight": (c_prev,), "kernels": (k, k), "bias": ()}
    if index == 0:
        fan_in = arch.n_inputs_flat
    elif index == arch.n_conv:
        c_last = widths[index - 1]
        fan_in = c_last if arch.junction == "gap" else c_last * arch.n_positions
    else:
        fan_in = widths[index - 1]
    return {"weight": (fan_in,), "bias": ()}


def permute_incoming_columns(
    architecture: Architecture, index: int, weight: Tensor, permutation: Tensor
) -> Tensor:
    """Reorder the columns of layer ``index``'s incoming weights to follow a permutation of layer
    ``index - 1``'s neurons (a new tensor).

    ``weight`` may carry extra leading dimensions (e.g. a population axis); the neuron axis is the
    one before the record dimensions.
    """
    arch = architecture
    record_dims = 3 if arch.is_conv(index) and arch.conv_style == "standard" else 1
    column_axis = weight.dim() - record_dims
    if index == arch.n_conv and arch.n_conv and arch.junction != "gap":
        positions = arch.n_positions
        blocks = weight.unflatten(column_axis, (-1, positions))
        return blocks.index_select(column_axis, permutation).flatten(column_axis, column_axis + 1)
    return weight.index_select(column_axis, permutation)
