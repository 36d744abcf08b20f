"""benchmarks/fit_variance.py on a tiny conv part and a tiny dense part (synthetic data): every fit is
swept, fits that are the same genomes are swept once, and the section is generated from the file."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_benchmark, synthetic_dataset

fit_variance = load_benchmark("fit_variance")
reproduce = fit_variance.reproduce_sweeps


@pytest.fixture
def tiny_parts(monkeypatch):
    conv = reproduce.Recipe("unused", 0, "2c-3c-5-3", steps=2, batch_size=16, validate_every=2, d=4)
    dense = reproduce.Recipe("unused", 0, "16-12-8-3", steps=2, batch_size=16, validate_every=2, d=4)
    sweeps = (reproduce.Sweep("transplant", 0, 3, 2, ("direct", "embedding", "embedding-aligned")),
              reproduce.Sweep("interpolate", 0, 3, 1, ("direct", "embedding")),
              reproduce.Sweep("transplant-all-hidden", None, 3, 1))
    parts = {"tiny-conv": reproduce.Part("tiny conv", conv, sweeps), "tiny-dense": reproduce.Part("tiny dense", dense, sweeps)}
    monkeypatch.setattr(reproduce, "PARTS", parts)

    def part_data(recipe):
        data = synthetic_dataset(recipe.architecture(), 40)
        return data, data, data, data.images[:8]

    monkeypatch.setattr(reproduce, "part_data", part_data)


def test_every_fit_is_swept_and_the_section_comes_from_the_file(tmp_path, tiny_parts):
    output, markdown = tmp_path / "fit_variance.json", tmp_path / "RESULTS.md"
    markdown.write_text("# Results\n\n## Other\n\nkept\n")
    fit_variance.main(["--parts", "tiny-conv", "tiny-dense", "--fits", "3", "--cache", str(tmp_path / "cache"),
                       "--output", str(output), "--render-into", str(markdown)])
    document = json.loads(output.read_text())
    assert document["commit"] and document["command"].startswith("python")
    conv, dense = document["parts"]["tiny-conv"], document["parts"]["tiny-dense"]
    # conv fits start their free junction at random: three seeds, three different pairs of genomes
    assert len({tuple(f["hashes"]) for f in conv["fits"]}) == 3
    # dense ALS starts from SVDs: one pair of genomes, swept once, counted for every seed
    assert len({tuple(f["hashes"]) for f in dense["fits"]}) == 1
    for part, distinct in ((conv, 3), (dense, 1)):
        assert [s["kind"] for s in part["sweeps"]] == ["transplant", "interpolate"]  # single-layer sweeps only
        for sweep in part["sweeps"]:
            assert len(sweep["per_fit"]) == distinct and len(sweep["fit_of"]) == 3
            assert [row["variant"] for row in sweep["direct"]] == ["direct"]
    text = markdown.read_text()
    assert "## Other\n\nkept" in text and fit_variance.SECTION in text and "± " in text
    assert fit_variance.render(document) in text


def test_a_part_without_fits_is_refused(tmp_path, monkeypatch, tiny_parts):
    native = reproduce.Recipe("unused", 0, "16-12-8-3", steps=2, batch_size=16, validate_every=2, d=4, parents="embedding")
    monkeypatch.setitem(reproduce.PARTS, "native", reproduce.Part("native", native, ()))
    with pytest.raises(ValueError, match="no fits to vary"):
        fit_variance.measure_part("native", 2, tmp_path, 10)
