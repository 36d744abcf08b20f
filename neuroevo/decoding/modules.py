"""Genomes decoded into trainable ``torch.nn.Module`` s, and exported back."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import (
    direct_pre_activation,
    embedding_layer_outputs,
    hidden_layer_output,
    prepare_input,
)
from neuroevo.decoding.equivalent import materialised_layers
from neuroevo.decoding.recurrent import State, recurrent_step, run_sequence, zero_state
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet


class _NeuronSetParameters(nn.Module):
    """The packed fields of one layer as trainable parameters (one ``Parameter`` per field)."""

    def __init__(self, neurons: NeuronSet) -> None:
        super().__init__()
        self.fields = nn.ParameterDict(
            {name: nn.Parameter(t.detach().clone().float()) for name, t in neurons.items()}
        )

    def __getitem__(self, name: str) -> Tensor:
        return self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def to_neuron_set(self) -> NeuronSet:
        return NeuronSet(**{n: p.detach().to("cpu").clone() for n, p in self.fields.items()})


class GenomeNetwork(nn.Module):
    """Common part of decoded networks: per-layer parameters, the export back to a genome and the
    step interface.

    Input: ``(B, *input_shape)`` (a dense network also accepts ``(B, n_inputs)``).
    Output: ``(B, n_classes)`` logits.

    Every decoded network can also be run one step at a time (control policies): ``state =
    net.initial_state(B)``, then ``outputs, state = net.step(x, state)``. A feed-forward network's
    state is ``()`` and its step is ``forward``; recurrent networks (:class:`RecurrentNetwork`)
    carry their recurrent layers' outputs from step to step.
    """

    def __init__(self, genome: Genome) -> None:
        super().__init__()
        self.architecture: Architecture = genome.architecture
        self.layers = nn.ModuleList(_NeuronSetParameters(layer) for layer in genome.layers)

    def neuron_sets(self) -> list[NeuronSet]:
        """Current parameters as CPU neuron sets (copies)."""
        return [layer.to_neuron_set() for layer in self.layers]

    @property
    def widths(self) -> tuple[int, ...]:
        """Number of neurons of every layer."""
        return tuple(len(layer["bias"]) for layer in self.layers)

    def initial_state(self, batch: int) -> State:
        """The state before the first step: zeros ``[batch, n_l]`` per recurrent layer, on the
        module's device (``()`` for a feed-forward network)."""
        return zero_state(self.architecture, self.widths, batch, self.layers[-1]["bias"])

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step.

        Args:
            x: ``[B, *input_shape]`` or ``[B, n_inputs]`` inputs.
            state: what :meth:`initial_state` or the previous step returned.

        Returns:
            ``(outputs [B, n_classes], new state)``.
        """
        return self(x), tuple(state)

    def direct_layers(self) -> tuple[Architecture, list[Mapping[str, Tensor]]]:
        """The network in direct form: the architecture its records follow and every layer's
        ``weight``, ``bias`` (``kernels``, ``recurrent``) as differentiable functions of the
        parameters."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        widths = "-".join(str(len(layer["bias"])) for layer in self.layers)
        return f"{self.architecture}, widths={widths}"


class EmbeddingNetwork(GenomeNetwork):
    """An :class:`~neuroevo.genomes.EmbeddingGenome` as a module.

    Parameters are the genome's embeddings, biases, kernels (free junction features, recurrent keys); the
    input encoding is a parameter too, frozen unless ``train_input_encoding`` (training from
    scratch learns it; fitting onto a shared basis keeps it fixed).

    Args:
        genome: the genome to decode (copied; the genome is not modified by training).
        train_input_encoding: whether the input encoding receives gradients.
    """

    def __init__(self, genome: EmbeddingGenome, *, train_input_encoding: bool = False) -> None:
        super().__init__(genome)
        encoding = genome.input_encoding
        self._source_encoding = encoding
        self.input_embeddings = nn.Parameter(encoding.inputs.clone(), requires_grad=train_input_encoding)
        if encoding.positions is not None:
            self.position_embeddings = nn.Parameter(
                encoding.positions.clone(), requires_grad=train_input_encoding
            )
        else:
            self.register_parameter("position_embeddings", None)

    def direct_layers(self) -> tuple[Architecture, list[Mapping[str, Tensor]]]:
        """Generated weights (:func:`~neuroevo.decoding.equivalent.materialised_layers`); conv
        layers are separable."""
        arch = self.architecture
        layers = materialised_layers(arch, self.input_embeddings, self.position_embeddings, self.layers)
        return (arch.with_options(conv_style="separable") if arch.n_conv else arch), layers

    def forward(self, x: Tensor) -> Tensor:
        for _, h, _ in embedding_layer_outputs(self.architecture, self.layers, self.input_embeddings,
                                               self.position_embeddings, x):
            pass
        return h

    def input_encoding(self) -> InputEncoding:
        """The current input encoding (the source object itself when unchanged)."""
        source = self._source_encoding
        positions = self.position_embeddings
        unchanged = torch.equal(self.input_embeddings.detach().cpu(), source.inputs) and (
            positions is None or torch.equal(positions.detach().cpu(), source.positions)
        )
        if unchanged:
            return source
        return InputEncoding(
            self.input_embeddings.detach().cpu(), None if positions is None else positions.detach().cpu()
        )

    def to_genome(self) -> EmbeddingGenome:
        """Export the current parameters as a new genome (CPU tensors, no shared storage)."""
        return EmbeddingGenome(self.architecture, self.input_encoding(), self.neuron_sets())


class DirectNetwork(GenomeNetwork):
    """A :class:`~neuroevo.genomes.DirectGenome` as a module (weights are parameters)."""

    def direct_layers(self) -> tuple[Architecture, list[Mapping[str, Tensor]]]:
        """The parameters themselves."""
        return self.architecture, list(self.layers)

    def forward(self, x: Tensor) -> Tensor:
        arch = self.architecture
        h = prepare_input(x, arch)
        for index, layer in enumerate(self.layers):
            h = direct_pre_activation(arch, layer, index, h)
            if index < arch.n_layers - 1:
                h = hidden_layer_output(arch, index, h)
        return h

    def to_genome(self) -> DirectGenome:
        """Export the current parameters as a new genome (CPU tensors, no shared storage)."""
        return DirectGenome(self.architecture, self.neuron_sets())


class RecurrentNetwork(GenomeNetwork):
    """The step interface and sequence forward pass of networks with recurrent layers.

    A recurrent hidden layer computes ``h_t = act(x_t W + h_{t-1} R + b)``, ``h_{-1} = 0``
    (:mod:`neuroevo.decoding.recurrent`); the state is one ``[B, n_l]`` tensor per recurrent
    layer. Weights are put in direct form once per :meth:`forward` call and once per :meth:`step`.

    Input: ``(B, T, *input_shape)`` (a dense network also accepts ``(B, T, n_inputs)``), a batch
    of sequences starting from the zero state.
    Output: ``(B, T, n_classes)``, the outputs at every step.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 3:
            raise ValueError(
                f"a recurrent network takes sequences [B, T, ...], got shape {list(x.shape)}; "
                "use step() for one time step"
            )
        architecture, layers = self.direct_layers()
        return run_sequence(architecture, layers, x, self.initial_state(x.shape[0]))[0]

    def step(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        """One time step (see :meth:`GenomeNetwork.step`).

        Raises:
            ValueError: a state that does not fit the recurrent layers.
        """
        architecture, layers = self.direct_layers()
        return recurrent_step(architecture, layers, x, state)


class RecurrentEmbeddingNetwork(RecurrentNetwork, EmbeddingNetwork):
    """An :class:`~neuroevo.genomes.EmbeddingGenome` with recurrent layers as a module (see
    :class:`RecurrentNetwork` and :class:`EmbeddingNetwork`)."""


class RecurrentDirectNetwork(RecurrentNetwork, DirectNetwork):
    """A :class:`~neuroevo.genomes.DirectGenome` with recurrent layers as a module (see
    :class:`RecurrentNetwork` and :class:`DirectNetwork`)."""


def decode(
    genome: Genome, device: torch.device | str | None = None, *, train_input_encoding: bool = False
) -> GenomeNetwork:
    """Decode a genome into a module on ``device`` (CPU when ``None``).

    Args:
        genome: an :class:`EmbeddingGenome` or :class:`DirectGenome` (not modified).
        device: where the module's parameters live.
        train_input_encoding: embedding genomes only; whether the input encoding is trainable.

    Returns:
        An :class:`EmbeddingNetwork` or :class:`DirectNetwork` (their :class:`RecurrentNetwork`
        variants when the architecture has recurrent layers: ``forward`` then takes sequences);
        ``module.to_genome()`` exports it, and every one has ``initial_state`` and ``step``.
    """
    recurrent = bool(genome.architecture.recurrent_layers)
    if isinstance(genome, EmbeddingGenome):
        kind = RecurrentEmbeddingNetwork if recurrent else EmbeddingNetwork
        network: GenomeNetwork = kind(genome, train_input_encoding=train_input_encoding)
    elif isinstance(genome, DirectGenome):
        network = (RecurrentDirectNetwork if recurrent else DirectNetwork)(genome)
    else:
        raise TypeError(f"cannot decode {type(genome).__name__}: not a neuroevo genome")
    return network.to(device) if device is not None else network
