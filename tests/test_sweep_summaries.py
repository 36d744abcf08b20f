import pytest
import torch

from neuroevo import Architecture, DirectGenome, EmbeddingGenome, decode
from neuroevo.sweeps import has_layer_summaries, layer_summaries, summary_mismatch
from tests.conftest import small_conv, small_dense


def _pair(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    a = EmbeddingGenome.random(small_dense(), 6, generator=g)
    return a, EmbeddingGenome.random(small_dense(), input_encoding=a.input_encoding, generator=g)


def _images(n: int = 32) -> torch.Tensor:
    return torch.randn(n, 16, generator=torch.Generator().manual_seed(1))


def test_the_next_layer_reads_a_hidden_layer_only_through_its_summary():
    genome, _ = _pair()
    images = _images()
    last = layer_summaries(genome, images)[-1]
    output = genome.layers[-1]
    with torch.no_grad():
        logits = decode(genome)(images)
    torch.testing.assert_close(last @ output["embeddings"].T + output["bias"], logits, atol=1e-5, rtol=1e-5)


def test_summaries_ignore_neuron_order_and_a_permuted_copy_matches_exactly():
    genome, _ = _pair()
    shuffled = genome.clone()
    for index in genome.architecture.hidden_layers:
        shuffled.permute_layer(index, torch.randperm(genome.widths[index], generator=torch.Generator().manual_seed(index)))
    assert summary_mismatch(genome, shuffled, _images()) == pytest.approx([0.0, 0.0], abs=1e-6)


def test_a_replaced_second_layer_keeps_the_first_summary_and_changes_its_own():
    a, b = _pair()
    child = a.clone()
    child.layers[1] = b.layers[1]  # second hidden layer from B: the first layer's summary is A's
    mismatch = summary_mismatch(a, child, _images())
    assert mismatch[0] == 0.0 and mismatch[1] > 0.01
    assert summary_mismatch(a, b, _images())[0] > 0.01


def test_bad_input_is_named():
    a, b = _pair()
    assert has_layer_summaries(a) and not has_layer_summaries(DirectGenome.random(small_dense()))
    assert not has_layer_summaries(EmbeddingGenome.random(small_conv(), 4))
    with pytest.raises(ValueError, match="embedding genome"):
        layer_summaries(DirectGenome.random(small_dense()), _images())
    with pytest.raises(ValueError, match="conv layers"):
        layer_summaries(EmbeddingGenome.random(small_conv(), 4), torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="sigma"):
        layer_summaries(EmbeddingGenome.random(Architecture.parse("16-12-8-3", sigma="tanh"), 4), _images())
    with pytest.raises(ValueError, match="embedding genome"):
        summary_mismatch(DirectGenome.random(small_dense()), DirectGenome.random(small_dense()), _images())
    with pytest.raises(ValueError, match="different input encodings"):
        summary_mismatch(a, EmbeddingGenome.random(small_dense(), 6), _images())
    deeper = EmbeddingGenome.random(Architecture.parse("16-12-8-8-3"), input_encoding=a.input_encoding)
    with pytest.raises(ValueError, match="differ in depth"):
        summary_mismatch(a, deeper, _images())
