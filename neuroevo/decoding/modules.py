"""Genomes decoded into trainable ``torch.nn.Module`` s, and exported back."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuroevo.architecture import Architecture
from neuroevo.decoding.functional import (
    direct_pre_activation,
    embedding_layer_outputs,
    hidden_layer_output,
    prepare_input,
)
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
    """Common part of decoded networks: per-layer parameters and the export back to a genome.

    Input: ``(B, *input_shape)`` (a dense network also accepts ``(B, n_inputs)``).
    Output: ``(B, n_classes)`` logits.
    """

    def __init__(self, genome: Genome) -> None:
        super().__init__()
        self.architecture: Architecture = genome.architecture
        self.layers = nn.ModuleList(_NeuronSetParameters(layer) for layer in genome.layers)

    def neuron_sets(self) -> list[NeuronSet]:
        """Current parameters as CPU neuron sets (copies)."""
        return [layer.to_neuron_set() for layer in self.layers]

    def extra_repr(self) -> str:
        widths = "-".join(str(len(layer["bias"])) for layer in self.layers)
        return f"{self.architecture}, widths={widths}"


class EmbeddingNetwork(GenomeNetwork):
    """An :class:`~neuroevo.genomes.EmbeddingGenome` as a module.

    Parameters are the genome's embeddings, biases, kernels (and free junction features); the
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


def decode(
    genome: Genome, device: torch.device | str | None = None, *, train_input_encoding: bool = False
) -> GenomeNetwork:
    """Decode a genome into a module on ``device`` (CPU when ``None``).

    Args:
        genome: an :class:`EmbeddingGenome` or :class:`DirectGenome` (not modified).
        device: where the module's parameters live.
        train_input_encoding: embedding genomes only; whether the input encoding is trainable.

    Returns:
        An :class:`EmbeddingNetwork` or :class:`DirectNetwork`; ``module.to_genome()`` exports it.
    """
    if isinstance(genome, EmbeddingGenome):
        network: GenomeNetwork = EmbeddingNetwork(genome, train_input_encoding=train_input_encoding)
    elif isinstance(genome, DirectGenome):
        network = DirectNetwork(genome)
    else:
        raise TypeError(f"cannot decode {type(genome).__name__}: not a neuroevo genome")
    return network.to(device) if device is not None else network
