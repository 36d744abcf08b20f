"""Decoding: genome -> ``torch.nn.Module`` on any device, and back; embedding genome -> its direct equivalent."""

from neuroevo.decoding.equivalent import direct_equivalent
from neuroevo.embedding_maths import generate_weight, junction_embeddings
from neuroevo.decoding.functional import dense_from_embeddings, factored_is_cheaper, separable_conv
from neuroevo.decoding.modules import DirectNetwork, EmbeddingNetwork, GenomeNetwork, decode

__all__ = [
    "DirectNetwork",
    "EmbeddingNetwork",
    "GenomeNetwork",
    "decode",
    "dense_from_embeddings",
    "direct_equivalent",
    "factored_is_cheaper",
    "generate_weight",
    "junction_embeddings",
    "separable_conv",
]
