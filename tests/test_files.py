import os

import pytest
import torch
from safetensors.torch import save_file

from neuroevo import (
    DirectGenome,
    EmbeddingGenome,
    GenomeFileError,
    InputEncoding,
    load_genome,
    load_input_encoding,
    save_genome,
    save_input_encoding,
)
from neuroevo.files import atomic_write
from tests.conftest import small_conv, small_dense


def _exactly_equal(a, b):
    return type(a) is type(b) and all(
        x.names == y.names and all(torch.equal(x[n], y[n]) for n in x.names) for x, y in zip(a.layers, b.layers)
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: EmbeddingGenome.random(small_dense(), 4),
        lambda: EmbeddingGenome.random(small_conv("position"), 4),
        lambda: EmbeddingGenome.random(small_conv("free").with_options(sigma="sinh"), 4),
        lambda: DirectGenome.random(small_conv("gap", "standard")),
        lambda: DirectGenome.random(small_dense()),
    ],
)
def test_round_trip_is_exact(tmp_path, make):
    genome = make()
    loaded = load_genome(save_genome(genome, tmp_path / "g.safetensors"))
    assert _exactly_equal(loaded, genome)
    assert loaded.architecture == genome.architecture
    assert loaded == genome and loaded.content_hash == genome.content_hash


def test_file_order_does_not_change_identity(tmp_path):
    genome = EmbeddingGenome.random(small_dense(), 4)
    permuted = genome.clone()
    permuted.permute_layer(0, torch.randperm(12))
    a = load_genome(save_genome(genome, tmp_path / "a.safetensors"))
    b = load_genome(save_genome(permuted, tmp_path / "b.safetensors"))
    assert a == b and a.content_hash == b.content_hash


def test_shared_input_encoding_is_reused(tmp_path):
    genome = EmbeddingGenome.random(small_dense(), 4)
    encoding = load_input_encoding(save_input_encoding(genome.input_encoding, tmp_path / "enc.safetensors"))
    assert encoding == genome.input_encoding
    loaded = load_genome(save_genome(genome, tmp_path / "g.safetensors"), input_encoding=encoding)
    assert loaded.input_encoding is encoding
    with pytest.raises(GenomeFileError, match="not the given"):
        load_genome(tmp_path / "g.safetensors", input_encoding=InputEncoding.random(16, 4))


def test_truncated_file_names_file_and_problem(tmp_path):
    path = save_genome(EmbeddingGenome.random(small_dense(), 4), tmp_path / "g.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GenomeFileError, match=r"g\.safetensors.*truncated or corrupt"):
        load_genome(path)


def test_garbage_and_missing_files(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(os.urandom(200))
    with pytest.raises(GenomeFileError, match="garbage.safetensors"):
        load_genome(garbage)
    with pytest.raises(GenomeFileError, match="no such file"):
        load_genome(tmp_path / "missing.safetensors")


def test_foreign_safetensors_file(tmp_path):
    foreign = tmp_path / "model.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(foreign))
    with pytest.raises(GenomeFileError, match="without neuroevo metadata"):
        load_genome(foreign)
    encoding_file = save_input_encoding(InputEncoding.random(4, 2), tmp_path / "enc.safetensors")
    with pytest.raises(GenomeFileError, match="expected a 'neuroevo-genome' file"):
        load_genome(encoding_file)


def test_unsupported_version(tmp_path):
    path = tmp_path / "future.safetensors"
    save_file({"inputs": torch.zeros(2, 2)}, str(path), metadata={"format": "neuroevo-input-encoding", "format_version": "99"})
    with pytest.raises(GenomeFileError, match="version '99' is not supported"):
        load_input_encoding(path)


def test_tampered_layer_is_rejected(tmp_path):
    genome = EmbeddingGenome.random(small_dense(), 4)
    path = save_genome(genome, tmp_path / "g.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        metadata = handle.metadata()
    tensors["layers.1.embeddings"] = tensors["layers.1.embeddings"][:, :3].contiguous()
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(GenomeFileError, match="inconsistent genome.*embedding width"):
        load_genome(path)


def test_failed_write_leaves_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "g.safetensors"
    path.write_bytes(b"previous")

    def failing_write(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, failing_write)
    assert path.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["g.safetensors"]


def test_invalid_genome_is_not_written(tmp_path):
    genome = EmbeddingGenome.random(small_dense(), 4)
    genome.layers.pop()
    with pytest.raises(ValueError):
        save_genome(genome, tmp_path / "g.safetensors")
    assert not (tmp_path / "g.safetensors").exists()
