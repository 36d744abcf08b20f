import subprocess
import sys

from neuroevo.cli import main
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
