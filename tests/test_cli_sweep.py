"""``neuroevo sweep`` end to end on a tiny IDX folder: train two parents, fit both, sweep."""

from __future__ import annotations

import json

import pytest

from neuroevo.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def parents(idx_folder, tmp_path):
    for name, seed in (("a", "1"), ("b", "2")):
        assert main(["train", "--data", str(idx_folder), "--arch", "36-10-8-3", "--encoding", "direct",
                     "--steps", "20", "--batch-size", "32", "--max-lr", "0.05", "--holdout", "30",
                     "--seed", seed, "--no-progress", "-o", str(tmp_path / name)]) == 0
    assert main(["fit", str(tmp_path / "a" / "genome.safetensors"), "--d", "6", "-o", str(tmp_path / "fa")]) == 0
    assert main(["fit", str(tmp_path / "b" / "genome.safetensors"), "--input-encoding",
                 str(tmp_path / "fa" / "input_encoding.safetensors"), "-o", str(tmp_path / "fb")]) == 0
    return [str(tmp_path / n / "genome.safetensors") for n in ("a", "b", "fa", "fb")]


def test_sweep_writes_tables_and_plot(parents, idx_folder, tmp_path, capsys):
    out = tmp_path / "sweeps"
    code = main(["sweep", "transplant", "--parents", *parents[:2], "--embedding-parents", *parents[2:],
                 "--layer", "1", "--data", str(idx_folder), "--coefficients", "3", "--repeats", "2",
                 "--probe-size", "20", "-o", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "direct-aligned-repair" in printed and "embedding" in printed and "retention_auc" in printed
    payload = json.loads((out / "transplant-layer1.json").read_text())
    assert payload["dataset"].startswith("idx:blobs (test, 60 samples)")
    assert {c["variant"] for c in payload["curves"]} >= {"direct", "embedding", "embedding-aligned"}
    assert all(len(c["accuracy"]) == 2 and len(c["accuracy"][0]) == 3 for c in payload["curves"])
    assert (out / "transplant-layer1.csv").exists() and (out / "transplant-layer1.png").exists()
    mismatch = payload["setup"]["summary_mismatch"]
    assert len(mismatch) == 2 and all(v > 0 for v in mismatch) and "layer-summary mismatch" in printed


def test_bad_layer_is_reported_before_any_output(parents, idx_folder, tmp_path, capsys):
    out = tmp_path / "sweeps"
    code = main(["sweep", "transplant", "--parents", *parents[:2], "--layer", "9", "--data", str(idx_folder),
                 "-o", str(out)])
    assert code == 2
    assert "layer 9 does not exist" in capsys.readouterr().err
    assert not out.exists()


def test_embedding_parents_on_different_encodings_are_rejected(parents, idx_folder, tmp_path, capsys):
    assert main(["fit", parents[1], "--d", "6", "-o", str(tmp_path / "fb-own")]) == 0
    code = main(["sweep", "interpolate", "--embedding-parents", parents[2], str(tmp_path / "fb-own" / "genome.safetensors"),
                 "--layer", "0", "--data", str(idx_folder), "-o", str(tmp_path / "sweeps")])
    assert code == 2
    assert "different input encodings" in capsys.readouterr().err


def test_direct_equivalent_runs_the_direct_variants_on_the_embedding_parents(parents, idx_folder, tmp_path, capsys):
    out = tmp_path / "sweeps"
    code = main(["sweep", "transplant", "--embedding-parents", *parents[2:], "--direct-equivalent", "--layer", "0",
                 "--variants", "direct", "embedding", "--data", str(idx_folder), "--coefficients", "0,1",
                 "--repeats", "1", "-o", str(out)])
    assert code == 0
    payload = json.loads((out / "transplant-layer0.json").read_text())
    accuracy = payload["parent_accuracy"]
    assert accuracy["direct A"] == pytest.approx(accuracy["embedding A"], abs=1 / 60)  # the same network
    assert {c["variant"] for c in payload["curves"]} == {"direct", "embedding"}


def test_direct_equivalent_needs_embedding_parents_only(parents, idx_folder, tmp_path, capsys):
    code = main(["sweep", "transplant", "--parents", *parents[:2], "--embedding-parents", *parents[2:],
                 "--direct-equivalent", "--data", str(idx_folder), "-o", str(tmp_path / "sweeps")])
    assert code == 2
    assert "--direct-equivalent" in capsys.readouterr().err and not (tmp_path / "sweeps").exists()
