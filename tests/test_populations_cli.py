import csv
import json

import pytest
import torch

from neuroevo import Architecture, EmbeddingGenome, save_genome
from neuroevo.cli import main
from neuroevo.files import load_genome
from populations import load_checkpoint
from tests.test_data import write_idx_folder

ARGS = ["--arch", "12-8-4", "--d", "4", "--population", "6", "--holdout", "20", "--no-progress"]


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    write_idx_folder(folder, n_train=60, n_test=10)
    return str(folder)


def _rows(folder):
    with open(folder / "logbook.csv") as handle:
        return list(csv.DictReader(handle))


def _same_population(a, b):
    return all(
        x.fitness.values == y.fitness.values
        and all(torch.equal(p[n], q[n]) for p, q in zip(x.layers, y.layers) for n in p.names)
        for x, y in zip(a, b)
    )


def test_evolve_writes_checkpoint_logbook_plot_and_best(tmp_path, data, capsys):
    out = tmp_path / "run"
    assert main(["ga", "--data", data, *ARGS, "--generations", "2", "--test", "-o", str(out)]) == 0
    rows = _rows(out)
    assert [row["gen"] for row in rows] == ["0", "1", "2"]
    assert set(rows[0]) >= {"nevals", "max", "avg", "min", "std"}
    assert (out / "fitness.png").read_bytes()[:4] == b"\x89PNG"
    state = load_checkpoint(out / "checkpoint.safetensors").state
    best = load_genome(out / "best.safetensors")
    assert state.generation == 2 and best == state.halloffame[0]
    assert float(rows[-1]["max"]) <= state.halloffame[0].fitness.values[0]
    assert "test split" in capsys.readouterr().out


def test_resume_continues_to_the_same_population_as_one_longer_run(tmp_path, data):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["ga", "--data", data, *ARGS, "--generations", "4", "-o", str(straight)]) == 0
    assert main(["ga", "--data", data, *ARGS, "--generations", "2", "-o", str(resumed)]) == 0
    # No --data: a resumed run takes everything from its stored settings.
    assert main(["ga", "--resume", "--generations", "4", "--no-progress", "-o", str(resumed)]) == 0
    a = load_checkpoint(straight / "checkpoint.safetensors").state
    b = load_checkpoint(resumed / "checkpoint.safetensors").state
    assert b.generation == 4 and _same_population(a.population, b.population)
    assert _rows(straight) == _rows(resumed)


def test_an_existing_run_needs_resume_and_a_run_needs_an_initial_population(tmp_path, data, capsys):
    out = tmp_path / "run"
    assert main(["ga", "--data", data, *ARGS, "--generations", "1", "-o", str(out)]) == 0
    assert main(["ga", "--data", data, *ARGS, "-o", str(out)]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["ga", "--data", data, "--no-progress", "-o", str(tmp_path / "other")]) == 2
    assert "give --arch" in capsys.readouterr().err


def test_config_file_settings_apply_and_command_line_flags_win(tmp_path, data, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"population": 4, "crossover": "none", "generations": 1, "arch": "12-6-4"}))
    out = tmp_path / "run"
    assert main(["ga", "--data", data, "--population", "6", "--config", str(config), "--d", "4",
                 "--holdout", "20", "--no-progress", "-o", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["population"] == 6 and settings["crossover"] == "none" and settings["generations"] == 1
    assert load_genome(out / "best.safetensors").widths == (6, 4)
    config.write_text(json.dumps({"tournament_size": 0}))
    with pytest.raises(SystemExit):
        main(["ga", "--config", str(config), "--data", data, "-o", str(tmp_path / "bad")])
    assert "tournament_size" in capsys.readouterr().err
    config.write_text(json.dumps({"populaton": 4}))
    with pytest.raises(SystemExit):
        main(["ga", "--config", str(config), "--data", data, "-o", str(tmp_path / "bad")])
    assert "unknown setting 'populaton'" in capsys.readouterr().err


def test_parents_from_a_folder_seed_the_population(tmp_path, data):
    parents = tmp_path / "parents"
    first = EmbeddingGenome.random(Architecture.parse("12-5-4"), 4, generator=torch.Generator().manual_seed(0))
    save_genome(first, parents / "a.safetensors")
    second = EmbeddingGenome.random(first.architecture, input_encoding=first.input_encoding)
    save_genome(second, parents / "b.safetensors")
    out = tmp_path / "run"
    assert main(["ga", "--data", data, "--parents", str(parents), "--population", "4", "--generations", "1",
                 "--holdout", "20", "--crossover", "transplant-aligned", "--no-progress", "-o", str(out)]) == 0
    state = load_checkpoint(out / "checkpoint.safetensors").state
    assert all(ind.input_encoding == first.input_encoding and ind.widths == (5, 4) for ind in state.population)


def test_resume_warns_about_each_flag_it_ignores_and_keeps_the_stored_settings(tmp_path, data, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["ga", "--data", data, *ARGS, "--generations", "3", "-o", str(straight)]) == 0
    assert main(["ga", "--data", data, *ARGS, "--generations", "2", "-o", str(resumed)]) == 0
    capsys.readouterr()
    assert main(["ga", "--resume", "--data", "mnist-small", "--population", "9", "--crossover", "none",
                 "--seed", "0", "--generations", "3", "--memory-budget", "64M", "--no-progress",
                 "-o", str(resumed)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert sorted(line.split()[3] for line in warnings) == ["--crossover", "--data", "--population", "--seed"]
    assert all("ignored: a resumed run keeps its stored settings" in line for line in warnings)
    a = load_checkpoint(straight / "checkpoint.safetensors").state
    b = load_checkpoint(resumed / "checkpoint.safetensors").state
    assert len(b.population) == 6 and _same_population(a.population, b.population)


def test_a_config_file_can_supply_the_data_and_flags_given_win_even_at_their_defaults(tmp_path, data):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data": data, "population": 4, "arch": "12-6-4", "d": 4, "holdout": 20,
                                  "generations": 1, "memory_budget": "1G"}))
    out = tmp_path / "run"
    assert main(["ga", "--population", "20", "--config", str(config), "--no-progress", "-o", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["data"] == data and settings["population"] == 20 and settings["init"] == "fan-in"
    assert "memory_budget" not in settings and "device" not in settings  # how to run, not what the run is
    assert len(load_checkpoint(out / "checkpoint.safetensors").state.population) == 20


def test_the_memory_budget_reaches_the_evaluator_in_bytes(tmp_path, data, monkeypatch):
    from neuroevo.cli import ga_commands

    seen = []
    original = ga_commands.register_batched_evaluation

    def spy(*args, **kwargs):
        seen.append(kwargs["memory_budget"])
        return original(*args, **kwargs)

    monkeypatch.setattr(ga_commands, "register_batched_evaluation", spy)
    assert main(["ga", "--data", data, *ARGS, "--generations", "0", "--memory-budget", "64",
                 "-o", str(tmp_path / "run")]) == 0
    assert seen == [64 * 2**20]


def test_evolve_runs_on_the_builtin_data_set_with_no_data_flag(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["ga", "--arch", "784-16-10", "--population", "4", "--generations", "1", "--holdout", "500",
                 "--test", "--no-progress", "-o", str(out)]) == 0
    assert json.loads((out / "settings.json").read_text())["data"] == "mnist-small"
    output = capsys.readouterr().out
    assert "500 held-out training images of mnist-small" in output and "test split" in output


def test_the_settings_file_of_a_run_is_a_config_that_repeats_it(tmp_path, data):
    first, again = tmp_path / "first", tmp_path / "again"
    assert main(["ga", "--data", data, *ARGS, "--generations", "1", "-o", str(first)]) == 0
    assert main(["ga", "--config", str(first / "settings.json"), "--no-progress", "-o", str(again)]) == 0
    assert (first / "settings.json").read_text() == (again / "settings.json").read_text()
    assert _rows(first) == _rows(again)
