"""Result provenance: the code fingerprint is the code that ran, and staleness follows its files."""

import importlib.util
import sys

import neuroevo.provenance as provenance


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
