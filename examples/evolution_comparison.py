"""Evolution in which crossover pays: every design of issue 11 with its arms, at equal cost.

Designs (``populations.memetic``, ``populations.specialists``, ``populations.neuron_evolution``):

* ``shared-ancestor`` (the main design, designs 1 + 2 of the issue): memetic (Lamarckian)
  evolution of embedding genomes that all descend from one ancestor and share its input encoding;
  every generation each selected parent learns K Adam steps on its own minibatches, then the
  learned parents are varied and scored. Arms: aligned interpolation crossover (a "model soup" of
  two members), aligned transplant crossover, mutation only, none (selected copies), independent
  members (no selection), aligned direct interpolation with REPAIR on direct genomes, and plain Adam
  training of the ancestor alone with the same total gradient steps.
* ``fresh-members`` (design 1 alone): as above, but the members start from different random
  genomes on the ancestor's input encoding (no common ancestry).
* ``specialists`` (design 3): the members descend from the ancestor and are trained further on one
  half of the classes each before memetic evolution on all classes.
* ``neuron-level`` (design 4, SANE/ESP): subpopulations of neuron records per slot, evolved without
  gradient steps at equal evaluations with a whole-network mutation GA.

Each run is one record of ``docs/results/evolution_comparison.json`` (test and holdout accuracy of
the final best individual by fitness, evaluations and gradient steps as counted by the code). The
script is resumable: records already in the output file are skipped unless the measured code
changed since the commit they were measured on (``neuroevo.provenance.changed_since``). At the end
it writes learning-curve PNGs and the section "Evolution in which crossover pays (issue 11)" of
``docs/RESULTS.md`` from the JSON::

    OMP_NUM_THREADS=1 python examples/evolution_comparison.py
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import neuroevo.data as data
from neuroevo.data import Dataset, load_dataset, train_holdout_split
from neuroevo.evaluation import evaluate_genome
from neuroevo.files import atomic_write
from neuroevo.provenance import changed_since, provenance
from populations.comparison import (
    arm_label,
    check_equal_budget,
    mean_curve_value,
    plot_curves,
    separation,
    summarise,
    summary_table,
)
from populations import EvolutionResult
from populations.memetic import MemeticSettings, fresh_members, run_memetic
from populations.plots import mean_confidence_interval
from populations.neuron_evolution import run_neuron_level
from populations.specialists import specialist_population

SECTION_HEADING = "## Evolution in which crossover pays (issue 11)"
BEGIN, END = "<!-- evolution_comparison:begin -->", "<!-- evolution_comparison:end -->"
HOLDOUT = 1000
SUBSET = 5000
#: Budget of the neuron-level design: generations and networks per record per generation.
NEURON_GENERATIONS, NEURON_TRIALS = 10, 4


@dataclass(frozen=True)
class Arm:
    design: str
    encoding: str
    variation: str
    operator: str
    run: Callable[[Dataset, Dataset, MemeticSettings, int], EvolutionResult]
    #: Settings that differ from the main design's, as ``(name, value)`` pairs.
    changes: tuple[tuple[str, Any], ...] = ()


def _memetic(variation: str, crossover: str = "interpolate-aligned", encoding: str = "embedding",
             initial: Callable | None = None) -> Callable[[Dataset, Dataset, MemeticSettings, int], EvolutionResult]:
    def run(train: Dataset, holdout: Dataset, settings: MemeticSettings, seed: int) -> EvolutionResult:
        start = None if initial is None else (lambda root, s, sd: initial(root, train, s, sd))
        return run_memetic(train, holdout, settings, variation=variation, crossover=crossover, encoding=encoding,
                           seed=seed, initial=start)
    return run


def _neuron(variation: str) -> Callable[[Dataset, Dataset, MemeticSettings, int], EvolutionResult]:
    def run(train: Dataset, holdout: Dataset, settings: MemeticSettings, seed: int) -> EvolutionResult:
        return run_neuron_level(train, holdout, settings, variation=variation, generations=NEURON_GENERATIONS,
                                trials=NEURON_TRIALS, seed=seed)
    return run


def _fresh(root, train, settings, seed):
    return fresh_members(root, settings, seed)


def _specialists(root, train, settings, seed):
    return specialist_population(root, train, settings)


def arms() -> list[Arm]:
    """Every arm of every design; the main design first."""
    result = [
        Arm("shared-ancestor", "embedding", "crossover", "interpolate-aligned", _memetic("crossover")),
        Arm("shared-ancestor", "embedding", "crossover", "transplant-aligned",
            _memetic("crossover", "transplant-aligned")),
        Arm("shared-ancestor", "embedding", "mutation-only", "gaussian", _memetic("mutation-only")),
        Arm("shared-ancestor", "embedding", "none", "copy", _memetic("none")),
        Arm("shared-ancestor", "embedding", "independent", "none", _memetic("independent")),
        Arm("shared-ancestor", "direct", "crossover", "interpolate-aligned-repair",
            _memetic("crossover", "interpolate-aligned-repair", "direct")),
        Arm("shared-ancestor", "adam", "none", "plain-adam", _memetic("adam")),
    ]
    for variation, operator in (("crossover", "interpolate-aligned"), ("mutation-only", "gaussian"),
                                ("none", "copy"), ("independent", "none")):
        result.append(Arm("shared-ancestor-constant-lr", "embedding", variation, operator, _memetic(variation),
                          (("lr_final", MemeticSettings().lr),)))
    for variation, operator in (("crossover", "interpolate-aligned"), ("mutation-only", "gaussian"),
                                ("none", "copy"), ("independent", "none")):
        result.append(Arm("fresh-members", "embedding", variation, operator, _memetic(variation, initial=_fresh)))
    for variation, operator, crossover in (("crossover", "interpolate-aligned", "interpolate-aligned"),
                                           ("crossover", "transplant-aligned", "transplant-aligned"),
                                           ("mutation-only", "gaussian", ""), ("none", "copy", ""),
                                           ("independent", "none", "")):
        result.append(Arm("specialists", "embedding", variation, operator,
                          _memetic(variation, crossover or "interpolate-aligned", initial=_specialists)))
    for variation, operator in (("crossover", "esp-interpolate"), ("mutation-only", "esp-gaussian"),
                                ("none", "esp-reassembly")):
        result.append(Arm("neuron-level", "embedding", variation, operator, _neuron(variation)))
    result.append(Arm("neuron-level", "embedding", "mutation-only", "whole-network-gaussian", _neuron("whole-network")))
    return result


def load_splits(source: str) -> tuple[Dataset, Dataset, Dataset]:
    """``(train, holdout, test)``: a 5,000-image training subset (the whole of MNIST's 5k subset; a
    random subset, seed 0, of Fashion-MNIST's 60k) split stratified (seed 0) into 4,000 / 1,000,
    and the official 10k test split."""
    train = load_dataset(source, "train")
    if len(train) > SUBSET:
        train = train.subset(torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:SUBSET],
                             f"train-subset-{SUBSET}")
    train, holdout = train_holdout_split(train, HOLDOUT, seed=0, stratify=True)
    return train, holdout, load_dataset(source, "test")


#: How to get each data set when it is missing.
DATA_ADVICE = {
    "mnist": "the built-in mnist-small ships with neuroevo; full MNIST needs --mnist mnist with internet access",
    "fashion-mnist": "apt-get install dataset-fashion-mnist (files in /usr/share/datasets/fashion-mnist), or "
                     "--fashion fashion-mnist after `neuroevo train --data fashion-mnist --download` has fetched it",
}


def _load_or_explain(dataset: str, source: str) -> tuple[Dataset, Dataset, Dataset]:
    """:func:`load_splits`, or a ``SystemExit`` that names the data set and how to get it."""
    try:
        return load_splits(source)
    except (ValueError, OSError) as error:
        raise SystemExit(f"evolution_comparison: cannot load {dataset} from {source!r} ({error}); to get it: "
                         f"{DATA_ADVICE.get(dataset, 'see the README, Your own data')}; or leave it out with "
                         f"--secondary-datasets and --{'fashion' if dataset == 'fashion-mnist' else dataset} "
                         "none") from error


def _key(record: dict[str, Any]) -> tuple:
    return (record["dataset"], record["design"], record["encoding"], record["variation"], record["operator"],
            record["seed"])


def _finite(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _write(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, indent=1) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.output)
    document = json.loads(path.read_text()) if path.exists() else {"runs": []}
    fresh = {}
    stale_cache: dict[str | None, bool] = {}
    for record in document.get("runs", []):
        commit = record.get("commit")
        if commit not in stale_cache:
            stale_cache[commit] = bool(changed_since(commit)) and not args.keep_stale
        if not stale_cache[commit]:
            fresh[_key(record)] = record
    settings = MemeticSettings()
    datasets = {name: None if source in (None, "none") else source
                for name, source in (("mnist", args.mnist), ("fashion-mnist", args.fashion))}
    selected = [a for a in arms() if args.designs is None or a.design in args.designs]
    runs = list(fresh.values())
    record_provenance = provenance()
    document = {"commit": record_provenance["commit"], "provenance": record_provenance,
                "settings": asdict(settings), "runs": runs}
    splits: dict[str, tuple[Dataset, Dataset, Dataset]] = {}
    main_designs = ("shared-ancestor", "shared-ancestor-constant-lr")
    phases = ([a for a in selected if a.design == main_designs[0]],
              [a for a in selected if a.design == main_designs[1]],
              [a for a in selected if a.design not in main_designs])
    pending = [(dataset, seed, arm)
               for phase, n_seeds, phase_datasets in ((phases[0], args.seeds, list(datasets)),
                                                      (phases[1], args.seeds, list(datasets)),
                                                      (phases[2], args.secondary_seeds, args.secondary_datasets))
               for dataset in phase_datasets if datasets.get(dataset) is not None
               for seed in range(n_seeds) for arm in phase
               if (dataset, arm.design, arm.encoding, arm.variation, arm.operator, seed) not in fresh]
    for dataset in dict.fromkeys(dataset for dataset, _, _ in pending):  # every data set before the first run
        splits[dataset] = _load_or_explain(dataset, datasets[dataset])
    for dataset, seed, arm in pending:
        key = (dataset, arm.design, arm.encoding, arm.variation, arm.operator, seed)
        train, holdout, test = splits[dataset]
        start = time.perf_counter()
        result = arm.run(train, holdout, replace(settings, **dict(arm.changes)), seed)
        record = {
            "dataset": dataset, "design": arm.design, "encoding": arm.encoding,
            "variation": arm.variation, "operator": arm.operator, "seed": seed,
            "evaluations": result.evaluations, "gradient_steps": result.gradient_steps,
            "test_accuracy": evaluate_genome(result.best, test).accuracy,
            "holdout_accuracy": evaluate_genome(result.best, holdout).accuracy,
            "commit": record_provenance["commit"], "dirty": record_provenance["dirty"],
            "wall_s": round(time.perf_counter() - start, 2),
            "curve": [{k: _finite(v) for k, v in point.to_dict().items()} for point in result.curve],
        }
        runs.append(record)
        fresh[key] = record
        _write(path, document)
        print(f"{dataset} {arm.design} {arm_label(record)} seed {seed}: test "
              f"{record['test_accuracy']:.4f} holdout {record['holdout_accuracy']:.4f} "
              f"({record['wall_s']} s)", flush=True)
    _write(path, document)
    return document


DESIGN_NOTES = {
    "shared-ancestor": "`shared-ancestor` (the main design, designs 1 + 2 of the issue): every member is a copy of "
                       "the ancestor; in each generation the selected parents learn K steps on their own minibatches, "
                       "then they are varied and the varied children are scored (a crossover child is the aligned "
                       "interpolation of two freshly trained members, a model soup).",
    "shared-ancestor-constant-lr": "`shared-ancestor-constant-lr`: the same with the learning rate held constant "
                                   "(no decay), where each member's weights carry the full minibatch noise.",
    "fresh-members": "`fresh-members` (design 1 alone): the members start from different random genomes on the "
                     "ancestor's frozen input encoding (shared basis, no common ancestry).",
    "specialists": "`specialists` (design 3): member i is the ancestor trained further on one half of the classes "
                   "(0-4 or 5-9, alternating) before the memetic loop on all classes; those specialist steps are "
                   "counted in every arm's gradient steps.",
    "neuron-level": f"`neuron-level` (design 4, ESP): the members after one learning step each form the slots' "
                    f"subpopulations (neurons matched by embedding), evolved without gradient steps for "
                    f"{NEURON_GENERATIONS} generations, each record joining {NEURON_TRIALS} assembled networks per "
                    f"generation; the whole-network arm is DEAP's eaSimple with Gaussian mutation at the same "
                    f"number of evaluations.",
}


def _paired(runs: list[dict[str, Any]], arm: Any, rival: str) -> str:
    """Mean ± 95% t half-width of ``arm`` minus ``rival`` test accuracy over the seeds both ran (the
    arms of one seed start from the same ancestor), in points."""
    def by_seed(label: str) -> dict[int, float]:
        return {r["seed"]: r["test_accuracy"] for r in runs
                if (r["dataset"], r["design"]) == (arm.dataset, arm.design) and arm_label(r) == label}
    mine, theirs = by_seed(arm.label), by_seed(rival)
    differences = [100 * (mine[k] - theirs[k]) for k in sorted(mine.keys() & theirs.keys())]
    if len(differences) < 2:
        return "n/a"
    mean, half = mean_confidence_interval(np.asarray(differences)[:, None])
    return f"{mean[0]:+.2f} ± {half[0]:.2f}"


def _findings(summaries: list, runs: list[dict[str, Any]]) -> list[str]:
    """One generated sentence per data set and design: does the main crossover arm separate from
    mutation only, none and independent (95% intervals disjoint), and how far is it from plain Adam."""
    lines = ["**Findings (generated from the tables below).**", ""]
    first_crossover = {}
    for s in summaries:
        if s.variation == "crossover" and s.encoding == "embedding":
            first_crossover.setdefault((s.dataset, s.design), s)
    met_where = []
    for s in first_crossover.values():
        group = [o for o in summaries if (o.dataset, o.design) == (s.dataset, s.design)]
        verdict = separation(group, s)
        rivals = {label: v for label, v in verdict.items()
                  if label.startswith("embedding")
                  and label.split(" / ")[1] in ("mutation-only", "none", "independent")}
        met = bool(rivals) and all(v == "above" for v in rivals.values())
        parts = [f"{' / '.join(label.split(' / ')[1:])} {100 * (s.test[0] - o.test[0]):+.2f} points ({rivals[label]}; paired by "
                 f"seed: {_paired(runs, s, label)})" for label in rivals for o in group if o.label == label]
        adam = [o for o in group if o.encoding == "adam"]
        if met and s.n >= 10:
            met_where.append(f"{s.dataset} / {s.design}")
        text = (f"* {s.dataset}, {s.design}: the {s.operator} crossover arm ({100 * s.test[0]:.2f}% test, {s.n} seeds) "
                f"{'separates from' if met else 'does not separate from all of'} the arms without crossover: "
                + "; ".join(parts) + " (crossover minus arm, test accuracy, points).")
        if adam:
            gap = 100 * (s.test[0] - adam[0].test[0])
            text += f" Against plain Adam with the same gradient steps: {gap:+.2f} points."
        arm_runs = [r for r in runs if (r["dataset"], r["design"], r["encoding"], r["variation"], r["operator"])
                    == (s.dataset, s.design, s.encoding, s.variation, s.operator)]
        gains = [100 * (mean_curve_value(arm_runs, "mean", g) - mean_curve_value(arm_runs, "intermediate_avg", g))
                 for g in (1, -1)] if arm_runs and arm_runs[0].get("curve") and len(arm_runs[0]["curve"]) > 1 else []
        if gains and not any(math.isnan(g) for g in gains):
            text += (f" What crossover does to the population: the scored children minus their freshly trained "
                     f"parents average {gains[0]:+.2f} points of holdout accuracy at generation 1 and {gains[1]:+.2f} "
                     f"at the last generation, while the prediction disagreement between members falls from "
                     f"{_nan_to_text(mean_curve_value(arm_runs, 'diversity', 1))}% to "
                     f"{_nan_to_text(mean_curve_value(arm_runs, 'diversity', -1))}%.")
        wall = sorted(r["wall_s"] for r in runs if (r["dataset"], r["design"], r["encoding"], r["variation"],
                                                    r["operator"]) == (s.dataset, s.design, s.encoding, s.variation,
                                                                       s.operator) and "wall_s" in r)
        if wall:
            text += f" Median wall time of one run: {wall[len(wall) // 2]:.0f} s (one torch thread, shared CPU)."
        lines.append(text)
    datasets = sorted({s.dataset for s in summaries})
    both = [d for d in dict.fromkeys(w.split(" / ")[1] for w in met_where)
            if all(f"{dataset} / {d}" in met_where for dataset in datasets)]
    lines += ["", "**The goal** (the embedding-crossover arm's 95% interval above those of mutation only, none and "
              "independent, over at least 10 seeds, on " + " and ".join(datasets) + "): met on every data set by "
              + (", ".join(both) if both else "no design") + "; met on one data set only in "
              + (", ".join(w for w in met_where if w.split(" / ")[1] not in both) or "none") + "."]
    return lines


def _nan_to_text(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def write_report(document: dict[str, Any], figures: Path, results: Path) -> str:
    """Plots and the RESULTS section, from the JSON document alone. Returns the section."""
    runs = document["runs"]
    check_equal_budget([r for r in runs if r["encoding"] != "adam"])
    order = {(a.design, a.encoding, a.variation, a.operator): i for i, a in enumerate(arms())}
    runs = sorted(runs, key=lambda r: (r["dataset"] != "mnist", order.get(
        (r["design"], r["encoding"], r["variation"], r["operator"]), len(order)), r["seed"]))
    summaries = summarise(runs)
    settings = MemeticSettings(**document["settings"])
    changed = sorted({path for commit in {r.get("commit") for r in runs} for path in changed_since(commit)})
    stale = ([f"† Stale: the measured code (neuroevo/, operators/, populations/) has changed since in "
              f"{len(changed)} file(s); `python examples/evolution_comparison.py` measures these runs again.", ""]
             if changed else [])
    lines = [SECTION_HEADING, "", BEGIN, "", *stale,
             "Generated by `examples/evolution_comparison.py` from `docs/results/evolution_comparison.json` "
             f"(commit `{document['commit']}`); every number below comes from that file.", "",
             "**Data.** MNIST: the 5k training subset, split (stratified, seed 0) into 4,000 training images and "
             f"{HOLDOUT:,} holdout images that measure fitness. Fashion-MNIST: a random 5,000-image subset (seed 0) "
             "of the 60k training split, split the same way (cut from the full set to keep the two comparable and "
             "the compute small). Test: each data set's official 10k test split, used once per run on the final "
             "best individual (chosen by holdout fitness over the whole run).", "",
             f"**Networks and budget.** `{settings.architecture}`, embedding width d = {settings.d}; population "
             f"{settings.population}; generation 0 plus {settings.generations} generations; K = {settings.steps} "
             f"Adam steps of batch {settings.batch_size} per member per generation (learning rate {settings.lr} "
             f"decayed by a cosine to {settings.lr_final} over the generations; Adam restarted at each learning "
             f"step); one ancestor trained {settings.ancestor_steps} steps (one-cycle, peak {settings.ancestor_lr}), "
             "which learns the input encoding the members then share, frozen. Every evolutionary arm of a design "
             "spends the same fitness evaluations and gradient steps (counted by the code, checked by "
             "`check_equal_budget` before this section is written); plain Adam spends the same gradient steps, "
             "validates every K steps and keeps its best validated step.", "",
             f"**Operators.** Interpolation crossover: `cx_interpolate_aligned` (embedding matching, alpha = "
             f"{settings.alpha}); transplant: `cx_transplant_aligned` of the hidden layer (coefficient "
             f"{settings.coefficient}); direct: `cx_interpolate_aligned` with activation matching and REPAIR on "
             f"{settings.probe_size} training images; mutation: `mut_gaussian` (sigma = {settings.mutation_sigma} "
             f"x the ancestor's RMS gene, indpb = {settings.mutation_indpb}); selection: tournaments of "
             f"{settings.tournament}. Order in a generation: {settings.order}.", ""]
    lines += ["**Designs.** " + " ".join(DESIGN_NOTES[d] for d in dict.fromkeys(r["design"] for r in runs)
                                     if d in DESIGN_NOTES), "", *_findings(summaries, runs), ""]
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        for design in dict.fromkeys(r["design"] for r in runs if r["dataset"] == dataset):
            group = [s for s in summaries if (s.dataset, s.design) == (dataset, design)]
            group_runs = [r for r in runs if (r["dataset"], r["design"]) == (dataset, design)]
            changes = next((a.changes for a in arms() if a.design == design), ())
            lines += [f"### {dataset}, {design}", ""]
            if changes:
                lines += ["Settings as above except " + ", ".join(f"{k} = {v}" for k, v in changes) + ".", ""]
            lines += ["Test and holdout accuracy of the final best individual, mean "
                      "over seeds ± half-width of the 95% Student-t interval:", "", summary_table(group), ""]
            for arm in group:
                if arm.variation == "crossover":
                    verdict = separation(group, arm)
                    rivals = [label for label in verdict if label.split(" / ")[1] in
                              ("mutation-only", "none", "independent") and label.startswith(arm.encoding)]
                    rivals += [label for label in verdict if label.startswith("adam") or label.startswith("direct")]
                    lines.append(f"* {arm.label}: " + "; ".join(f"{verdict[r]} {r}" for r in rivals) + ".")
            diag = []
            for label in dict.fromkeys(arm_label(r) for r in group_runs):
                arm_runs = [r for r in group_runs if arm_label(r) == label]
                if not arm_runs[0].get("curve") or arm_runs[0]["encoding"] == "adam":
                    continue
                diag.append(f"| {label} | {_nan_to_text(mean_curve_value(arm_runs, 'mean', 1))} | "
                            f"{_nan_to_text(mean_curve_value(arm_runs, 'intermediate_avg', 1))} | "
                            f"{_nan_to_text(mean_curve_value(arm_runs, 'mean', -1))} | "
                            f"{_nan_to_text(mean_curve_value(arm_runs, 'intermediate_avg', -1))} | "
                            f"{_nan_to_text(mean_curve_value(arm_runs, 'diversity', 1))} | "
                            f"{_nan_to_text(mean_curve_value(arm_runs, 'diversity', -1))} |")
            if diag:
                lines += ["", "Diagnostics (means over seeds, %): population mean holdout accuracy after variation "
                          "(scored) and before it (the learned parents; the diagnostic evaluation), at generation 1 "
                          "and at the last generation; diversity = mean pairwise prediction disagreement on 200 "
                          "training images.", "",
                          "| arm | scored mean, gen 1 | before variation, gen 1 | scored mean, last | "
                          "before variation, last | diversity, gen 1 | diversity, last |",
                          "|---|---|---|---|---|---|---|", *diag]
            for field in ("best", "mean"):
                name = f"evolution_{dataset}_{design}_{field}.png"
                drawn = plot_curves(group_runs, figures / name, field=field,
                                    title=f"{dataset}, {design}: "
                                          f"{'best so far' if field == 'best' else 'population mean'} (holdout)")
                if drawn is not None:
                    lines += ["", f"![{dataset} {design} {field}](results/{name})"]
            lines.append("")
    coverage = "; ".join(
        f"{design}: " + ", ".join(
            f"{dataset} {max(s.n for s in summaries if (s.dataset, s.design) == (dataset, design))} seeds"
            for dataset in dict.fromkeys(r["dataset"] for r in runs if r["design"] == design))
        for design in dict.fromkeys(r["design"] for r in runs))
    lines += ["**What was run, and what was cut.** Seeds per design and data set: " + coverage + ". Fashion-MNIST "
              f"uses a {SUBSET:,}-image subset of its training split, not all 60k; networks have one hidden layer; "
              "no conv design; the neuron-level design evolves without gradient steps. The learning curves leave "
              "out plain Adam (its validations are not generations).", "",
              "Command: `OMP_NUM_THREADS=1 python examples/evolution_comparison.py` (resumable: records already "
              "in the JSON are skipped unless the measured code changed since their commit).", "",
              END]
    section = "\n".join(lines) + "\n"
    text = results.read_text() if results.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(SECTION_HEADING, 1) if SECTION_HEADING in text else (text.split(BEGIN)[0], "")
        tail = text.split(END, 1)[1]
        text = head.rstrip("\n") + "\n\n" + section + ("\n" + tail.lstrip("\n") if tail.strip() else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    atomic_write(results, lambda tmp: tmp.write_text(text))
    return section


def main() -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", default=data.BUILTIN_DATASET,
                        help="MNIST data: a known name, the built-in name or an IDX folder (default %(default)s)")
    parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist",
                        help="Fashion-MNIST data (name or folder, or none to leave it out; default %(default)s)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the main design")
    parser.add_argument("--secondary-seeds", type=int, default=10, help="seeds of the other designs")
    parser.add_argument("--secondary-datasets", nargs="+", default=["mnist", "fashion-mnist"],
                        help="data sets of the other designs")
    parser.add_argument("--designs", nargs="+", default=None, help="only these designs")
    parser.add_argument("--output", default="docs/results/evolution_comparison.json")
    parser.add_argument("--results", default="docs/RESULTS.md")
    parser.add_argument("--keep-stale", action="store_true",
                        help="reuse records even if the measured code changed since their commit")
    parser.add_argument("--report-only", action="store_true", help="only write the plots and the RESULTS section")
    args = parser.parse_args()
    output = Path(args.output)
    document = json.loads(output.read_text()) if args.report_only else run_all(args)
    print(write_report(document, output.parent, Path(args.results)))


if __name__ == "__main__":
    main()
