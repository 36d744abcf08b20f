"""Result provenance: the code fingerprint is the code that ran, and staleness follows its files."""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

import neuroevo.provenance as provenance
from neuroevo.data import builtin_folder, load_dataset


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_a_file_edited_during_a_run_keeps_the_hash_of_the_code_that_ran(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "_REPOSITORY", tmp_path)
    monkeypatch.setattr(provenance, "_SEEN", {})
    (tmp_path / "neuroevo").mkdir()
    source = tmp_path / "neuroevo" / "measured_thing.py"
    source.write_text("VALUE = 1\n")
    monkeypatch.setitem(sys.modules, "measured_thing", None)
    _load(source, "measured_thing")
    before = provenance.code_fingerprint()
    assert set(before) == {"neuroevo/measured_thing.py"}
    record = provenance.provenance(dataset="synthetic", split="none")
    assert provenance.stale_code(record) == []

    source.write_text("VALUE = 2\n")  # edited on disk while the process runs the old code
    assert provenance.code_fingerprint() == before
    assert provenance.stale_code(record) == ["neuroevo/measured_thing.py"]


def test_a_record_without_a_fingerprint_falls_back_to_its_commit():
    assert provenance.stale_code({"commit": None}) == ["<unknown commit>"]
    assert provenance.stale_code({"commit": "0" * 40}) == ["<unknown commit>"]  # not in this history


# ------------------------------------------------------------------ portable records (issue 19)
REPOSITORY = Path(provenance.__file__).resolve().parent.parent


def _shared_copy(root: Path) -> Path:
    """The built-in MNIST files under other names, in a folder outside the repository (like
    ``../shared/data/mnist``)."""
    folder = root / "shared" / "data" / "mnist"
    folder.mkdir(parents=True)
    for source in builtin_folder("mnist-small").glob("*.gz"):
        shutil.copy(source, folder / source.name.replace("train-", "train-5k-"))
    return folder


def test_a_command_records_paths_relative_to_the_repository_and_data_by_name(tmp_path, monkeypatch):
    data = _shared_copy(tmp_path)
    script = REPOSITORY / "benchmarks" / "sweep_speed.py"
    argv = [str(script), "--data", str(data), "--output", str(tmp_path / "speed.json"),
            f"--results={tmp_path / 'RESULTS.md'}", "--figures", str(REPOSITORY / "docs" / "figures")]
    monkeypatch.setattr(sys, "argv", argv)
    record = provenance.provenance(dataset="mnist-small", split="test")
    assert record["command"] == ("python benchmarks/sweep_speed.py --data mnist-small --output '<tmp>/speed.json' "
                                 "'--results=<tmp>/RESULTS.md' --figures docs/figures")
    assert str(tmp_path) not in json.dumps(record) and str(REPOSITORY) not in json.dumps(record)
    explicit = provenance.provenance(command=f"python benchmarks/x.py --data {data}")
    assert explicit["command"] == "python benchmarks/x.py --data mnist-small"


@pytest.mark.parametrize("path, recorded", [
    ("/somewhere/else/datasets/fashion-mnist", "fashion-mnist"),
    (r"C:\Users\me\runs\pair0", "pair0"),
    ("runs/sweeps/pair0", "runs/sweeps/pair0"),
])
def test_paths_outside_the_repository_are_recorded_by_name(path, recorded):
    assert provenance.portable_path(path) == recorded


def test_a_data_set_is_recorded_by_name_and_content_hash(tmp_path):
    shared = load_dataset(_shared_copy(tmp_path), "test")
    builtin = load_dataset("mnist-small", "test")
    record = provenance.data_record(builtin)
    assert record == provenance.data_record(shared) | {"name": "mnist-small"}  # same numbers, same hash
    assert record["samples"] == 10_000 and len(record["sha256"]) == 16
    changed = builtin.subset(torch.arange(len(builtin)), "test")
    changed.labels[0] = (changed.labels[0] + 1) % 10
    assert provenance.data_record(changed)["sha256"] != record["sha256"]
    assert provenance.provenance(data=[builtin])["data_sets"] == [record]
