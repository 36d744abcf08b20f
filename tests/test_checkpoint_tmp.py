"""A write killed half way leaves its temporary file; the next write into the folder removes it,
and only stale temporaries of our own naming."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from neuroevo.files import STALE_AFTER_S, TEMPORARY_SUFFIX, _host_tag, atomic_write
from populations import GAState, load_checkpoint, random_population, save_checkpoint
from tests.conftest import small_dense

REPO = Path(__file__).resolve().parents[1]


def _state(generation: int = 1) -> GAState:
    population = random_population(small_dense(), 2, encoding="direct", generator=torch.Generator().manual_seed(0))
    return GAState(population, generation)


def _finished_pid() -> int:
    """The id of a process of this machine that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temporary(folder: Path, target: str, host: str, pid: int, age_s: float = 0.0, tag: str = "abc123_x") -> Path:
    path = folder / f".{target}.{host}-{pid}-{tag}{TEMPORARY_SUFFIX}"
    path.write_bytes(b"half a checkpoint")
    if age_s:
        stamp = time.time() - age_s
        os.utime(path, (stamp, stamp))
    return path


def test_the_next_checkpoint_write_removes_stale_temporaries_and_nothing_else(tmp_path):
    dead_writer = _temporary(tmp_path, "run.safetensors", _host_tag(), _finished_pid())
    other_checkpoint = _temporary(tmp_path, "other.safetensors", _host_tag(), _finished_pid())
    old_remote = _temporary(tmp_path, "run.safetensors", "0badc0de", 1, age_s=STALE_AFTER_S + 60)
    live_writer = _temporary(tmp_path, "run.safetensors", _host_tag(), os.getpid())  # a write in progress
    recent_remote = _temporary(tmp_path, "run.safetensors", "0badc0de", 1, tag="r3cent")  # cannot tell: kept
    unrelated = [tmp_path / name for name in (
        "notes.tmp", ".run.safetensors.abcdefgh.tmp", f"x{TEMPORARY_SUFFIX}", f".run.safetensors.{TEMPORARY_SUFFIX}",
        "run.safetensors.neuroevo-tmp.bak",
    )]
    for path in unrelated:
        path.write_text("not ours")
    old = time.time() - 10 * STALE_AFTER_S
    os.utime(unrelated[0], (old, old))

    save_checkpoint(tmp_path / "run.safetensors", _state())

    for path in (dead_writer, other_checkpoint, old_remote):
        assert not path.exists(), path.name
    for path in (live_writer, recent_remote, *unrelated):
        assert path.exists(), path.name
    assert load_checkpoint(tmp_path / "run.safetensors").state.generation == 1


def test_a_killed_checkpoint_write_is_cleaned_up_by_the_next_one(tmp_path):
    """A real kill: a child process dies (os._exit) while writing; its temporary file stays until
    the next write, and the previous checkpoint is intact throughout."""
    path = save_checkpoint(tmp_path / "run.safetensors", _state(1))
    script = textwrap.dedent(f"""
        import os, sys, torch
        sys.path.insert(0, {str(REPO)!r})
        import neuroevo.files
        from populations import GAState, random_population, save_checkpoint
        from tests.conftest import small_dense

        def killed(tensors, filename, metadata=None):
            with open(filename, "wb") as handle:
                handle.write(b"partial")
            os._exit(9)

        neuroevo.files.save_file = killed
        population = random_population(small_dense(), 2, encoding="direct", generator=torch.Generator().manual_seed(0))
        save_checkpoint({str(path)!r}, GAState(population, 2))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 9, result.stderr
    strays = [p for p in tmp_path.iterdir() if p.name.endswith(TEMPORARY_SUFFIX)]
    assert len(strays) == 1 and strays[0].read_bytes() == b"partial"
    assert load_checkpoint(path).state.generation == 1

    save_checkpoint(path, _state(3))

    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.safetensors"]
    assert load_checkpoint(path).state.generation == 3


@pytest.mark.skipif(os.name != "posix", reason="process ids are probed on POSIX only")
def test_any_atomic_write_cleans_the_folder(tmp_path):
    stray = _temporary(tmp_path, "results.json", _host_tag(), _finished_pid())
    atomic_write(tmp_path / "results.json", lambda tmp: tmp.write_text("{}"))
    assert not stray.exists() and (tmp_path / "results.json").read_text() == "{}"
