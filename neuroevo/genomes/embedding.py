"""The neuron-embedding genome: weights are generated, never stored."""

from __future__ import annotations

from typing import Sequence

import torch

from neuroevo.architecture import Architecture
from neuroevo.embedding_maths import junction_embeddings
from neuroevo.encoding import InputEncoding
from neuroevo.genomes.base import Genome
from neuroevo.neurons import NeuronSet


class EmbeddingGenome(Genome):
    """A network as unordered sets of self-contained neuron records.

    Layer ``l`` holds, per neuron: ``embeddings [d]``, ``bias []``, and for conv layers
    ``kernels [k, k]`` (its own depthwise kernel); with the ``"free"`` junction the last conv
    layer's neurons also carry ``features [P, d]``, one free embedding per spatial position; in a
    recurrent layer every neuron also carries its *recurrent key* ``recurrent [d]``.
    Weights between consecutive layers are generated as ``W = sigma(Z_prev Z_next^T)``, where the
    first ``Z_prev`` is the shared :class:`~neuroevo.encoding.InputEncoding`; a recurrent layer's
    weights from its neuron ``i`` at step ``t - 1`` to its neuron ``j`` at step ``t`` are
    ``W_rec[i, j] = sigma(r_i . z_j)`` (not symmetric), so a neuron moved into another network
    brings its recurrent incoming and outgoing weights along, as it does its feed-forward ones.

    Args:
        architecture: the layer stack (``architecture.conv_style`` is ignored: always separable).
        input_encoding: the shared basis (``[n_input_neurons, d]`` plus positions when the
            architecture's junction is ``"position"``).
        layers: one :class:`~neuroevo.neurons.NeuronSet` per genome layer.

    Raises:
        ValueError: any inconsistency (see :meth:`validate`).
    """

    encoding = "embedding"

    def __init__(
        self, architecture: Architecture, input_encoding: InputEncoding, layers: Sequence[NeuronSet]
    ) -> None:
        super().__init__(architecture, layers)
        self.input_encoding = input_encoding
        self.validate()

    @property
    def d(self) -> int:
        """Embedding width."""
        return self.input_encoding.d

    @classmethod
    def random(
        cls,
        architecture: Architecture,
        d: int = 64,
        *,
        input_encoding: InputEncoding | None = None,
        init: str = "normal",
        generator: torch.Generator | None = None,
    ) -> "EmbeddingGenome":
        """A randomly initialised genome: ``z ~ N(0, 1/d)``, zero biases, kernels ``U(-1/k, 1/k)``,
        recurrent keys at the scale that gives recurrent weights of variance ``1 / n``
        (:func:`random_embedding_records`).

        Args:
            architecture: the layer stack.
            d: embedding width (ignored when ``input_encoding`` is given: its width is used).
            input_encoding: a shared basis to build on; a fresh random one when ``None``.
            init: ``"normal"`` (the paper's ``z ~ N(0, 1/d)`` everywhere: every generated weight
                has variance about ``1/d`` whatever the layer's fan-in) or ``"fan-in"`` (then each
                layer's embeddings are rescaled, in depth order, so that its generated weights
                ``Z_prev Z^T`` have variance ``2 / fan_in`` for hidden layers and ``1 / fan_in``
                for the output layer, as He / LeCun initialisation would give a direct network).
            generator: source of randomness (``torch``'s global generator when ``None``).
        """
        if init not in EMBEDDING_INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(EMBEDDING_INITS)}")
        if input_encoding is None:
            positions = architecture.n_positions if architecture.uses_position_embeddings else 0
            input_encoding = InputEncoding.random(
                architecture.n_input_neurons, d, positions, generator=generator
            )
        d = input_encoding.d
        layers = [
            random_embedding_records(architecture, index, width, d, generator=generator)
            for index, width in enumerate(architecture.widths)
        ]
        if init == "fan-in":
            layers = scaled_to_fan_in(architecture, input_encoding, layers)
        return cls(architecture, input_encoding, layers)

    def expected_fields(self, index: int) -> dict[str, tuple[int, ...]]:
        return embedding_record_shapes(self.architecture, index, self.d)

    def _validate_layer(self, index: int, layer: NeuronSet) -> None:
        if index == 0:
            arch, enc = self.architecture, self.input_encoding
            if enc.n_inputs != arch.n_input_neurons:
                raise ValueError(
                    f"input encoding has {enc.n_inputs} rows but architecture {arch.spec} has "
                    f"{arch.n_input_neurons} input neurons"
                )
            wanted_positions = arch.n_positions if arch.uses_position_embeddings else 0
            if enc.n_positions != wanted_positions:
                raise ValueError(
                    f"input encoding has {enc.n_positions} position embeddings, the "
                    f"{arch.junction!r} junction of {arch.spec} needs {wanted_positions}"
                )
        if "embeddings" in layer.names and layer.record_shapes["embeddings"] != (self.d,):
            raise ValueError(
                f"layer {index} has embedding width {layer.record_shapes['embeddings']}, the input "
                f"encoding has d={self.d} (mismatched embedding widths)"
            )
        self._check_fields(index, layer)

    def _identity_parts(self) -> list[bytes]:
        return super()._identity_parts() + [self.input_encoding.identity.encode()]

    def parameter_counts(self) -> dict[str, int]:
        """``input_encoding`` (inputs and positions), ``embeddings`` (layers), ``biases``,
        ``kernels``, ``features`` (free junction embeddings), and ``recurrent`` (recurrent keys)
        when the architecture has recurrent layers."""
        counts = {"input_encoding": self.input_encoding.n_parameters, "embeddings": 0, "biases": 0,
                  "kernels": 0, "features": 0}
        if self.architecture.recurrent_layers:
            counts["recurrent"] = 0
        for layer in self.layers:
            counts["embeddings"] += layer["embeddings"].numel()
            counts["biases"] += layer["bias"].numel()
            for name in ("kernels", "features", "recurrent"):
                if name in layer:
                    counts[name] += layer[name].numel()
        return counts


#: Initialisations of :meth:`EmbeddingGenome.random`.
EMBEDDING_INITS = ("normal", "fan-in")


def scaled_to_fan_in(
    architecture: Architecture, input_encoding: InputEncoding, layers: Sequence[NeuronSet]
) -> list[NeuronSet]:
    """``layers`` with each layer's embeddings rescaled so that ``Var(Z_prev Z^T) = g / fan_in``.

    ``g = 2`` for hidden layers (ReLU gain), 1 for the output layer; ``fan_in`` is the number of
    rows of ``Z_prev`` (input neurons, the previous layer, or the junction's features). Layers are
    processed in depth order, each against the already rescaled previous one (new neuron sets).
    A recurrent layer's keys are divided by the same factor, so its recurrent weights
    ``sigma(R Z^T)`` stay as they were.
    """
    result: list[NeuronSet] = []
    z_prev = input_encoding.inputs
    for index, layer in enumerate(layers):
        if index == architecture.n_conv and architecture.n_conv:
            last = result[-1]
            z_prev = junction_embeddings(last["embeddings"], architecture, input_encoding.positions, last.get("features"))
        gain = 1.0 if architecture.is_output(index) else 2.0
        variance = float((z_prev @ layer["embeddings"].T).var())
        scale = (gain / z_prev.shape[0] / variance) ** 0.5 if variance > 0 else 1.0
        rescaled = {"embeddings": layer["embeddings"] * scale}
        if "recurrent" in layer:
            rescaled["recurrent"] = layer["recurrent"] / scale
        result.append(layer.replace(**rescaled))
        z_prev = result[-1]["embeddings"]
    return result


def embedding_record_shapes(architecture: Architecture, index: int, d: int) -> dict[str, tuple[int, ...]]:
    """Per-neuron field shapes of layer ``index`` of an embedding genome."""
    shapes: dict[str, tuple[int, ...]] = {"embeddings": (d,), "bias": ()}
    if architecture.is_recurrent(index):
        shapes["recurrent"] = (d,)
    if architecture.is_conv(index):
        k = architecture.kernel_size
        shapes["kernels"] = (k, k)
        if index == architecture.n_conv - 1 and architecture.junction == "free":
            shapes["features"] = (architecture.n_positions, d)
    return shapes


def random_embedding_records(
    architecture: Architecture, index: int, n: int, d: int, *, generator: torch.Generator | None = None
) -> NeuronSet:
    """``n`` fresh neuron records for layer ``index``: ``z ~ N(0, 1/d)``, bias 0, kernels ``U(-1/k, 1/k)``.

    A recurrent layer's keys are ``r ~ N(0, s^2)`` with ``s^2 = 1 / (n * mean_j |z_j|^2)``, so the
    generated recurrent weights ``r_i . z_j`` have expected mean square ``1 / n`` (about ``1 / n``
    before ``sigma``): the ``1 / sqrt(n)`` scale of PyTorch's recurrent layers, whatever ``d``.
    """
    fields = {}
    for name, shape in embedding_record_shapes(architecture, index, d).items():
        if name == "bias":
            fields[name] = torch.zeros(n)
        elif name == "kernels":
            k = architecture.kernel_size
            fields[name] = (torch.rand(n, *shape, generator=generator) * 2 - 1) / k
        else:
            fields[name] = torch.randn(n, *shape, generator=generator) / d**0.5
    if "recurrent" in fields:
        mean_square_norm = float(fields["embeddings"].square().sum(dim=1).mean())
        fields["recurrent"] = fields["recurrent"] * (d / max(n * mean_square_norm, 1e-12)) ** 0.5
    return NeuronSet(**fields)
