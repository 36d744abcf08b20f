"""Decoding: genome -> ``torch.nn.Module`` on any device, and back (recurrent genomes: a module with a
step interface); embedding genome -> its direct equivalent."""

from neuroevo.decoding.equivalent import direct_equivalent, materialised_layers
from neuroevo.embedding_maths import generate_weight, junction_embeddings
from neuroevo.decoding.functional import dense_from_embeddings, factored_is_cheaper, separable_conv
from neuroevo.decoding.modules import (
    DirectNetwork,
    EmbeddingNetwork,
    GenomeNetwork,
    RecurrentDirectNetwork,
    RecurrentEmbeddingNetwork,
    RecurrentNetwork,
    decode,
)
from neuroevo.decoding.recurrent import State, recurrent_step, run_sequence, zero_state

__all__ = [
    "DirectNetwork",
    "EmbeddingNetwork",
    "GenomeNetwork",
    "RecurrentDirectNetwork",
    "RecurrentEmbeddingNetwork",
    "RecurrentNetwork",
    "State",
    "decode",
    "dense_from_embeddings",
    "direct_equivalent",
    "factored_is_cheaper",
    "generate_weight",
    "junction_embeddings",
    "materialised_layers",
    "recurrent_step",
    "run_sequence",
    "separable_conv",
    "zero_state",
]
