"""Crossover destructiveness (issue 5): train parents, fit them, run the sweeps, write the report.

    python benchmarks/reproduce_sweeps.py                      # every part (cached work is skipped)
    python benchmarks/reproduce_sweeps.py --only fc-mnist      # one part
    python benchmarks/reproduce_sweeps.py --report-only        # only rebuild the RESULTS.md block

Each part (:data:`PARTS`) trains direct parents from two seeds per pair (pair ``i``: seeds ``2i`` and
``2i + 1``; initial genome and batch order), fits an embedding genome to each with ALS at d = 64
(B fitted onto A's input encoding held fixed, so the fits share one basis; seeded starts, :func:`fit_pair`),
and runs its sweeps on the
test split. Parents and fits are cached under ``--cache`` (``runs/sweeps/``); sweep results go to
``--figures`` (``docs/figures/sweeps/<part>-<sweep>.{json,csv,png}``) and a finished sweep is not run
again unless ``--force`` (or its grid changed). The markdown block between :data:`BEGIN` and :data:`END` in ``--results``
(``docs/RESULTS.md``) is rebuilt from every result file present, so parts can run separately.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuroevo.architecture import Architecture
from neuroevo.data import BUILTIN_DATASET, Dataset, load_dataset, train_holdout_split
from neuroevo.decoding import direct_equivalent
from neuroevo.files import atomic_write, load_genome, save_genome
from neuroevo.fitting import fit_to_reference
from neuroevo.encoding import InputEncoding
from neuroevo.genomes import DirectGenome, EmbeddingGenome, Genome
from neuroevo.provenance import code_fingerprint, provenance, stale_code
from neuroevo.sweeps import SweepParents, SweepResult, VariantCurve, run_sweep, summary_mismatch
from neuroevo.sweeps.summaries import SUMMARY_IMAGES
from neuroevo.training import TrainConfig, train_genome

MNIST = BUILTIN_DATASET  # the 5k MNIST training subset and the official 10k test split, shipped
FASHION = "/usr/share/datasets/fashion-mnist"
BEGIN = "<!-- reproduce_sweeps:begin -->"
END = "<!-- reproduce_sweeps:end -->"
HEADING = "## Crossover destructiveness (issue 5)"
#: Variants of the whole-network interpolation (the REPAIR paper's comparison plus the embeddings).
WHOLE_NETWORK_VARIANTS = (
    "direct", "direct-aligned-weights", "direct-aligned-activation", "direct-aligned-repair",
    "embedding", "embedding-aligned",
)
#: Midpoint test accuracy (%) of whole-network interpolation of MNIST MLPs, endpoints near 98%
#: (REPAIR repository's figures, quoted in issue 5): naive, aligned, aligned + REPAIR. REPAIR aligns by
#: activation correlation, so "aligned" sits beside direct-aligned-activation.
ANCHORS = {"784-128x2-10": (39.6, 96.8, 97.5), "784-128x4-10": (15.3, 93.7, 96.4)}


@dataclass(frozen=True)
class Recipe:
    """How a part's parents are made: data, architecture, training budget, fit width.

    Attributes:
        data: data folder (train split for training and the probe, test split for the sweeps).
        holdout: training images held out for model selection.
        arch: architecture spec; conv specs use the direct *separable* encoding (fittable).
        steps, batch_size, validate_every: the training budget (Adam one-cycle, max lr 0.01).
        d: embedding width of the fits (ALS), or of the parents themselves.
        parents: ``"direct"`` (train direct networks, then fit embedding genomes to them) or
            ``"embedding"`` (train embedding genomes directly, fan-in init: A learns the input
            encoding, B trains on A's held fixed; no fits, and the direct variants cross their
            :func:`~neuroevo.decoding.direct_equivalent` networks).
    """

    data: str
    holdout: int
    arch: str
    steps: int
    batch_size: int = 1000
    validate_every: int = 100
    d: int = 64
    parents: str = "direct"

    def architecture(self) -> Architecture:
        if "c" in self.arch:
            return Architecture.parse(self.arch, input_shape=(1, 28, 28), conv_style="separable")
        return Architecture.parse(self.arch)


@dataclass(frozen=True)
class Sweep:
    """One sweep of a part: ``kind`` on ``layer`` (``None``: every layer) over ``points`` coefficients.

    ``kind`` is a :func:`run_sweep` kind.
    """

    kind: str
    layer: int | None
    points: int
    repeats: int
    variants: tuple[str, ...] | None = None

    @property
    def stem(self) -> str:
        return self.kind if self.layer is None else f"{self.kind}-layer{self.layer}"


@dataclass(frozen=True)
class Part:
    """A set of parents (``pairs`` pairs from one recipe) and the sweeps run on them.

    ``parents_from``: reuse that part's trained direct parents (same training recipe), fit anew.
    """

    title: str
    recipe: Recipe
    sweeps: tuple[Sweep, ...]
    pairs: int = 1
    parents_from: str | None = None


FC8 = "784-400x8-10"
#: The 8x400 sweeps leave out weight matching (it would add a fifth direct variant to a slow sweep).
NO_WEIGHT_MATCHING = ("direct", "direct-outgoing", "direct-aligned-activation", "direct-aligned-repair",
                      "embedding", "embedding-aligned")
#: The conv sweeps (a batch-1000 conv evaluation is slow on this CPU): one direct and one aligned variant each.
CONV_VARIANTS = ("direct", "direct-aligned-activation", "embedding", "embedding-aligned")
#: The side studies on 784-400-400-10 (shorter training, embedding-trained parents): 11 x 5 per pair.
SIDE_STUDY_SWEEPS = (Sweep("transplant", 0, 11, 5), Sweep("transplant", 1, 11, 5))
WHOLE_NETWORK_SWEEPS = (Sweep("transplant-all-hidden", None, 11, 5), Sweep("interpolate-all", None, 21, 1))
PARTS: dict[str, Part] = {
    "fc2-mnist": Part(
        "MNIST 5k, FC 784-400-400-10 (the issue's aims setup), first and second hidden layer",
        Recipe(MNIST, 500, "784-400-400-10", steps=1000),
        (Sweep("transplant", 0, 21, 10), Sweep("transplant", 1, 21, 10), Sweep("transplant-all-hidden", None, 11, 10),
         Sweep("interpolate-all", None, 21, 1)),
    ),
    "fc2-mnist-d256": Part(
        "MNIST 5k, FC 784-400-400-10, first hidden layer, embedding variants with a closer fit (d = 256)",
        Recipe(MNIST, 500, "784-400-400-10", steps=1000, d=256),
        (Sweep("transplant", 0, 21, 10, ("embedding", "embedding-aligned")),
         Sweep("transplant-all-hidden", None, 11, 10, ("embedding", "embedding-aligned")),
         Sweep("interpolate-all", None, 21, 1, ("embedding", "embedding-aligned"))),
        parents_from="fc2-mnist",
    ),
    # The same architecture and sweeps with shorter training (same one-cycle recipe, fewer steps):
    # how much the transplant results depend on how the parents were trained.
    "fc2-mnist-400steps": Part(
        "MNIST 5k, FC 784-400-400-10, parents trained 400 steps, first and second hidden layer",
        Recipe(MNIST, 500, "784-400-400-10", steps=400),
        SIDE_STUDY_SWEEPS,
    ),
    "fc2-mnist-100steps": Part(
        "MNIST 5k, FC 784-400-400-10, parents trained 100 steps, first and second hidden layer",
        Recipe(MNIST, 500, "784-400-400-10", steps=100),
        SIDE_STUDY_SWEEPS,
    ),
    # The aims setup with parents trained as embedding genomes (the paper's own networks) instead of
    # fitted to direct ones: same architecture, data and training recipe.
    "fc2-mnist-native": Part(
        "MNIST 5k, FC 784-400-400-10, embedding parents trained directly (no fits), 3 pairs",
        Recipe(MNIST, 500, "784-400-400-10", steps=1000, parents="embedding"),
        SIDE_STUDY_SWEEPS + WHOLE_NETWORK_SWEEPS,
        pairs=3,
    ),
    "fc2-mnist-native-400steps": Part(
        "MNIST 5k, FC 784-400-400-10, embedding parents trained directly for 400 steps (no fits), 3 pairs",
        Recipe(MNIST, 500, "784-400-400-10", steps=400, parents="embedding"),
        SIDE_STUDY_SWEEPS + WHOLE_NETWORK_SWEEPS,
        pairs=3,
    ),
    "wholenet-2x128": Part(
        "MNIST 5k, MLP 784-128x2-10, whole-network interpolation, 5 parent pairs",
        Recipe(MNIST, 500, "784-128x2-10", steps=300),
        (Sweep("interpolate-all", None, 21, 1, WHOLE_NETWORK_VARIANTS),),
        pairs=5,
    ),
    "wholenet-4x128": Part(
        "MNIST 5k, MLP 784-128x4-10, whole-network interpolation, 5 parent pairs",
        Recipe(MNIST, 500, "784-128x4-10", steps=300),
        (Sweep("interpolate-all", None, 21, 1, WHOLE_NETWORK_VARIANTS),),
        pairs=5,
    ),
    "fc-mnist": Part(
        f"MNIST 5k, FC {FC8}, first and fifth hidden layer",
        Recipe(MNIST, 500, FC8, steps=600),
        (Sweep("transplant", 0, 21, 10, NO_WEIGHT_MATCHING), Sweep("transplant", 4, 21, 10, NO_WEIGHT_MATCHING),
         Sweep("interpolate", 0, 21, 10, tuple(v for v in NO_WEIGHT_MATCHING if v != "direct-outgoing"))),
    ),
    "fc-mnist-native": Part(
        f"MNIST 5k, FC {FC8}, embedding parents trained directly (no fits), first and fifth hidden layer",
        Recipe(MNIST, 500, FC8, steps=600, parents="embedding"),
        (Sweep("transplant", 0, 11, 5, NO_WEIGHT_MATCHING), Sweep("transplant", 4, 11, 5, NO_WEIGHT_MATCHING)),
    ),
    "fc-fashion": Part(
        f"Fashion-MNIST (full), FC {FC8}, first hidden layer",
        Recipe(FASHION, 6000, FC8, steps=600),
        (Sweep("transplant", 0, 21, 10, NO_WEIGHT_MATCHING),
         Sweep("interpolate", 0, 21, 10, tuple(v for v in NO_WEIGHT_MATCHING if v != "direct-outgoing"))),
    ),
    "conv-mnist": Part(
        "MNIST 5k, conv 20c-40c-80c-100-10 (direct separable), first and second conv layer",
        Recipe(MNIST, 500, "20c-40c-80c-100-10", steps=400, batch_size=100, validate_every=50),
        (Sweep("transplant", 0, 5, 2, CONV_VARIANTS), Sweep("interpolate", 0, 5, 2, CONV_VARIANTS),
         Sweep("transplant", 1, 5, 2, CONV_VARIANTS)),
    ),
    "conv-fashion": Part(
        "Fashion-MNIST (full), conv 20c-40c-80c-100-10 (direct separable), first conv layer",
        Recipe(FASHION, 6000, "20c-40c-80c-100-10", steps=400, batch_size=100, validate_every=50),
        (Sweep("transplant", 0, 5, 2, CONV_VARIANTS), Sweep("interpolate", 0, 5, 2, CONV_VARIANTS)),
    ),
}


# --------------------------------------------------------------------------------------- parents
def train_parent(recipe: Recipe, seed: int, train: Dataset, holdout: Dataset,
                 input_encoding: InputEncoding | None = None) -> Genome:
    """A genome of ``recipe.parents``'s encoding trained from a random start; ``seed`` seeds start and
    batches. An embedding parent learns its input encoding unless ``input_encoding`` is given."""
    generator = torch.Generator().manual_seed(seed)
    if recipe.parents == "embedding":
        start = EmbeddingGenome.random(recipe.architecture(), None if input_encoding else recipe.d, init="fan-in",
                                       input_encoding=input_encoding, generator=generator)
    else:
        start = DirectGenome.random(recipe.architecture(), generator=generator)
    config = TrainConfig(steps=recipe.steps, batch_size=recipe.batch_size, validate_every=recipe.validate_every,
                         seed=seed, train_input_encoding=input_encoding is None)
    return train_genome(start, train, holdout, config=config, progress=False).genome


def prepare_pair(recipe: Recipe, index: int, folder: Path, train: Dataset, holdout: Dataset,
                 direct_folder: Path | None = None) -> SweepParents:
    """Parents ``A`` (seed ``2 index``) and ``B`` (seed ``2 index + 1``) and their fits, cached in ``folder``.

    Files: ``A.safetensors``, ``B.safetensors`` (trained parents; direct ones in ``direct_folder``
    when given); for direct parents also ``fit-A.safetensors``, ``fit-B.safetensors`` (embedding; B
    fitted onto A's input encoding). Embedding parents need no fits: their direct pair is their
    generated weights. Missing files are made, present ones loaded.
    """
    trained: list[Genome] = []
    for name, seed in (("A", 2 * index), ("B", 2 * index + 1)):
        path = (direct_folder or folder) / f"{name}.safetensors"
        encoding = trained[0].input_encoding if trained and recipe.parents == "embedding" else None
        if not path.exists():
            started = time.perf_counter()
            save_genome(train_parent(recipe, seed, train, holdout, encoding), path)
            log(f"  trained {path} in {time.perf_counter() - started:.0f} s")
        trained.append(load_genome(path, input_encoding=encoding))
    if recipe.parents == "embedding":  # the direct variants run on the very same networks
        return SweepParents(direct=(direct_equivalent(trained[0]), direct_equivalent(trained[1])),
                            embedding=(trained[0], trained[1]))
    return SweepParents(direct=(trained[0], trained[1]), embedding=fit_pair(trained[0], trained[1], recipe.d, folder))


def fit_pair(a: DirectGenome, b: DirectGenome, d: int, folder: Path, *, seed: int = 0
             ) -> tuple[EmbeddingGenome, EmbeddingGenome]:
    """ALS fits of ``a`` (a new input encoding of width ``d``) and ``b`` (onto ``a``'s fit's encoding,
    held fixed), cached in ``folder`` as ``fit-A.safetensors`` / ``fit-B.safetensors`` (``seed`` 0) or
    ``fit{seed}-A.safetensors`` / ``fit{seed}-B.safetensors``.

    ``seed`` draws the fits' random starts (A's from ``2 seed``, B's from ``2 seed + 1``). Dense ALS
    starts from truncated SVDs and does not use them (every seed gives the same fit); conv fits start
    their free junction's features there and converge to different factorisations from different
    starts (``benchmarks/fit_variance.py`` measures how much that changes what crosses).
    """
    stem = "fit" if seed == 0 else f"fit{seed}"
    fits: list[EmbeddingGenome] = []
    for index, (name, reference) in enumerate(zip("AB", (a, b))):
        path = folder / f"{stem}-{name}.safetensors"
        encoding = fits[0].input_encoding if fits else None
        if not path.exists():
            generator = torch.Generator().manual_seed(2 * seed + index)
            result = fit_to_reference(reference, None if encoding else d, input_encoding=encoding, generator=generator)
            save_genome(result.genome, path)
            log(f"  fitted {path} in {result.wall_time_s:.0f} s, per-layer MSE "
                + ", ".join(f"{m:.2e}" for m in result.per_layer_mse))
        fits.append(load_genome(path, input_encoding=encoding))
    return fits[0], fits[1]


def part_data(recipe: Recipe) -> tuple[Dataset, Dataset, Dataset, torch.Tensor]:
    """``(train, holdout, test, probe)`` of a recipe: the train split less ``recipe.holdout`` images
    held out (seed 0), the test split, and 1,000 probe images of ``train`` (seed 0)."""
    train, holdout = train_holdout_split(load_dataset(recipe.data, "train"), recipe.holdout, seed=0)
    probe = train.images[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:1000]]
    return train, holdout, load_dataset(recipe.data, "test"), probe


# ---------------------------------------------------------------------------------------- sweeps
def pooled(results: list[SweepResult]) -> SweepResult:
    """One result whose repeats are the parent pairs (curves: per-pair means stacked)."""
    first = results[0]
    curves = []
    for index, curve in enumerate(first.curves):
        per_pair = [r.curves[index] for r in results]
        curves.append(VariantCurve(
            curve.variant, curve.coefficients,
            np.stack([c.accuracy.mean(axis=0) for c in per_pair]),
            np.stack([c.cross_entropy.mean(axis=0) for c in per_pair]),
            float(np.mean([c.target_accuracy for c in per_pair])),
            curve.measured_on,
        ))
    parent_accuracy = {k: float(np.mean([r.parent_accuracy[k] for r in results])) for k in first.parent_accuracy}
    setup = dict(first.setup, pairs=len(results), per_pair=[r.summary() for r in results],
                 per_pair_parents=[r.parent_accuracy for r in results],
                 parent_hashes={f"pair{i} {k}": v for i, r in enumerate(results)
                                for k, v in r.setup.get("parent_hashes", {}).items()})
    return SweepResult(first.kind, first.layer, first.dataset, parent_accuracy, curves, setup, first.provenance)


def variants_to_run(path: Path, sweep: Sweep, *, force: bool, requested: tuple[str, ...],
                    keep_stale: bool) -> tuple[str, ...] | None:
    """The variants of ``sweep`` to (re-)run; ``None``: the whole sweep, ``()``: nothing.

    The whole sweep runs when it has no result, its stored grid (points, repeats) differs, or
    ``force``. Otherwise the ``requested`` variants run, and every variant whose curve is stale
    (:func:`stale_variants`: the measured code changed since it was measured) unless ``keep_stale``.
    """
    if force or not path.exists():
        return None
    record = json.loads(path.read_text())
    if len(record["curves"][0]["coefficients"]) != sweep.points or record["setup"].get("repeats") != sweep.repeats:
        return None
    stale = () if keep_stale else tuple(stale_variants(record))
    return tuple(c["variant"] for c in record["curves"] if c["variant"] in requested or c["variant"] in stale)


def changes_since(measured_on: dict) -> list[str]:
    """Code files changed since a curve was measured (:func:`~neuroevo.provenance.stale_code`)."""
    return stale_code(measured_on)


def stale_variants(record: dict) -> dict[str, dict]:
    """``{variant: measured_on}`` for each curve of a result file whose measured code has changed since."""
    return {c["variant"]: c.get("measured_on", {}) for c in record["curves"]
            if changes_since(c.get("measured_on", {}))}


def merged(old: SweepResult, new: SweepResult) -> SweepResult:
    """``old`` with the curves of ``new`` (a re-run of some of its variants) in place of its own.

    Raises:
        ValueError: the re-run's parents are not the stored result's (their content hashes differ,
            or the stored result predates parent hashes, or they score differently): the whole
            sweep must be re-run (``--force``).
    """
    stored = old.setup.get("parent_hashes")
    if stored is None or any(stored.get(k) != v for k, v in new.setup.get("parent_hashes", {}).items()):
        raise ValueError("the stored result's parents are not provably the re-run's (content hashes differ or were "
                         "not recorded): re-run the whole sweep with --force")
    for key, value in new.parent_accuracy.items():
        if abs(old.parent_accuracy.get(key, float("nan")) - value) > 1e-6:
            raise ValueError(f"parent {key} scores {value:.6f} now but {old.parent_accuracy.get(key)} in the stored "
                             "result: the parents changed, re-run the whole sweep with --force")
    replaced = {c.variant: c for c in new.curves}
    setup = dict(old.setup)
    setup["reruns"] = [*old.setup.get("reruns", []), {"variants": list(replaced), "commit": new.provenance["commit"],
                                                      "wall_time_s": new.setup.get("wall_time_s")}]
    if "per_pair" in old.setup:
        setup["per_pair"] = [[next((r for r in new_rows if r["variant"] == row["variant"]), row) for row in old_rows]
                             for old_rows, new_rows in zip(old.setup["per_pair"], new.setup["per_pair"])]
    curves = [replaced.get(c.variant, c) for c in old.curves]
    return SweepResult(old.kind, old.layer, old.dataset, old.parent_accuracy, curves, setup, new.provenance)


def run_part(name: str, part: Part, cache: Path, figures: Path, *, force: bool = False,
             requested: tuple[str, ...] = (), keep_stale: bool = False, stems: tuple[str, ...] = ()) -> None:
    """Prepare the part's parents (cached) and run each sweep (or the variants of it) that
    :func:`variants_to_run` names; measure the fits' layer-summary mismatch (dense parts) if it is
    not on file. A partial re-run is merged into the stored result file (:func:`merged`). ``stems``
    (e.g. ``("transplant-layer0",)``) limits the run to those sweeps."""
    plan = {s: variants_to_run(figures / f"{name}-{s.stem}.json", s, force=force, requested=requested,
                               keep_stale=keep_stale) for s in part.sweeps if not stems or s.stem in stems}
    todo = {s: v for s, v in plan.items() if v is None or v}
    mismatch_path = figures / f"{name}-summaries.json"
    wants_mismatch = "c" not in part.recipe.arch and (
        force or not mismatch_path.exists() or (not keep_stale and bool(stale_code(json.loads(mismatch_path.read_text())))))
    if not todo and not wants_mismatch:
        log(f"{name}: every sweep has a current result (use --force to redo)")
        return
    recipe = part.recipe
    train, holdout, test, probe = part_data(recipe)
    log(f"{name}: preparing {part.pairs} parent pair(s) ({recipe.arch}, {recipe.steps} steps)")
    pairs = [prepare_pair(recipe, i, cache / name / f"pair{i}", train, holdout,
                          cache / part.parents_from / f"pair{i}" if part.parents_from else None)
             for i in range(part.pairs)]
    if wants_mismatch:
        write_summary_mismatch(mismatch_path, pairs, test)
    for sweep, only in todo.items():
        started = time.perf_counter()
        variants = list(only) if only else (list(sweep.variants) if sweep.variants else None)
        coefficients = np.linspace(0, 1, sweep.points).round(4)
        results = [run_sweep(sweep.kind, p, test, layer=sweep.layer, coefficients=coefficients,
                             repeats=sweep.repeats, variants=variants, probe=probe, progress=False)
                   for p in pairs]
        result = results[0] if len(results) == 1 else pooled(results)
        result.setup.update(
            part=name, title=part.title, recipe=vars(recipe) | {"architecture": recipe.arch},
            probe="1000 images of the train split minus holdout (seed 0)",
            command=f"python benchmarks/reproduce_sweeps.py --only {name}",
            wall_time_s=round(time.perf_counter() - started, 1),
        )
        if only:
            result = merged(SweepResult.from_json((figures / f"{name}-{sweep.stem}.json").read_text()), result)
        result.write(figures, f"{name}-{sweep.stem}")
        rerun = f" ({', '.join(only)})" if only else ""
        log(f"{name}: {sweep.stem}{rerun} done in {time.perf_counter() - started:.0f} s")


def write_summary_mismatch(path: Path, pairs: list[SweepParents], test: Dataset) -> None:
    """``|F_l^B - F_l^A| / |F_l^A|`` per hidden layer of each pair's embedding parents
    (:func:`summary_mismatch`), on the first test images (as many as ``neuroevo sweep`` uses), as JSON."""
    images = test.images[:SUMMARY_IMAGES]
    split = f"{test.name} {test.split}, first {len(images)} images"
    record = {**provenance(dataset=test.name, split=split), "split": split,
              "pairs": [summary_mismatch(*p.embedding, images) for p in pairs]}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1)))
    log(f"  summary mismatch per hidden layer: {record['pairs']}")


# ---------------------------------------------------------------------------------------- report
def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


STALE_MARK = "†"


def _variant(record: dict, index: int) -> str:
    """The variant's name in a table, marked :data:`STALE_MARK` if its measured code changed since."""
    curve = record["curves"][index]
    return curve["variant"] + (f" {STALE_MARK}" if changes_since(curve.get("measured_on", {})) else "")


def staleness_note(records: list[dict], name: str) -> list[str]:
    """A paragraph under a part's tables naming the commits of its stale curves (empty if none)."""
    commits = sorted({str(c.get("measured_on", {}).get("commit"))[:10] for r in records for c in r["curves"]
                      if changes_since(c.get("measured_on", {}))})
    if not commits:
        return []
    files = sorted({f for r in records for c in r["curves"] for f in changes_since(c.get("measured_on", {}))})
    return [f"{STALE_MARK} Stale: measured at commit {', '.join(commits)}; the measured code (neuroevo/, operators/, "
            f"populations/) has changed since in {len(files)} file(s). Re-run with "
            f"`python benchmarks/reproduce_sweeps.py --only {name}`.", ""]


def sweep_table(record: dict) -> str:
    """Markdown table of one result file: retention at 0.5 / 1.0 and AUC per variant."""
    rows = ["| variant | target acc. % | retention @0.5 | retention @1.0 | retention AUC |", "|---|---|---|---|---|"]
    for index, row in enumerate(record["summary"]):
        rows.append(f"| {_variant(record, index)} | {_pct(row['target_accuracy'])} | {row['retention_at_0.5']:.3f} | "
                    f"{row['retention_at_1.0']:.3f} | {row['retention_auc']:.3f} |")
    return "\n".join(rows)


def all_hidden_table(record: dict) -> str:
    """Markdown table of a transplant-all-hidden result: retention, and child accuracy at 0.5 vs the parents' mean."""
    rows = ["| variant | target acc. % | retention @0.5 | retention @1.0 | retention AUC | child acc. % @0.5 | "
            "child @0.5 / parents' mean |", "|---|---|---|---|---|---|---|"]
    parents = record["parent_accuracy"]
    for index, (row, curve) in enumerate(zip(record["summary"], record["curves"])):
        encoding = "embedding" if curve["variant"].startswith("embedding") else "direct"
        mean_parent = (parents[f"{encoding} A"] + parents[f"{encoding} B"]) / 2
        column = int(np.argmin(np.abs(np.asarray(curve["coefficients"]) - 0.5)))
        child = float(np.mean(np.asarray(curve["accuracy"])[:, column]))
        rows.append(f"| {_variant(record, index)} | {_pct(row['target_accuracy'])} | {row['retention_at_0.5']:.3f} | "
                    f"{row['retention_at_1.0']:.3f} | {row['retention_auc']:.3f} | {_pct(child)} | "
                    f"{child / mean_parent:.3f} |")
    return "\n".join(rows)


def whole_network_table(record: dict) -> str:
    """Midpoint accuracy and loss barrier: mean (min-max) over pairs, beside the published anchors."""
    per_pair = record["setup"].get("per_pair", [record["summary"]])
    anchors = ANCHORS.get(record["setup"].get("recipe", {}).get("arch"))
    anchor_of = {"direct": 0, "direct-aligned-activation": 1, "direct-aligned-repair": 2}
    rows = ["| variant | endpoint acc. % (A, B; mean) | midpoint acc. %: mean (min-max) | loss barrier (nats): "
            "mean (min-max) | published midpoint % |", "|---|---|---|---|---|"]
    for index, curve in enumerate(record["curves"]):
        mids = np.array([pair[index]["midpoint_accuracy"] for pair in per_pair]) * 100
        barriers = np.array([pair[index]["loss_barrier"] for pair in per_pair])
        accuracy = np.asarray(curve["accuracy"])
        published = f"{anchors[anchor_of[curve['variant']]]:.1f}" if anchors and curve["variant"] in anchor_of else ""
        rows.append(f"| {_variant(record, index)} | {accuracy[:, 0].mean() * 100:.1f}, {accuracy[:, -1].mean() * 100:.1f} | "
                    f"{mids.mean():.1f} ({mids.min():.1f}-{mids.max():.1f}) | "
                    f"{barriers.mean():.3f} ({barriers.min():.3f}-{barriers.max():.3f}) | {published} |")
    return "\n".join(rows)


def render(figures: Path, results_path: Path) -> str:
    """The generated markdown block: one subsection per part with a result, tables and figures."""
    lines = [BEGIN, ""]
    relative = Path(os.path.relpath(figures, results_path.parent))
    for name, part in PARTS.items():
        files = [figures / f"{name}-{s.stem}.json" for s in part.sweeps]
        records = [(s, json.loads(f.read_text())) for s, f in zip(part.sweeps, files) if f.exists()]
        if not records:
            lines += [f"### {part.title}", "", f"(not run: `python benchmarks/reproduce_sweeps.py --only {name}`)", ""]
            continue
        r = part.recipe
        parents = ", ".join(f"{k} {_pct(v)}%" for k, v in records[0][1]["parent_accuracy"].items())
        if r.parents == "embedding":
            encoding = f"embedding genomes trained directly (d = {r.d}, fan-in init)"
            embeddings = ("A learned its input encoding, B trained on A's held fixed; no fits; the direct variants "
                          "cross the same networks as direct genomes (their generated weights)")
        else:
            encoding = "direct separable" if "c" in r.arch else "direct"
            embeddings = f"fits: ALS, d = {r.d}, B on A's input encoding"
        lines += [
            f"### {part.title}", "",
            f"Parents: `{r.arch}` {encoding}, {part.pairs} pair(s), seeds 2i / 2i+1, "
            f"Adam one-cycle (max lr 0.01), batch {r.batch_size}, {r.steps} steps, best holdout step "
            f"({r.holdout} training images held out); {embeddings}. "
            f"Test accuracy ({records[0][1]['dataset']}){' (mean over pairs)' if part.pairs > 1 else ''}: {parents}.",
            "", f"`python benchmarks/reproduce_sweeps.py --only {name}`", "",
        ]
        mismatch_path = figures / f"{name}-summaries.json"
        if mismatch_path.exists():
            mismatch = json.loads(mismatch_path.read_text())
            per_layer = np.mean(mismatch["pairs"], axis=0)
            lines += ["Layer-summary mismatch of the embedding parents, |F_B - F_A| / |F_A| per hidden layer "
                      f"({mismatch['split']}{', mean over pairs' if part.pairs > 1 else ''}): "
                      + ", ".join(f"layer {i} {v:.2f}" for i, v in enumerate(per_layer)) + ".", ""]
        for sweep, record in records:
            where = "every layer" if sweep.layer is None else f"layer {sweep.layer}"
            grid = (f"{sweep.points} coefficients x {sweep.repeats} repeat(s){' per pair' if part.pairs > 1 else ''} "
                    f"({record['setup']['wall_time_s']} s)")
            if sweep.kind == "transplant-all-hidden":
                lines += [f"**transplant of every hidden layer at once**: {grid}:", "", all_hidden_table(record),
                          "", f"![{name} {sweep.stem}]({relative / f'{name}-{sweep.stem}.png'})", ""]
                continue
            header = f"**{sweep.kind}, {where}**: {grid}"
            table = whole_network_table(record) if sweep.kind == "interpolate-all" and part.pairs > 1 else sweep_table(record)
            if sweep.kind == "interpolate-all" and part.pairs == 1:
                table += "\n\n" + whole_network_table(record)
            lines += [header + ":", "", table, "", f"![{name} {sweep.stem}]({relative / f'{name}-{sweep.stem}.png'})", ""]
        lines += staleness_note([record for _, record in records], name)
    lines += aims_section(figures)
    speed = figures / "speed.json"
    if speed.exists():
        lines += speed_section(json.loads(speed.read_text()))
    lines.append(END)
    return "\n".join(lines)


#: The aims setup (784-400-400-10, MNIST 5k) and its variations, as columns of the aims table.
AIM_PARTS = (("fc2-mnist", "fits of direct parents (1000 steps, d = 64)"), ("fc2-mnist-d256", "same, d = 256"),
             ("fc2-mnist-400steps", "fits, parents trained 400 steps"),
             ("fc2-mnist-100steps", "fits, parents trained 100 steps"),
             ("fc2-mnist-native", "parents trained as embedding genomes, 1000 steps"),
             ("fc2-mnist-native-400steps", "same, 400 steps"))


def _load(figures: Path, stem: str) -> dict | None:
    path = figures / f"{stem}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _row_of(record: dict | None, variant: str) -> dict | None:
    return next((row for row in record["summary"] if row["variant"] == variant), None) if record else None


def _child_over_parents(record: dict, variant: str, coefficient: float = 0.5) -> float | None:
    """Mean child accuracy at ``coefficient`` over the mean of the two parents' accuracies."""
    curve = next((c for c in record["curves"] if c["variant"] == variant), None)
    if curve is None:
        return None
    encoding = "embedding" if variant.startswith("embedding") else "direct"
    parents = record["parent_accuracy"]
    column = int(np.argmin(np.abs(np.asarray(curve["coefficients"]) - coefficient)))
    return float(np.mean(np.asarray(curve["accuracy"])[:, column])) / ((parents[f"{encoding} A"] + parents[f"{encoding} B"]) / 2)


def _aim_cells(figures: Path, part: str) -> dict[str, tuple[str, bool | None]]:
    """Per aim, the cell text of one part and whether the part meets the aim (``None``: not run)."""
    first = _load(figures, f"{part}-transplant-layer0")
    cells: dict[str, tuple[str, bool | None]] = {}
    embedding, aligned = _row_of(first, "embedding"), _row_of(first, "embedding-aligned")
    repair, direct = _row_of(first, "direct-aligned-repair"), _row_of(first, "direct")
    if embedding:
        extra = ", ".join(f"{name} {_pct(row['retention_at_1.0'])}%" for name, row in (("direct", direct),
                          ("direct aligned + REPAIR", repair)) if row)
        cells["transplant"] = (f"{_pct(embedding['retention_at_1.0'])}%" + (f" ({extra})" if extra else ""),
                               embedding["retention_at_1.0"] >= 0.98)
    else:
        cells["transplant"] = ("not run", None)
    if aligned:
        cells["aligned"] = (f"{_pct(aligned['retention_at_1.0'])}% (at 0.5: {_pct(aligned['retention_at_0.5'])}%)",
                            aligned["retention_at_1.0"] >= 0.99)
    else:
        cells["aligned"] = ("not run", None)
    every = _load(figures, f"{part}-transplant-all-hidden")
    if every:
        values = {v: _child_over_parents(every, v) for v in ("embedding", "embedding-aligned", "direct-aligned-repair",
                                                             "direct-outgoing")}
        text = ", ".join(f"{v} {_pct(x)}%" for v, x in values.items() if x is not None)
        best = max(x for v, x in values.items() if v.startswith("embedding") and x is not None)
        cells["all-hidden"] = (text, best >= 0.90)
    else:
        cells["all-hidden"] = ("not run", None)
    whole = _load(figures, f"{part}-interpolate-all")
    if whole:
        barrier = {row["variant"]: row.get("loss_barrier") for row in whole["summary"]}
        ours, theirs = barrier.get("embedding-aligned"), barrier.get("direct-aligned-repair")
        text = ", ".join(f"{v} {barrier[v]:.3f}" for v in ("embedding", "embedding-aligned", "direct-aligned-repair")
                         if barrier.get(v) is not None)
        cells["barrier"] = (text + " nats", None if ours is None or theirs is None else ours <= theirs + 1e-9)
    else:
        cells["barrier"] = ("not run", None)
    return cells


AIMS = (("transplant", "embedding transplant keeps >= 98% at coefficient 1.0 (first hidden layer)"),
        ("aligned", "aligned embedding transplant keeps >= 99% at 1.0"),
        ("all-hidden", "every hidden layer crossed at 0.5 keeps >= 90% of the parents' mean (child / parents' mean)"),
        ("barrier", "whole-network interpolation: aligned embedding barrier <= aligned + REPAIR's"))


def aims_section(figures: Path) -> list[str]:
    """The issue's aims on the aims setup and its variations, and the layer-summary table, from the result files."""
    parts = [(name, title) for name, title in AIM_PARTS if (figures / f"{name}-transplant-layer0.json").exists()]
    if not parts:
        return []
    cells = {name: _aim_cells(figures, name) for name, _ in parts}
    lines = ["### The issue's aims, measured", "",
             "784-400-400-10, MNIST 5k, retention on the official test split (multi-pair parts: mean over pairs); "
             "generated from the result files above.", "",
             "| aim | " + " | ".join(title for _, title in parts) + " | met by |",
             "|---" * (len(parts) + 2) + "|"]
    for key, label in AIMS:
        met = [name for name, _ in parts if cells[name][key][1]]
        lines.append(f"| {label} | " + " | ".join(cells[name][key][0] for name, _ in parts) + f" | {', '.join(met) or 'none'} |")
    stale = [name for name, _ in parts for sweep in ("transplant-layer0", "transplant-layer1", "transplant-all-hidden",
                                                      "interpolate-all")
             if (record := _load(figures, f"{name}-{sweep}")) and stale_variants(record)]
    if stale:
        lines += ["", f"{STALE_MARK} Some of these cells come from stale curves (marked {STALE_MARK} above): "
                  + ", ".join(dict.fromkeys(stale)) + "."]
    lines += ["", "Layer-summary mismatch `|F_B - F_A| / |F_A|` per hidden layer beside the embedding transplant's "
              "retention in that layer:", "",
              "| parents | mismatch, layer 0 | transplant layer 0, retention @1.0 | mismatch, layer 1 | "
              "transplant layer 1, retention @0.5 / @1.0 |", "|---|---|---|---|---|"]
    for name, title in parts:
        summaries = _load(figures, f"{name}-summaries")
        mismatch = np.mean(summaries["pairs"], axis=0) if summaries else [float("nan")] * 2
        first = _row_of(_load(figures, f"{name}-transplant-layer0"), "embedding")
        second = _row_of(_load(figures, f"{name}-transplant-layer1"), "embedding")
        lines.append(f"| {title} | {mismatch[0]:.2f} | {first['retention_at_1.0']:.3f} | {mismatch[1]:.2f} | "
                     + (f"{second['retention_at_0.5']:.3f} / {second['retention_at_1.0']:.3f}" if second else "not run")
                     + " |")
    return lines + [""]


def speed_section(record: dict) -> list[str]:
    """The speed benchmark's table (``benchmarks/sweep_speed.py`` output)."""
    return [
        "### Speed: batched sweep vs one model at a time", "",
        f"{record['description']}", "",
        "| evaluation | children | children scored | wall s (measured) | wall s (whole sweep) |",
        "|---|---|---|---|---|",
        f"| batched (`evaluate_population`) | {record['children']} | {record['children']} | "
        f"{record['batched_s']:.1f} | {record['batched_s']:.1f} |",
        f"| one model at a time (`evaluate_genome`) | {record['children']} | {record['sequential_scored']} | "
        f"{record['sequential_s']:.1f} | {record['sequential_full_s']:.1f} |",
        "", f"Ratio (one at a time / batched, whole sweep): **{record['ratio']:.2f}x**; largest accuracy "
        f"difference between the two: {record['max_accuracy_difference']:.1e}. Command: `{record['command']}`", "",
    ] + ([f"CPU seconds (process, medians): batched {record['batched_cpu_s']:.1f}, one at a time "
          f"{record['sequential_cpu_s']:.1f} ({record['sequential_cpu_s'] / record['batched_cpu_s']:.2f}x).", ""]
         if "batched_cpu_s" in record else []) + ([f"Rounds (batched s / one at a time s, interleaved): "
          + ", ".join(f"{r['batched_s']:.1f} / {r['sequential_full_s']:.1f}" for r in record["rounds"])
          + f"; 1-minute load average {record['load_average_1min']['before']:.1f} before, "
          f"{record['load_average_1min']['after']:.1f} after, on {record['load_average_1min']['cpus']} CPUs.", ""]
         if "rounds" in record else []) + ([f"{STALE_MARK} Stale: measured at commit {str(record.get('commit'))[:10]}; the measured code has changed "
          "since. Re-run with the command above.", ""] if stale_code(record) else [])


def update_results(results_path: Path, block: str) -> None:
    """Replace the generated block in ``results_path`` (or append the section) in one atomic write."""
    text = results_path.read_text() if results_path.exists() else "# Results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{block}\n"
    atomic_write(results_path, lambda tmp: tmp.write_text(text))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(PARTS), help="run these parts only (default: all)")
    parser.add_argument("--cache", type=Path, default=Path("runs/sweeps"), help="trained parents and fits")
    parser.add_argument("--figures", type=Path, default=Path("docs/figures/sweeps"), help="result files")
    parser.add_argument("--results", type=Path, default=Path("docs/RESULTS.md"), help="markdown to update")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the markdown block")
    parser.add_argument("--force", action="store_true", help="redo sweeps whose result files exist")
    parser.add_argument("--variants", nargs="+", default=(), metavar="VARIANT",
                        help="re-run these variants of every selected sweep that has them, merged into the stored files")
    parser.add_argument("--sweeps", nargs="+", default=(), metavar="STEM",
                        help="run only these sweeps of each part (e.g. transplant-layer0 transplant-all-hidden)")
    parser.add_argument("--keep-stale", action="store_true",
                        help="do not re-run results whose measured code changed since (RESULTS marks them stale)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    code_fingerprint()  # the code as loaded now is what every result of this run records
    if not args.report_only:
        for name in args.only or PARTS:
            run_part(name, PARTS[name], args.cache, args.figures, force=args.force,
                     requested=tuple(args.variants), keep_stale=args.keep_stale, stems=tuple(args.sweeps))
    update_results(args.results, render(args.figures, args.results))
    log(f"updated {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
