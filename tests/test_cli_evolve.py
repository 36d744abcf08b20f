"""``neuroevo evolve``: the recommended recipe (memetic evolution) from the command line."""

import json

import pytest

import neuroevo.cli.evolve_commands as evolve_commands
from neuroevo.cli import main
from neuroevo.files import load_genome

SMALL = ["--arch", "784-16-10", "--d", "8", "--population", "4", "--generations", "2", "--steps", "2",
         "--ancestor-steps", "4", "--batch-size", "32", "--holdout", "500", "--probe-size", "64", "--no-progress"]


def test_evolve_needs_no_flag_but_the_output_and_ends_with_the_test_accuracy(tmp_path, capsys):
    out = tmp_path / "ga"
    assert main(["evolve", *SMALL, "-o", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("best individual: holdout accuracy") and "test accuracy" in last
    assert "mnist-small test, 10000 images" in last
    for name in ("checkpoint.safetensors", "settings.json", "logbook.csv", "fitness.png", "best.safetensors"):
        assert (out / name).exists(), name
    settings = json.loads((out / "settings.json").read_text())
    assert settings["data"] == "mnist-small" and settings["variation"] == "crossover"
    assert load_genome(out / "best.safetensors").architecture.spec.endswith("-16-10")


def test_an_interrupted_run_resumes_from_its_stored_settings_to_the_same_result(tmp_path, monkeypatch, capsys):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["evolve", *SMALL, "-o", str(straight)]) == 0

    original = evolve_commands.write_logbook_csv

    def interrupt_after_generation_one(logbook, path):
        original(logbook, path)
        if len(logbook) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(evolve_commands, "write_logbook_csv", interrupt_after_generation_one)
    assert main(["evolve", *SMALL, "-o", str(resumed)]) == 130
    monkeypatch.setattr(evolve_commands, "write_logbook_csv", original)
    capsys.readouterr()
    assert main(["evolve", *SMALL, "-o", str(resumed)]) == 2  # a run is there: --resume is required
    assert main(["evolve", "--resume", "--population", "6", "--no-progress", "-o", str(resumed)]) == 0
    assert "--population is ignored" in capsys.readouterr().err
    assert load_genome(resumed / "best.safetensors") == load_genome(straight / "best.safetensors")


def test_a_config_supplies_the_data_and_the_recipe(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data": "mnist-small", "steps": 3, "crossover": "transplant-aligned"}))
    out = tmp_path / "run"
    assert main(["evolve", "--config", str(config), *SMALL, "--no-test", "-o", str(out)]) == 0
    settings = json.loads((out / "settings.json").read_text())
    assert settings["steps"] == 2 and settings["crossover"] == "transplant-aligned"  # the flag wins over the file
    assert "test accuracy" not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--population", "3"], "population"),
    (["--encoding", "direct", "--crossover", "interpolate-aligned"], "REPAIR"),
    (["--arch", "64-16-10"], "input"),
])
def test_contradictory_settings_fail_before_any_work(tmp_path, capsys, argv, message):
    out = tmp_path / "bad"
    assert main(["evolve", *SMALL, *argv, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not (out / "checkpoint.safetensors").exists() and not (out / "settings.json").exists()
