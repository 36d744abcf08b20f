"""neuroevo: neuroevolution with permutation-invariant neuron-set genomes.

The data flows one way: data -> genome -> decoding -> evaluation -> operators -> populations ->
sweeps / CLI. The names exported here are the ones most users need.
"""

from neuroevo.architecture import Architecture
from neuroevo.decoding import DirectNetwork, EmbeddingNetwork, decode, direct_equivalent
from neuroevo.encoding import InputEncoding
from neuroevo.files import GenomeFileError, load_genome, load_input_encoding, save_genome, save_input_encoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.neurons import NeuronSet

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "DirectGenome",
    "DirectNetwork",
    "EmbeddingGenome",
    "EmbeddingNetwork",
    "Genome",
    "GenomeFileError",
    "InputEncoding",
    "NeuronSet",
    "decode",
    "direct_equivalent",
    "load_genome",
    "load_input_encoding",
    "save_genome",
    "save_input_encoding",
]
