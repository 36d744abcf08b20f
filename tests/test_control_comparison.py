"""The control comparison's statistics, merge and generated section (synthetic records)."""

import importlib.util
import json
import math
import sys

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture
def example():
    spec = importlib.util.spec_from_file_location("control_comparison", REPO / "examples" / "control_comparison.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["control_comparison"] = module
    spec.loader.exec_module(module)
    return module


def record(arm, seed, evaluations, task="double-pole", commit="c1"):
    return {"task": task, "arm": arm, "algorithm": arm.split("-")[0], "encoding": "embedding",
            "variation": arm.split("-", 1)[1], "operator": "-", "seed": seed, "evaluations_to_solve": evaluations,
            "solved": evaluations is not None, "generalisation": None, "wall_s": 1.0, "commit": commit}


def test_unsolved_runs_count_against_the_median_and_the_interval_holds_it(example):
    runs = [record("cosyne-crossover", s, e) for s, e in enumerate([100, 200, 300, None, None])]
    (row,) = example.summarise(runs)
    assert (row["n"], row["solved"], row["median"]) == (5, 3, 300)
    assert row["mean_solved"] == 200
    low, high = row["interval"]
    assert low <= row["median"] <= high and math.isinf(high)
    runs = [record("cosyne-crossover", s, e) for s, e in enumerate([100, None, None])]
    assert math.isinf(example.summarise(runs)[0]["median"])


def test_the_rank_test_is_one_sided_and_ties_unsolved_runs_at_the_cap(example):
    fast, slow = np.array([100.0] * 8), np.array([900.0] * 4 + [math.inf] * 4)
    assert example.rank_test(fast, slow, 1000) < 0.01
    assert example.rank_test(slow, fast, 1000) > 0.99
    assert example.rank_test(np.array([math.inf] * 5), np.array([math.inf] * 5), 1000) == pytest.approx(1.0, abs=0.5)


def test_goals_say_not_judged_below_fifty_runs(example):
    runs = ([record("cosyne-crossover", s, 100 + s) for s in range(10)]
            + [record("cosyne-mutation-only", s, 5000 + s) for s in range(10)])
    lines = example.goals("double-pole", example.summarise(runs), 20_000)
    assert any("CoSyNE's published 954" in line and "**met**" in line for line in lines)
    assert any("crossover pays (cosyne)" in line and "not judged (n = 10 < 50)" in line for line in lines)


def test_merge_keeps_every_part_and_lets_a_later_part_replace_a_run(example, tmp_path):
    first, second, output = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "all.json"
    first.write_text(json.dumps({"commit": "c1", "runs": [record("ga-crossover", 0, 10), record("ga-crossover", 1, 20)]}))
    second.write_text(json.dumps({"commit": "c2", "runs": [record("ga-crossover", 1, 30, commit="c2")]}))
    document = example.merge(output, [first, second])
    assert sorted((r["seed"], r["evaluations_to_solve"]) for r in document["runs"]) == [(0, 10), (1, 30)]
    assert json.loads(output.read_text())["commit"] == ["c1", "c2"]


def test_runs_of_an_arm_are_measured_in_lockstep_and_reported(example, tmp_path):
    output, results = tmp_path / "runs.json", tmp_path / "RESULTS.md"
    results.write_text("# Results\n")
    example.main(["--tasks", "double-pole", "--arms", "sane-crossover", "cosyne-mutation-only", "--seeds", "0-1",
                  "--cap", "80", "--no-compile", "--output", str(output), "--results", str(results)])
    document = json.loads(output.read_text())
    assert sorted((r["arm"], r["seed"]) for r in document["runs"]) == [
        ("cosyne-mutation-only", 0), ("cosyne-mutation-only", 1), ("sane-crossover", 0), ("sane-crossover", 1)]
    assert all(r["lockstep"] == 2 and r["evaluations"] <= 80 + 40 and r["commit"] for r in document["runs"])
    assert "| sane-crossover | 2 | 0 | unsolved |" in results.read_text()


def test_a_record_is_stale_when_a_module_its_process_loaded_changed_and_only_then(example):
    from neuroevo.provenance import code_fingerprint

    fingerprint = {path: digest for path, digest in code_fingerprint().items() if path.startswith("populations/")}
    edited = {**fingerprint, "populations/control.py": "0" * 16}
    codes = {example.code_key(fingerprint): fingerprint, example.code_key(edited): edited}
    current = {**record("sane-crossover", 0, 10), "commit": None, "code": example.code_key(fingerprint)}
    assert example.stale_files(current, codes) == []  # no commit known, but the code it loaded is unchanged
    assert example.stale_files({**current, "code": example.code_key(edited)}, codes) == ["populations/control.py"]
    assert example.stale_files({**current, "code": "unknown"}, codes) == ["<unknown commit>"]


def test_merge_gives_each_record_the_cap_of_its_parts_command_and_the_report_states_it(example, tmp_path):
    part, output, results = tmp_path / "nv.json", tmp_path / "all.json", tmp_path / "RESULTS.md"
    command = "python examples/control_comparison.py --tasks double-pole-nv --cap 20000"
    part.write_text(json.dumps({"provenance": {"command": command},
                                "runs": [record("sane-crossover", 0, 700, task="double-pole-nv")]}))
    document = example.merge(output, [part])
    assert document["runs"][0]["cap"] == 20000
    assert "Cap: 20,000 evaluations per run." in example.report(document, tmp_path, 100_000)


def test_when_no_arm_solves_half_its_runs_the_best_arm_is_the_most_successful(example):
    runs = ([record("cosyne-crossover", s, None, task="double-pole-nv") for s in range(4)]
            + [{**record("sane-crossover", s, 900 if s == 0 else None, task="double-pole-nv"), "generalisation": 250}
               for s in range(4)])
    lines = example.goals("double-pole-nv", example.summarise(runs), 20_000)
    assert any("best arm sane-crossover unsolved" in line for line in lines)
    assert any("(sane-crossover: 250): **met**" in line for line in lines)


def test_holm_multiplies_the_kth_smallest_p_by_the_tests_left_and_never_decreases(example):
    assert example.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert example.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert example.holm([]) == []


def test_each_crossover_verdict_states_its_holm_adjusted_p(example):
    runs = ([record("cosyne-crossover", s, 100 + s) for s in range(50)]
            + [record("cosyne-mutation-only", s, 5000 + s) for s in range(50)]
            + [record("esp-crossover", s, 5000 + s) for s in range(50)]
            + [record("esp-mutation-only", s, 100 + s) for s in range(50)])
    lines = [line for line in example.goals("double-pole", example.summarise(runs), 20_000) if "crossover pays" in line]
    assert len(lines) == 2 and all("Holm-adjusted over this task's 2 tests" in line for line in lines)
    assert "**met**" in lines[0] and "**missed**" in lines[1]


def _fingerprints(example):
    """(current, edited) fingerprints of the project's control code, and their ``codes`` table."""
    from neuroevo.provenance import code_fingerprint

    current = {path: digest for path, digest in code_fingerprint().items() if path.startswith("populations/")}
    edited = {**current, "populations/control.py": "0" * 16}
    return current, edited, {example.code_key(current): current, example.code_key(edited): edited}


def test_a_reproduction_on_current_code_vouches_only_for_records_of_its_arm_code_and_cap(example):
    current, edited, codes = _fingerprints(example)
    old = {**record("esp-crossover", 3, 700), "code": example.code_key(edited), "cap": 20000}
    entry = {"task": "double-pole", "arm": "esp-crossover", "seeds": [0, 1], "of_code": example.code_key(edited),
             "cap": 20000, "code": example.code_key(current), "commit": None, "dirty": False}

    def stale(record, *entries):
        return example.stale_files(record, codes, example.current_reproductions(list(entries), codes))

    assert stale(old) == ["populations/control.py"]
    assert stale(old, entry) == []
    assert stale({**old, "arm": "esp-mutation-only"}, entry) != []
    assert stale({**old, "cap": 100_000}, entry) != []
    assert stale({**old, "code": None}, {**entry, "of_code": None}) != []
    # a reproduction that ran on code which has itself changed since vouches for nothing
    assert stale(old, {**entry, "code": example.code_key(edited)}) != []
    assert stale(old, {**entry, "dirty": True}) != []  # nor one on uncommitted code


def _reproduce(example, tmp_path, monkeypatch, evaluations_now):
    """Reproduce a stored arm whose two lowest seeds now give ``evaluations_now``; returns the part."""
    current, edited, codes = _fingerprints(example)
    stored = {"codes": codes, "runs": [{**record("esp-crossover", s, 100 * (s + 1)), "evaluations": 100 * (s + 1),
                                        "code": example.code_key(edited), "cap": 20000} for s in range(4)]}
    against = tmp_path / "stored.json"
    against.write_text(json.dumps(stored))
    calls = []

    def run_arm(task, arm, seeds, cap, compile):
        calls.append((task, arm, seeds, cap))
        return [{**record(arm, s, e), "evaluations": e} for s, e in zip(seeds, evaluations_now)]

    monkeypatch.setattr(example, "run_arm", run_arm)
    monkeypatch.setattr(example, "code_fingerprint", lambda: current)
    part = tmp_path / "part.json"
    example.main(["--tasks", "double-pole", "--arms", "esp-crossover", "esp-none", "--reproduce", "2",
                  "--against", str(against), "--output", str(part)])
    assert calls == [("double-pole", "esp-crossover", [0, 1], 20000)]  # the lowest seeds, at the records' cap
    return stored, json.loads(part.read_text())


def test_reproduced_records_count_as_current_and_the_report_says_so(example, tmp_path, monkeypatch):
    stored, part = _reproduce(example, tmp_path, monkeypatch, [100, 200])
    assert [(e["arm"], e["seeds"]) for e in part["reproductions"]] == [("esp-crossover", [0, 1])]
    assert part["mismatches"] == [] and [r["seed"] for r in part["runs"]] == [0, 1]
    merged_path = tmp_path / "merged.json"
    merged_path.write_text(json.dumps(stored))
    merged = example.merge(merged_path, [tmp_path / "part.json"])
    assert merged["reproductions"] == part["reproductions"] and len(merged["runs"]) == 4
    section = example.report(merged, tmp_path, 20000)
    assert "| esp-crossover ‡ | 4 |" in section and "‡ Reproduced arm" in section and "† Stale" not in section


def test_an_arm_whose_seed_moved_is_not_reproduced_and_stays_stale(example, tmp_path, monkeypatch):
    stored, part = _reproduce(example, tmp_path, monkeypatch, [100, 250])
    assert part["reproductions"] == []
    assert part["mismatches"][0]["moved"] == [{"seed": 1, "evaluations_to_solve": [200, 250],
                                               "evaluations": [200, 250]}]
    merged_path = tmp_path / "merged.json"
    merged_path.write_text(json.dumps(stored))
    section = example.report(example.merge(merged_path, [tmp_path / "part.json"]), tmp_path, 20000)
    assert "| esp-crossover † | 4 |" in section and "‡" not in section


def test_a_reproduction_refuses_to_write_over_the_records_it_checks(example, tmp_path):
    stored = tmp_path / "stored.json"
    stored.write_text(json.dumps({"runs": []}))
    with pytest.raises(SystemExit, match="other than --against"):
        example.main(["--reproduce", "2", "--against", str(stored), "--output", str(stored)])
    with pytest.raises(SystemExit, match="at least one seed"):
        example.main(["--reproduce", "0", "--against", str(stored), "--output", str(tmp_path / "part.json")])
    assert json.loads(stored.read_text()) == {"runs": []}


def test_the_crossover_arm_tested_is_the_one_that_solves_most_when_no_median_is_solved(example):
    # ga-interpolate's one solution is faster, but ga-crossover solves five times as many runs
    runs = ([record("ga-crossover", s, 9000 if s < 5 else None, task="double-pole-nv") for s in range(50)]
            + [record("ga-interpolate", s, 500 if s < 1 else None, task="double-pole-nv") for s in range(50)]
            + [record("ga-mutation-only", s, None, task="double-pole-nv") for s in range(50)])
    lines = [line for line in example.goals("double-pole-nv", example.summarise(runs), 20_000) if "crossover pays" in line]
    assert lines and all(line.startswith("- crossover pays (ga): ga-crossover needs") for line in lines)


def test_aligned_crossover_is_tested_against_the_same_crossover_by_position(example):
    runs = ([record("ga-crossover", s, 100 + s) for s in range(20)]
            + [record("ga-interpolate", s, 5000 + s) for s in range(20)]
            + [record("ga-transplant", s, 100) for s in range(20)])  # its aligned twin did not run
    (line,) = [line for line in example.alignment(example.summarise(runs), 20_000) if line.startswith("- ")]
    assert line.startswith("- alignment: ga-crossover (20/20 solved) needs fewer evaluations than ga-interpolate "
                           "(20/20 solved)")
    assert float(line.rsplit("p = ", 1)[1]) < 1e-6
    assert example.alignment(example.summarise(runs[:20]), 20_000) == []


def test_an_arm_of_few_runs_is_not_chosen_over_one_measured_by_the_protocol(example):
    runs = ([record("ga-crossover", s, 6000 + s) for s in range(50)]
            + [record("ga-transplant", s, 1000 + s) for s in range(10)]  # faster, but only 10 runs
            + [record("ga-mutation-only", s, 9000 + s) for s in range(50)])
    lines = example.goals("double-pole", example.summarise(runs), 20_000)
    assert any("best arm ga-crossover 6,024" in line for line in lines)
    pays = [line for line in lines if "crossover pays (ga)" in line]
    assert pays and all("ga-crossover needs fewer" in line and "**met**" in line for line in pays)
    only_few = example.goals("double-pole", example.summarise(runs[50:60]), 20_000)
    assert any("best arm ga-transplant" in line for line in only_few)  # no 50-run arm: the choice falls back
