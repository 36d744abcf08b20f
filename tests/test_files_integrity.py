"""Genome, input-encoding and checkpoint files refuse edits made after they were written, even
self-consistent ones (a checksum over metadata and tensors); version 1 files still load."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
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
from neuroevo.files import CHECKSUM_KEY, FORMAT_VERSION, checksum
from populations import CheckpointError, GAState, load_checkpoint, random_population, save_checkpoint
from tests.conftest import small_conv, small_dense


def _read(path):
    with safe_open(str(path), framework="pt") as handle:
        return {k: handle.get_tensor(k) for k in handle.keys()}, dict(handle.metadata())


def _rewrite(path, tensors, metadata):
    save_file(tensors, str(path), metadata=metadata)


def _genomes():
    return [
        EmbeddingGenome.random(small_dense(), 4, generator=torch.Generator().manual_seed(0)),
        EmbeddingGenome.random(small_conv("free"), 4, generator=torch.Generator().manual_seed(1)),
        DirectGenome.random(small_dense(), generator=torch.Generator().manual_seed(2)),
    ]


@pytest.mark.parametrize("genome", _genomes(), ids=lambda g: f"{g.encoding}-{g.architecture.spec}")
def test_a_self_consistent_metadata_edit_is_refused(tmp_path, genome):
    path = save_genome(genome, tmp_path / "g.safetensors")
    tensors, metadata = _read(path)
    architecture = json.loads(metadata["architecture"])
    assert architecture["activation"] == "relu"
    architecture["activation"] = "tanh"  # still a valid genome: loaded silently before
    _rewrite(path, tensors, {**metadata, "architecture": json.dumps(architecture, sort_keys=True)})
    with pytest.raises(GenomeFileError, match=r"g\.safetensors: checksum mismatch"):
        load_genome(path)


def test_a_changed_weight_is_refused(tmp_path):
    path = save_genome(_genomes()[2], tmp_path / "g.safetensors")
    tensors, metadata = _read(path)
    tensors["layers.1.weight"][0, 0] += 0.5
    _rewrite(path, tensors, metadata)
    with pytest.raises(GenomeFileError, match=r"g\.safetensors: checksum mismatch"):
        load_genome(path)


def test_an_input_encoding_replaced_together_with_its_identity_is_refused(tmp_path):
    path = save_input_encoding(InputEncoding.random(6, 3), tmp_path / "enc.safetensors")
    tensors, metadata = _read(path)
    other = InputEncoding.random(6, 3)
    _rewrite(path, {"inputs": other.inputs}, {**metadata, "identity": other.identity})
    with pytest.raises(GenomeFileError, match=r"enc\.safetensors: checksum mismatch"):
        load_input_encoding(path)


def test_a_removed_checksum_is_refused(tmp_path):
    path = save_genome(_genomes()[0], tmp_path / "g.safetensors")
    tensors, metadata = _read(path)
    del metadata[CHECKSUM_KEY]
    _rewrite(path, tensors, metadata)
    with pytest.raises(GenomeFileError, match=r"g\.safetensors: the file has no checksum"):
        load_genome(path)


def test_the_checksum_covers_metadata_names_dtypes_and_shapes():
    tensors, metadata = {"a": torch.zeros(2, 3)}, {"format": "x"}
    reference = checksum(tensors, metadata)
    assert checksum(tensors, {**metadata, CHECKSUM_KEY: "anything"}) == reference  # itself excluded
    for changed in (
        ({"a": torch.zeros(3, 2)}, metadata),
        ({"a": torch.zeros(2, 3, dtype=torch.int32)}, metadata),  # the same bytes, another dtype
        ({"b": torch.zeros(2, 3)}, metadata),
        (tensors, {"format": "y"}),
        (tensors, {**metadata, "extra": ""}),
    ):
        assert checksum(*changed) != reference


def test_version_1_files_without_checksum_still_load(tmp_path):
    genome = _genomes()[1]
    path = save_genome(genome, tmp_path / "g.safetensors")
    tensors, metadata = _read(path)
    del metadata[CHECKSUM_KEY]
    _rewrite(path, tensors, {**metadata, "format_version": "1"})  # what version 1 wrote
    assert load_genome(path) == genome
    assert FORMAT_VERSION == "2"


def test_unknown_versions_name_the_readable_ones(tmp_path):
    path = save_genome(_genomes()[0], tmp_path / "g.safetensors")
    tensors, metadata = _read(path)
    _rewrite(path, tensors, {**metadata, "format_version": "3"})
    with pytest.raises(GenomeFileError, match=r"version '3' is not supported \(this neuroevo reads versions 1, 2\)"):
        load_genome(path)


def _checkpoint(tmp_path):
    population = random_population(small_dense(), 3, encoding="embedding", d=4, generator=torch.Generator().manual_seed(0))
    for individual in population:
        individual.fitness.values = (0.5,)
    return save_checkpoint(tmp_path / "run.safetensors", GAState(population, 4))


def test_a_checkpoint_edited_after_writing_is_refused(tmp_path):
    path = _checkpoint(tmp_path)
    tensors, metadata = _read(path)
    document = json.loads(metadata["state"])
    document["population"][0]["fitness"] = [0.99]  # a consistent edit: loaded silently before
    _rewrite(path, tensors, {**metadata, "state": json.dumps(document)})
    with pytest.raises(CheckpointError, match=r"run\.safetensors: checksum mismatch"):
        load_checkpoint(path)


def test_version_1_checkpoints_still_load(tmp_path):
    path = _checkpoint(tmp_path)
    tensors, metadata = _read(path)
    del metadata[CHECKSUM_KEY]
    _rewrite(path, tensors, {**metadata, "format_version": "1"})
    assert load_checkpoint(path).state.generation == 4


def test_atomic_writes_give_files_the_permissions_a_plain_write_would(tmp_path):
    import os
    import stat

    from neuroevo.files import atomic_write

    umask = os.umask(0o022)
    try:
        new = atomic_write(tmp_path / "new.txt", lambda tmp: tmp.write_text("x"))
        assert stat.S_IMODE(new.stat().st_mode) == 0o644  # mkstemp alone leaves 0o600
        os.chmod(new, 0o640)
        atomic_write(new, lambda tmp: tmp.write_text("y"))
        assert stat.S_IMODE(new.stat().st_mode) == 0o640  # a rewrite keeps the file's own
    finally:
        os.umask(umask)
