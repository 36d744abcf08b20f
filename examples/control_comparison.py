"""Does crossover of self-contained neurons pay without gradients? Evaluations to solve the double
poles (and a Gymnasium task) for every arm and peer, with the protocol of Gomez, Schmidhuber &
Miikkulainen (JMLR 2008).

Each run is one record of ``docs/results/control_comparison.json`` (issue 18's fields, plus the
architecture, the evaluations spent and the commit): an arm of :func:`populations.control.run_control`
(GA, ESP, SANE or CoSyNE on embedding or direct genomes; crossover, mutation only or none) or a peer of
``examples/control_peers.py`` (CMA-ES with restarts, neat-python), all on neuroevo's environments
with one start state and one input scaling. Records are kept between invocations and re-run when
a module their process loaded changed since (``--keep-stale`` keeps them). ``--report-only`` writes the
figures and the generated section of ``docs/RESULTS.md``::

    OMP_NUM_THREADS=1 python examples/control_comparison.py --tasks double-pole --arms cosyne-crossover \\
        cosyne-mutation-only --seeds 0-9
    python examples/control_comparison.py --report-only

When the measured code changes in a way that should not move any figure, ``--reproduce K`` re-runs the
``K`` lowest seeds of every stale arm on the current code: where each re-run gives its stored record
again (:data:`OUTCOME`), the arm's other records measured on that code count as current (a
reproduction, stated in the generated section); where one differs, the arm stays stale::

    python examples/control_comparison.py --tasks double-pole --arms esp-crossover --reproduce 2 \\
        --output /tmp/reproduced.json
    python examples/control_comparison.py --merge /tmp/reproduced.json
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib.util
import json
import math
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from neuroevo.files import atomic_write, replace_markdown_section
from neuroevo.plotting import pyplot, save_figure
from neuroevo.provenance import code_fingerprint, provenance, stale_code
from populations.control import ControlSettings, run_controls

TASKS = ("double-pole", "double-pole-nv", "gymnasium:CartPole-v1")
#: arm name -> (algorithm, encoding, variation, crossover)
ARMS: dict[str, tuple[str, str, str, str]] = {
    **{f"{algorithm}-{variation}": (algorithm, "embedding", variation, "interpolate-aligned")
       for algorithm in ("cosyne", "esp", "sane", "ga") for variation in ("crossover", "mutation-only", "none")},
    "ga-interpolate": ("ga", "embedding", "crossover", "interpolate"),
    "ga-transplant": ("ga", "embedding", "crossover", "transplant"),
    "ga-transplant-aligned": ("ga", "embedding", "crossover", "transplant-aligned"),
    "ga-direct-crossover": ("ga", "direct", "crossover", "interpolate"),
    "ga-direct-mutation-only": ("ga", "direct", "mutation-only", "interpolate"),
}
PEERS = ("cma-es", "neat")
CARTPOLE = TASKS[2]
#: CartPole-v1 runs on neuroevo's ``cartpole``, which steps exactly as Gymnasium's CartPole-v1 does
#: (tests/test_control_envs.py compares every state); solved at Gymnasium's threshold, 475, as the
#: mean return of 10 episodes from random starts.
CARTPOLE_SETTINGS = {"task": "cartpole", "threshold": 475.0, "episodes": 10}
SECTION = "## Control without gradients: does crossover pay? (issue 18)"
#: Published evaluations to solve (Gomez et al. 2008, Tables 3 and 4).
PUBLISHED = {"double-pole": {"CMA-ES": 895, "CoSyNE": 954, "NEAT": 3600, "ESP": 3800},
             "double-pole-nv": {"CoSyNE": 3416, "CMA-ES": 6061, "NEAT": 6929, "ESP": 26342}}
REPOSITORY = Path(__file__).resolve().parents[1]


@functools.cache
def _peers() -> Any:
    spec = importlib.util.spec_from_file_location("control_peers", REPOSITORY / "examples" / "control_peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def arm_settings(task: str, arm: str, cap: int) -> ControlSettings:
    """The settings of an arm of :data:`ARMS` on ``task``."""
    algorithm, encoding, variation, operator = ARMS[arm]
    settings = ControlSettings(task=task, algorithm=algorithm, encoding=encoding, variation=variation,
                               crossover=operator, cap=cap)
    return replace(settings, **CARTPOLE_SETTINGS) if task == CARTPOLE else settings


def run_arm(task: str, arm: str, seeds: list[int], cap: int, compile: bool) -> list[dict[str, Any]]:
    """Runs of an arm of :data:`ARMS` (all ``seeds`` in lockstep, one batched rollout per round:
    :func:`populations.control.run_controls`) or of a peer of :data:`PEERS` (one seed at a time)."""
    if arm in PEERS:
        peers = _peers()
        run = peers.run_cma if arm == "cma-es" else peers.run_neat
        return [run(task, seed, cap=cap) for seed in seeds]
    records = run_controls(arm_settings(task, arm, cap), seeds, compile=compile, progress=True)
    return [{**record, "task": task} for record in records]


def code_key(fingerprint: dict[str, str]) -> str:
    """A short name for a code fingerprint (:func:`neuroevo.provenance.code_fingerprint`)."""
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:12]


#: The fields of a record that a reproduction must give again: what the tables are made of.
OUTCOME = ("evaluations_to_solve", "solved", "generalisation", "evaluations")


def stale_files(record: dict[str, Any], codes: dict[str, dict[str, str]],
                reproductions: list[dict[str, Any]] = ()) -> list[str]:
    """The measured code files that changed since ``record`` ran: by the fingerprint of the modules
    its process loaded (``codes[record["code"]]``), or by its commit for a record without one.
    Empty also when one of ``reproductions`` (:func:`current_reproductions`) vouches for it."""
    changed = stale_code({"commit": record.get("commit"), "code": codes.get(record.get("code", ""))})
    if changed and any(vouches(entry, record) for entry in reproductions):
        return []
    return changed


def current_reproductions(reproductions: list[dict[str, Any]], codes: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The entries of ``reproductions`` (written by :func:`reproduce`) that ran on committed code
    which is still the current one: only those vouch for records."""
    return [entry for entry in reproductions if not entry.get("dirty")
            and not stale_code({"commit": entry.get("commit"), "code": codes.get(entry["code"], {})})]


def vouches(reproduction: dict[str, Any], record: dict[str, Any]) -> bool:
    """Whether ``reproduction`` (a :func:`current_reproductions` entry) makes ``record`` current: it
    re-ran seeds of the record's task and arm, measured with the record's code and cap, and every
    re-run gave its stored record again."""
    return (reproduction["task"] == record["task"] and reproduction["arm"] == record["arm"]
            and record.get("code") is not None and reproduction["of_code"] == record.get("code")
            and reproduction["cap"] == record.get("cap"))


def stamped(records: list[dict[str, Any]], arm: str, cap: int, measured: dict[str, Any],
            codes: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """``records`` of ``arm`` as the result file keeps them: with the cap, the commit and the
    fingerprint of the code that ran them (added to ``codes``)."""
    fingerprint = code_fingerprint()
    codes[code_key(fingerprint)] = fingerprint
    return [{**record, "arm": arm, "cap": cap, "commit": measured["commit"], "dirty": measured["dirty"],
             "code": code_key(fingerprint)} for record in records]


def _report_run(task: str, arm: str, record: dict[str, Any]) -> None:
    print(f"{task} {arm} seed {record['seed']}: "
          + (f"solved in {record['evaluations_to_solve']}" if record["solved"] else "not solved")
          + f" ({record['wall_s']} s)", flush=True)


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.output)
    document = json.loads(path.read_text()) if path.exists() else {"runs": []}
    codes = document.get("codes", {})
    reproductions = document.get("reproductions", [])
    vouching = current_reproductions(reproductions, codes)
    runs = [r for r in document["runs"] if args.keep_stale or not stale_files(r, codes, vouching)]
    measured = provenance()
    document = {"commit": measured["commit"], "provenance": measured, "codes": codes,
                "reproductions": reproductions, "runs": runs}
    done = {(r["task"], r["arm"], r["seed"]) for r in runs}
    for task in args.tasks:
        for arm in args.arms:
            missing = [seed for seed in args.seeds if (task, arm, seed) not in done]
            group = 1 if arm in PEERS else args.lockstep
            for start in range(0, len(missing), group):
                seeds = missing[start:start + group]
                for record in stamped(run_arm(task, arm, seeds, args.cap, args.compile), arm, args.cap, measured, codes):
                    runs.append(record)
                    _report_run(task, arm, record)
                atomic_write(path, lambda tmp: tmp.write_text(json.dumps(document, indent=1) + "\n"))
    return document


def reproduce(args: argparse.Namespace) -> dict[str, Any]:
    """Re-run the ``args.reproduce`` lowest seeds of every stale arm of ``args.against`` (within
    ``args.tasks`` and ``args.arms``; one group per code fingerprint and cap its records ran with) on the
    current code, and write to ``args.output`` a part for :func:`merge`: the new records, and for each
    group a ``reproductions`` entry when every re-run gave its stored :data:`OUTCOME` again, or a
    ``mismatches`` entry naming what moved. A part that exists is continued (its groups are skipped)."""
    stored = json.loads(Path(args.against).read_text())
    codes = stored.get("codes", {})
    path = Path(args.output)
    part = json.loads(path.read_text()) if path.exists() else {}
    measured = provenance()
    part = {"runs": [], "reproductions": [], "mismatches": [], **part, "commit": measured["commit"],
            "provenance": measured}
    part_codes = part.setdefault("codes", {})
    done = {(e["task"], e["arm"], e["of_code"], e["cap"]) for e in part["reproductions"] + part["mismatches"]}
    vouching = current_reproductions(stored.get("reproductions", []), codes)
    for task in args.tasks:
        for arm in args.arms:
            groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
            for r in stored["runs"]:
                if (r["task"], r["arm"]) == (task, arm) and stale_files(r, codes, vouching):
                    groups.setdefault((r.get("code"), r["cap"]), []).append(r)
            for (code, cap), records in sorted(groups.items(), key=str):
                if code is None:
                    print(f"{task} {arm}: {len(records)} stale record(s) without a code fingerprint cannot be "
                          "reproduced; a run without --keep-stale measures them again", flush=True)
                    continue
                if (task, arm, code, cap) in done:
                    continue
                old = {r["seed"]: r for r in sorted(records, key=lambda r: r["seed"])[:args.reproduce]}
                new = stamped(run_arm(task, arm, list(old), cap, args.compile), arm, cap, measured, part_codes)
                moved = [{"seed": r["seed"], **difference} for r in new
                         if (difference := {f: [old[r["seed"]].get(f), r.get(f)] for f in OUTCOME
                                            if old[r["seed"]].get(f) != r.get(f)})]
                entry = {"task": task, "arm": arm, "seeds": sorted(old), "of_code": code, "cap": cap,
                         "code": new[0]["code"], "commit": measured["commit"], "dirty": measured["dirty"]}
                part["runs"] += new
                if moved:
                    part["mismatches"].append({**entry, "moved": moved})
                    print(f"{task} {arm}: NOT reproduced, {moved}; its other stale records stay stale", flush=True)
                else:
                    part["reproductions"].append(entry)
                    print(f"{task} {arm}: seeds {sorted(old)} reproduced; its {len(records)} record(s) count as current",
                          flush=True)
                atomic_write(path, lambda tmp: tmp.write_text(json.dumps(part, indent=1) + "\n"))
    return part


def merge(output: Path, parts: list[Path]) -> dict[str, Any]:
    """Add the records of ``parts`` to ``output`` (a record of the same task, arm and seed in a later
    file replaces an earlier one); the document keeps each record's own commit. A record that does
    not name its evaluation cap gets the one of its part's recorded command."""
    document = json.loads(output.read_text()) if output.exists() else {"runs": []}
    records = {(r["task"], r["arm"], r["seed"]): r for r in document["runs"]}
    for part in parts:
        content = json.loads(part.read_text())
        if any("cap" not in r for r in content["runs"]):
            words = shlex.split(content.get("provenance", {}).get("command") or "python script")
            cap = build_parser().parse_args(words[2:]).cap
            content["runs"] = [{"cap": cap, **r} for r in content["runs"]]
        records.update({(r["task"], r["arm"], r["seed"]): r for r in content["runs"]})
        document.setdefault("codes", {}).update(content.get("codes", {}))
        for entry in content.get("reproductions", []):
            if entry not in document.setdefault("reproductions", []):
                document["reproductions"].append(entry)
        document.setdefault("parts", []).append({"commit": content.get("commit"),
                                                 "command": content.get("provenance", {}).get("command")})
    document["runs"] = list(records.values())
    document["commit"] = sorted({str(r["commit"]) for r in document["runs"]})
    atomic_write(output, lambda tmp: tmp.write_text(json.dumps(document, indent=1) + "\n"))
    return document


# ------------------------------------------------------------------ the report


def median_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The distribution-free interval for the median from order statistics (binomial ranks);
    ``values`` sorted, ``inf`` for unsolved runs."""
    n = len(values)
    low = int(stats.binom.ppf((1 - confidence) / 2, n, 0.5))
    high = int(stats.binom.isf((1 - confidence) / 2, n, 0.5))
    return float(values[max(low - 1, 0)]), float(values[min(high, n - 1)])


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task and arm: runs, successes, the median (unsolved runs count as not solved: ``inf``),
    its 95% interval, the mean over solved runs, and the mean generalisation of solutions."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in runs:
        groups.setdefault((record["task"], record["arm"]), []).append(record)
    rows = []
    for (task, arm), records in sorted(groups.items()):
        values = np.sort([r["evaluations_to_solve"] if r["solved"] else math.inf for r in records])
        solved = [r["evaluations_to_solve"] for r in records if r["solved"]]
        general = [r["generalisation"] for r in records if r.get("generalisation") is not None]
        rows.append({"task": task, "arm": arm, "n": len(records), "solved": len(solved),
                     "median": float(np.median(values)), "interval": median_interval(values),
                     "mean_solved": float(np.mean(solved)) if solved else math.nan,
                     "generalisation": float(np.mean(general)) if general else math.nan,
                     "values": values})
    return rows


def rank_test(a: np.ndarray, b: np.ndarray, cap: int) -> float:
    """One-sided Mann-Whitney U p-value that ``a`` needs fewer evaluations than ``b`` (unsolved runs
    tie at ``cap + 1``)."""
    return float(stats.mannwhitneyu(np.minimum(a, cap + 1), np.minimum(b, cap + 1), alternative="less").pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (one family of tests), in their given order: the
    k-th smallest p is multiplied by the number of tests not yet passed, and adjusted values never
    decrease along the sorted order (Holm 1979, "A simple sequentially rejective multiple test procedure")."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def _number(value: float) -> str:
    return "unsolved" if math.isinf(value) else "n/a" if math.isnan(value) else f"{value:,.0f}"


def plot(rows: list[dict[str, Any]], task: str, folder: Path, cap: int) -> list[str]:
    """Evaluations to solve per arm (points, median bar) and the fraction solved against evaluations."""
    plt = pyplot()
    chosen = [r for r in rows if r["task"] == task]
    names = []
    figure, axis = plt.subplots(figsize=(7, 0.45 * len(chosen) + 1.5))
    for i, row in enumerate(chosen):
        finite = row["values"][np.isfinite(row["values"])]
        axis.scatter(finite, np.full(len(finite), i) + np.random.default_rng(0).uniform(-0.15, 0.15, len(finite)),
                     s=10, alpha=0.6)
        if math.isfinite(row["median"]):
            axis.plot([row["median"]] * 2, [i - 0.3, i + 0.3], color="black")
    axis.set_yticks(range(len(chosen)), [f"{r['arm']} ({r['solved']}/{r['n']})" for r in chosen])
    axis.set_xscale("log")
    axis.set_xlim(50, cap * 1.2)
    axis.set_xlabel("evaluations (episodes) to solve; bar: median")
    axis.set_title(f"{task}: evaluations to solve")
    name = f"control-{task.replace(':', '-')}-evaluations.png"
    save_figure(figure, folder / name)
    names.append(name)
    figure, axis = plt.subplots(figsize=(7, 4))
    grid = np.logspace(1.7, math.log10(cap), 200)
    for row in chosen:
        axis.plot(grid, [(row["values"] <= x).mean() for x in grid], label=row["arm"])
    axis.set_xscale("log")
    axis.set_xlabel("evaluations (episodes)")
    axis.set_ylabel("fraction of runs solved")
    axis.legend(fontsize=7)
    axis.set_title(f"{task}: success against evaluations")
    name = f"control-{task.replace(':', '-')}-success.png"
    save_figure(figure, folder / name)
    return names + [name]


def task_cap(runs: list[dict[str, Any]], task: str, default: int) -> int:
    """The evaluation cap of ``task``'s runs (the largest one recorded; ``default`` where none is)."""
    return max((r.get("cap", default) for r in runs if r["task"] == task), default=default)


def report(document: dict[str, Any], figures: Path, default_cap: int) -> str:
    """The generated RESULTS section (figures drawn into ``figures``); ``default_cap`` serves runs
    that do not record their cap."""
    rows = summarise(document["runs"])
    tasks = [t for t in TASKS if any(r["task"] == t for r in rows)]
    commits = sorted({str(r["commit"])[:10] + ("+dirty" if r.get("dirty") else "") for r in document["runs"]})
    codes = document.get("codes", {})
    reproductions = current_reproductions(document.get("reproductions", []), codes)
    changed_by_run = [(r, stale_files(r, codes)) for r in document["runs"]]  # one look-up per record
    vouched = [(r, paths) for r, paths in changed_by_run
               if paths and any(vouches(entry, r) for entry in reproductions)]
    vouched_ids = {id(r) for r, _ in vouched}
    stale_by_run = [(r, [] if id(r) in vouched_ids else paths) for r, paths in changed_by_run]
    reproduced_arms = {(r["task"], r["arm"]) for r, _ in vouched}
    changed = sorted({path for _, paths in stale_by_run for path in paths})
    stale_arms = {(r["task"], r["arm"]) for r, paths in stale_by_run if paths}
    stale = ([f"† Stale arm: the code its runs loaded has changed since in {len(changed)} file(s) "
              f"({_named(changed)}); a run without `--keep-stale` "
              "measures these records again.", ""]
             if changed else [])
    stale += reproduced_lines(vouched, reproductions)
    lines = [SECTION, "", *stale, f"Generated by `examples/control_comparison.py` from `docs/results/control_comparison.json` "
             f"(commits {', '.join(commits)}). Evaluations are episodes, capped per task as stated below; a run that does not solve "
             "counts as unsolved (the median is 'unsolved' when fewer than half solve). Intervals: the 95% "
             "distribution-free interval of the median. Environments: neuroevo's (long pole at 1 degree, NEAT's "
             "input scaling, no cart friction; `neuroevo/control/envs/double_pole.py`).", ""]
    for task in tasks:
        chosen = [r for r in rows if r["task"] == task]
        cap = task_cap(document["runs"], task, default_cap)
        lines += [f"### {task}", "", f"Cap: {cap:,} evaluations per run.", "", "| arm | runs | solved | median evaluations | 95% interval | mean (solved) | "
                  "mean generalisation |", "|---|---|---|---|---|---|---|"]
        for r in chosen:
            mark = " †" if (task, r["arm"]) in stale_arms else " ‡" if (task, r["arm"]) in reproduced_arms else ""
            lines.append(f"| {r['arm']}{mark} | {r['n']} | {r['solved']} | {_number(r['median'])} | "
                         f"{_number(r['interval'][0])} - {_number(r['interval'][1])} | {_number(r['mean_solved'])} | "
                         f"{_number(r['generalisation'])} |")
        names = plot(rows, task, figures, cap)
        lines += [""] + [f"![{name}](figures/{name})" for name in names] + [""]
        lines += goals(task, chosen, cap) + [""] + alignment(chosen, cap)
    return "\n".join(lines)


def _named(paths: list[str], shown: int = 5) -> str:
    """The first ``shown`` of ``paths``, comma-separated, with ``...`` when there are more."""
    return ", ".join(paths[:shown]) + (", ..." if len(paths) > shown else "")


def reproduced_lines(vouched: list[tuple[dict[str, Any], list[str]]], reproductions: list[dict[str, Any]]) -> list[str]:
    """The note on arms (marked ‡) whose records ran on earlier code and count as current because a
    reproduction on the current code (``reproductions``: :func:`current_reproductions`) gave their lowest
    seeds' records again; ``vouched``: those records with the files changed since they ran."""
    if not vouched:
        return []
    changed = sorted({path for _, paths in vouched for path in paths})
    groups: dict[tuple[str, tuple[int, ...], str], list[str]] = {}
    for entry in reproductions:
        if any(vouches(entry, r) for r, _ in vouched):
            key = (entry["task"], tuple(entry["seeds"]), str(entry["commit"])[:10])
            groups.setdefault(key, []).append(entry["arm"])
    arms = [f"{task}: {', '.join(sorted(names))} (seeds {', '.join(map(str, seeds))} of each, re-run at {commit})"
            for (task, seeds, commit), names in sorted(groups.items())]
    return [f"‡ Reproduced arm: its runs ran on code that has changed since in {len(changed)} file(s) "
            f"({_named(changed)}); its lowest seeds, re-run on the "
            f"current code (`--reproduce`), gave their stored records again ({', '.join(OUTCOME)}), so its "
            f"runs count as current: {'; '.join(arms)}.", ""]


#: Runs per arm the issue's protocol asks for before a goal is judged.
MIN_RUNS = 50


def protocol_arms(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with at least :data:`MIN_RUNS` runs, or all of them when none has that many: an arm of
    a few runs must not win the choice of the best arm by the luck of a small sample."""
    return [r for r in rows if r["n"] >= MIN_RUNS] or list(rows)


def ranking(row: dict[str, Any]) -> tuple[float, float, float]:
    """Sort key of the best arm: the lowest median; among arms whose medians are unsolved, the highest
    success rate; then the lowest mean over solved runs."""
    return row["median"], -row["solved"] / row["n"], row["mean_solved"]


def goals(task: str, rows: list[dict[str, Any]], cap: int) -> list[str]:
    """The issue's goals for ``task``, each stated as met, missed or not judged."""
    by_arm = {r["arm"]: r for r in rows}
    ours = [r for r in rows if r["arm"] not in PEERS]
    if not ours:
        return []
    best = min(protocol_arms(ours), key=ranking)
    out = [f"Goals ({task}; the best arm and each algorithm's crossover arm are chosen among the arms with at "
           f"least {MIN_RUNS} runs, where there are any):", ""]
    for name, figure in PUBLISHED.get(task, {}).items():
        out.append(f"- median below {name}'s published {figure:,}: best arm {best['arm']} "
                   f"{_number(best['median'])}: **{'met' if best['median'] < figure else 'missed'}**")
    for peer in PEERS:
        if peer in by_arm:
            out.append(f"- median below {peer} measured side by side ({_number(by_arm[peer]['median'])}): "
                       f"**{'met' if best['median'] < by_arm[peer]['median'] else 'missed'}**")
    if task == "double-pole-nv":
        out.append(f"- mean generalisation of solutions at least 200 of 625 ({best['arm']}: "
                   f"{_number(best['generalisation'])}): **{'met' if best['generalisation'] >= 200 else 'missed'}**")
    tests = []  # (algorithm, crossover row, other row, p)
    for algorithm in ("cosyne", "esp", "sane", "ga"):
        crossing = [r for r in rows if ARMS.get(r["arm"], ("",) * 4)[:3] == (algorithm, "embedding", "crossover")]
        if not crossing:
            continue
        cross = min(protocol_arms(crossing), key=ranking)  # the best embedding-crossover arm
        for other in (by_arm.get(f"{algorithm}-{v}") for v in ("mutation-only", "none")):
            if other is not None:
                tests.append((algorithm, cross, other, rank_test(cross["values"], other["values"], cap)))
    for (algorithm, cross, other, p), adjusted in zip(tests, holm([test[3] for test in tests])):
        enough = min(cross["n"], other["n"]) >= MIN_RUNS
        verdict = (("met" if p < 0.05 else "missed") if enough
                   else f"not judged (n = {min(cross['n'], other['n'])} < {MIN_RUNS})")
        out.append(f"- crossover pays ({algorithm}): {cross['arm']} needs fewer evaluations than {other['arm']} "
                   f"(one-sided rank test p = {p:.3g}; Holm-adjusted over this task's {len(tests)} tests "
                   f"{adjusted:.3g}): **{verdict}**")
    return out


#: (aligned, plain) arms of one crossover: the pair that tells whether matching neurons before crossing pays.
ALIGNED_PAIRS = (("ga-crossover", "ga-interpolate"), ("ga-transplant-aligned", "ga-transplant"))


def alignment(rows: list[dict[str, Any]], cap: int) -> list[str]:
    """Per :data:`ALIGNED_PAIRS` pair measured on the task: the one-sided rank test that the aligned
    crossover needs fewer evaluations than the same crossover by position (no goal of the issue; the
    test of the role-alignment reading)."""
    by_arm = {r["arm"]: r for r in rows}
    out = [f"- alignment: {aligned} ({by_arm[aligned]['solved']}/{by_arm[aligned]['n']} solved) needs fewer "
           f"evaluations than {plain} ({by_arm[plain]['solved']}/{by_arm[plain]['n']} solved): one-sided rank test "
           f"p = {rank_test(by_arm[aligned]['values'], by_arm[plain]['values'], cap):.3g}"
           for aligned, plain in ALIGNED_PAIRS if aligned in by_arm and plain in by_arm]
    return ["Aligned against positional crossover (not a goal of the issue):", "", *out, ""] if out else []


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` or ``"0,3,5"``."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(part) for part in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=["double-pole"])
    parser.add_argument("--arms", nargs="+", choices=(*ARMS, *PEERS), default=list(ARMS))
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-49"))
    parser.add_argument("--cap", type=int, default=100_000, help="evaluations (episodes) per run")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="eager rollouts")
    parser.add_argument("--lockstep", type=int, default=50, metavar="N",
                        help="runs of one arm stepped together, one batched rollout per round (1: one at a time)")
    parser.add_argument("--output", default="docs/results/control_comparison.json")
    parser.add_argument("--results", default="docs/RESULTS.md")
    parser.add_argument("--keep-stale", action="store_true", help="keep records measured on code that changed since")
    parser.add_argument("--reproduce", type=int, metavar="K",
                        help="re-run the K lowest seeds of every stale arm of --against (within --tasks and "
                             "--arms) on the current code and write them, with whether they gave their stored "
                             "records again, to --output as a part for --merge")
    parser.add_argument("--against", default="docs/results/control_comparison.json",
                        help="the result file whose stale arms --reproduce re-runs")
    parser.add_argument("--report-only", action="store_true", help="only write the figures and the RESULTS section")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="PART",
                        help="add the records of these result files (runs measured in parallel processes) to "
                             "--output, then report")
    return parser


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(1)
    args = build_parser().parse_args(argv)
    output = Path(args.output)
    if args.merge:
        merge(output, args.merge)
    if args.reproduce is not None:
        if args.reproduce < 1:
            raise SystemExit(f"--reproduce needs at least one seed per arm, not {args.reproduce}")
        if output.resolve() == Path(args.against).resolve():
            raise SystemExit("--reproduce writes a part for --merge: give an --output other than --against")
        reproduce(args)
        return
    document = json.loads(output.read_text()) if args.report_only or args.merge else run_all(args)
    section = report(document, Path(args.results).parent / "figures", args.cap)
    replace_markdown_section(args.results, SECTION, section)
    print(section)


if __name__ == "__main__":
    sys.exit(main())
