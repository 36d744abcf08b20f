"""Fit-to-fit variance of the crossover sweeps (issue 19): how much of an embedding figure is the fit.

    OMP_NUM_THREADS=1 python benchmarks/fit_variance.py --parts conv-mnist conv-fashion fc2-mnist --fits 4 \\
        --output docs/results/fit_variance.json --render-into docs/RESULTS.md

The embedding variants of a sweep of fitted parents cross *fits* of two direct networks
(``benchmarks/reproduce_sweeps.py``: ALS, B on A's input encoding). A fit is one factorisation of
many, so the figure may belong to the fit rather than to the representation. For each part of
:data:`reproduce_sweeps.PARTS` named, this script takes its direct parent pair (trained, or loaded
from ``--cache``, exactly as ``reproduce_sweeps.py`` makes them), fits it ``--fits`` times
(:func:`reproduce_sweeps.fit_pair`, seeds ``0 .. fits - 1``; seed 0 is the fit ``reproduce_sweeps.py``
sweeps) and runs the part's single-layer transplant and interpolation sweeps (its grids and variants)
on every fit pair: the embedding variants once per distinct fit pair, the direct variants once (they
do not read the fits). Children are scored on the first ``--test-images`` images of the test split.

Every figure lands in ``--output`` with the commit and command; ``--render-into`` replaces the section
:data:`SECTION` of a markdown file with tables generated from that file alone (``--from`` renders an
existing file without measuring).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from neuroevo.evaluation import evaluate_population
from neuroevo.files import atomic_write, replace_markdown_section
from neuroevo.provenance import provenance
from neuroevo.sweeps import SweepParents, run_sweep
from neuroevo.sweeps.variants import VARIANTS
import reproduce_sweeps
from staleness import stale_lines

SECTION = "## Fit-to-fit variance of the embedding sweeps (issue 19)"
#: The retention summaries a sweep reports, as (key of :meth:`SweepResult.summary`, column title).
FIGURES = (("retention_at_0.5", "retention @0.5"), ("retention_at_1.0", "retention @1.0"),
           ("retention_auc", "retention AUC"))


def measure_part(name: str, fits: int, cache: Path, test_images: int) -> dict:
    """Every fit of the part's pair and every single-layer sweep's summaries on each (see the module
    docstring). Returns the part's record."""
    part = reproduce_sweeps.PARTS[name]
    if part.recipe.parents != "direct":
        raise ValueError(f"part {name!r} trains embedding parents: it has no fits to vary")
    train, holdout, test, probe = reproduce_sweeps.part_data(part.recipe)
    test = test.subset(torch.arange(min(test_images, len(test))), test.split)
    folder = cache / name / "pair0"
    parents = reproduce_sweeps.prepare_pair(part.recipe, 0, folder, train, holdout,
                                     cache / part.parents_from / "pair0" if part.parents_from else None)
    direct = parents.direct
    record: dict = {"title": part.title, "test": f"{test.name} ({test.split}, first {len(test)} images)",
                    "fits": [], "sweeps": []}
    pairs = []
    for seed in range(fits):
        pair = reproduce_sweeps.fit_pair(*direct, part.recipe.d, folder, seed=seed)
        accuracy = evaluate_population(list(pair), test).accuracy.tolist()
        record["fits"].append({"seed": seed, "hashes": [g.content_hash for g in pair],
                               "accuracy": {"A": accuracy[0], "B": accuracy[1]}})
        pairs.append(pair)
    distinct = {tuple(f["hashes"]): seed for seed, f in enumerate(record["fits"])}
    for sweep in part.sweeps:
        if sweep.kind not in ("transplant", "interpolate"):
            continue
        started = time.perf_counter()
        names = sweep.variants or tuple(VARIANTS)
        options = dict(layer=sweep.layer, coefficients=np.linspace(0, 1, sweep.points).round(4),
                       repeats=sweep.repeats, probe=probe, progress=False)
        direct_names = [v for v in names if VARIANTS[v].encoding == "direct"]
        embedding_names = [v for v in names if VARIANTS[v].encoding == "embedding"]
        rows = {"direct": run_sweep(sweep.kind, SweepParents(direct=direct), test, variants=direct_names,
                                    **options).summary() if direct_names else [],
                "per_fit": {}}
        for hashes, seed in distinct.items():
            result = run_sweep(sweep.kind, SweepParents(embedding=pairs[seed]), test, variants=embedding_names,
                               **options)
            rows["per_fit"][str(seed)] = result.summary()
        rows["fit_of"] = [distinct[tuple(f["hashes"])] for f in record["fits"]]
        record["sweeps"].append({"kind": sweep.kind, "layer": sweep.layer, "points": sweep.points,
                                 "repeats": sweep.repeats, "wall_s": round(time.perf_counter() - started, 1), **rows})
        print(f"{name}: {sweep.kind} layer {sweep.layer} on {len(distinct)} distinct fit pair(s) of {fits} "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
    return record


def _spread(values: list[float]) -> str:
    array = np.asarray(values)
    if len(array) == 1:
        return f"{array[0]:.3f}"
    return f"{array.mean():.3f} ± {array.std(ddof=1):.3f} ({array.min():.3f}-{array.max():.3f})"


def per_fit_values(sweep: dict, variant: str, key: str) -> list[float]:
    """The figure ``key`` of ``variant`` for every fit (fits that are the same genomes repeat a value)."""
    return [next(row[key] for row in sweep["per_fit"][str(seed)] if row["variant"] == variant)
            for seed in sweep["fit_of"]]


def render(document: dict) -> str:
    """The markdown section: per part and sweep, each variant's figures over the fits."""
    lines = [SECTION, "", *stale_lines(document, document["command"]),
             f"Generated by `benchmarks/fit_variance.py` from `docs/results/fit_variance.json` (commit "
             f"{document['commit'][:10]}{', dirty tree' if document.get('dirty') else ''}). "
             f"Command: `{document['command']}`.",
             "",
             "Each part's direct parents (pair 0 of `benchmarks/reproduce_sweeps.py`) are fitted several times "
             "(ALS, d as in the part, B on A's input encoding, seeds 0, 1, ...; seed 0 is the fit the sweeps "
             "above use) and the part's single-layer sweeps run on every fit pair. Embedding rows: mean ± sd "
             "(min-max) over the fits; direct rows do not read the fits and are measured once. Fits that are "
             "the same genomes (equal content hashes) are swept once and counted for each seed.", ""]
    for name, part in document["parts"].items():
        fits = part["fits"]
        distinct = len({tuple(f["hashes"]) for f in fits})
        accuracy = ", ".join(f"seed {f['seed']}: A {100 * f['accuracy']['A']:.1f}%, B {100 * f['accuracy']['B']:.1f}%"
                             for f in fits)
        lines += [f"### {part['title']}", "",
                  f"{len(fits)} fits, {distinct} distinct pair(s) of genomes; scored on {part['test']}. "
                  f"Fitted parents' accuracy: {accuracy}.", ""]
        for sweep in part["sweeps"]:
            lines += [f"**{sweep['kind']}, layer {sweep['layer']}**: {sweep['points']} coefficients x "
                      f"{sweep['repeats']} repeat(s) per fit ({sweep['wall_s']} s):", "",
                      "| variant | " + " | ".join(title for _, title in FIGURES) + " |",
                      "|---|" + "---|" * len(FIGURES)]
            for row in sweep["direct"]:
                lines.append(f"| {row['variant']} | " + " | ".join(f"{row[key]:.3f}" for key, _ in FIGURES) + " |")
            embedding = [row["variant"] for row in next(iter(sweep["per_fit"].values()))]
            for variant in embedding:
                lines.append(f"| {variant} | " + " | ".join(_spread(per_fit_values(sweep, variant, key))
                                                           for key, _ in FIGURES) + " |")
            lines += ["", *reading(sweep, embedding), ""]
    return "\n".join(lines).rstrip() + "\n"


def reading(sweep: dict, embedding: list[str]) -> list[str]:
    """Generated sentences: for each embedding variant and figure, the fits' range against the
    index-wise direct variant (the paper's baseline), and whether the comparison depends on the fit."""
    baseline = next((row for row in sweep["direct"] if row["variant"] == "direct"), None)
    if baseline is None:
        return []
    sentences = []
    for key, title in FIGURES:
        for variant in embedding:
            values = np.asarray(per_fit_values(sweep, variant, key))
            low, high, reference = values.min(), values.max(), baseline[key]
            side = ("every fit above direct" if low > reference else "every fit below direct" if high < reference
                    else "fits on both sides of direct: the comparison depends on the fit")
            sentences.append(f"- {title}, {variant}: fits span {low:.3f}-{high:.3f} (range {high - low:.3f}) against "
                             f"direct's {reference:.3f}, {side}.")
    return sentences


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["conv-mnist", "conv-fashion", "fc2-mnist"])
    parser.add_argument("--fits", type=int, default=4, help="fits per parent pair (seeds 0 .. fits - 1)")
    parser.add_argument("--test-images", type=int, default=2000, help="test images that score the children")
    parser.add_argument("--cache", type=Path, default=Path("runs/sweeps"), help="parents and fits (reproduce_sweeps' cache)")
    parser.add_argument("--output", type=Path, default=Path("docs/results/fit_variance.json"))
    parser.add_argument("--render-into", type=Path, help="markdown file whose section is replaced")
    parser.add_argument("--from", dest="source", type=Path, help="render this result file, measure nothing")
    args = parser.parse_args(argv)
    if args.fits < 1:
        parser.error("--fits must be at least 1")
    if args.source is not None:
        document = json.loads(args.source.read_text())
    else:
        unknown = [p for p in args.parts if p not in reproduce_sweeps.PARTS]
        if unknown:
            parser.error(f"unknown parts {unknown}; choose from {', '.join(reproduce_sweeps.PARTS)}")
        document = {"parts": {name: measure_part(name, args.fits, args.cache, args.test_images) for name in args.parts},
                    **provenance()}
        atomic_write(args.output, lambda tmp: tmp.write_text(json.dumps(document, indent=1) + "\n"))
        print(f"wrote {args.output}")
    section = render(document)
    print(section)
    if args.render_into is not None:
        replace_markdown_section(args.render_into, SECTION, section)
        print(f"rendered into {args.render_into}")


if __name__ == "__main__":
    main()
