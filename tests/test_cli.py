import subprocess
import sys

from neuroevo.cli import build_parser, main
from neuroevo.data import BUILTIN_DATASET, KNOWN_DATASETS
from neuroevo.files import load_genome


def test_module_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "neuroevo", "--help"], capture_output=True, text=True, check=True)
    for command in ("init", "info"):
        assert command in result.stdout


def test_init_then_info(tmp_path, capsys):
    out = tmp_path / "g.safetensors"
    assert main(["init", "--arch", "784-400-10", "--d", "64", "-o", str(out)]) == 0
    genome = load_genome(out)
    assert genome.widths == (400, 10)
    assert main(["info", str(out)]) == 0
    assert "76,826" in capsys.readouterr().out


def test_bad_architecture_is_a_clean_error(tmp_path, capsys):
    assert main(["init", "--arch", "784-x-10", "-o", str(tmp_path / "g.safetensors")]) == 2
    assert "not a layer width" in capsys.readouterr().err
    assert not (tmp_path / "g.safetensors").exists()


# ------------------------------------------------------------------ data on the command line
def test_train_evolve_and_sweep_default_to_the_builtin_data_set():
    parser = build_parser()
    for argv in (["train", "--arch", "784-10", "-o", "x"], ["evolve", "-o", "x"], ["ga", "-o", "x"],
                 ["sweep", "transplant"]):
        assert parser.parse_args(argv).data == BUILTIN_DATASET
    assert parser.parse_args(["fit", "g.safetensors", "-o", "x"]).data is None  # fit: test data only if asked


def test_a_missing_data_set_names_the_flags_that_fix_it(tmp_path, capsys):
    assert main(["train", "--data", "fashion-mnist", "--data-root", str(tmp_path), "--arch", "784-10",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--download" in err and "--data-root" in err and "--data mnist-small" in err
    assert "download=True" not in err and "root=" not in err and "load_dataset" not in err


def test_a_failed_download_is_one_line_without_a_traceback(tmp_path, monkeypatch, capsys):
    import torchvision

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried http://example.org/, got:\n"
                           "<urlopen error [Errno 101] Network is unreachable>\n")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    assert main(["train", "--data", "mnist", "--download", "--data-root", str(tmp_path), "--arch", "784-10",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "could not download mnist" in err and "Network is unreachable" in err and "--data mnist-small" in err


def test_an_unknown_data_set_lists_the_known_names(tmp_path, capsys):
    assert main(["sweep", "transplant", "--data", "imagenet", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'imagenet'" in err and all(name in err for name in KNOWN_DATASETS)


def test_sweep_and_evolve_read_memory_budgets_in_one_unit():
    parser = build_parser()
    for text, expected in (("512", 512 * 2**20), ("512M", 512 * 2**20), ("2G", 2**31), ("4096B", 4096)):
        sweep = parser.parse_args(["sweep", "transplant", "--memory-budget", text])
        evolve = parser.parse_args(["ga", "--memory-budget", text, "-o", "x"])
        assert sweep.memory_budget == evolve.memory_budget == expected
    assert parser.parse_args(["sweep", "transplant"]).memory_budget == 512 * 2**20


# ------------------------------------------------------------------ initialisation
def test_new_embedding_genomes_start_fan_in_unless_normal_is_asked_for(tmp_path):
    paths = {name: tmp_path / f"{name}.safetensors" for name in ("default", "fan-in", "normal")}
    assert main(["init", "--arch", "16-8-3", "--d", "4", "-o", str(paths["default"])]) == 0
    for init in ("fan-in", "normal"):
        assert main(["init", "--arch", "16-8-3", "--d", "4", "--init", init, "-o", str(paths[init])]) == 0
    default, fan_in, normal = (load_genome(paths[name]) for name in ("default", "fan-in", "normal"))
    assert default == fan_in and default != normal
