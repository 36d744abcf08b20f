"""Genomes: the embedding (neuron-set) encoding and the direct (weight-matrix) baseline."""

from neuroevo.genomes.base import Genome, check_genome
from neuroevo.genomes.direct import (
    DirectGenome,
    direct_record_shapes,
    permute_incoming_columns,
    without_recurrent,
)
from neuroevo.genomes.embedding import (
    EMBEDDING_INITS,
    EmbeddingGenome,
    embedding_record_shapes,
    random_embedding_records,
    scaled_to_fan_in,
)

__all__ = [
    "check_genome",
    "EMBEDDING_INITS",
    "Genome",
    "DirectGenome",
    "EmbeddingGenome",
    "direct_record_shapes",
    "embedding_record_shapes",
    "permute_incoming_columns",
    "random_embedding_records",
    "scaled_to_fan_in",
    "without_recurrent",
]
