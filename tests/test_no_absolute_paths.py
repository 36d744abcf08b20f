"""No committed result or doc names a path of the machine that wrote it (issue 19): every command a
reader finds runs from a clone as written."""

import json
import re
import subprocess
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent
#: An absolute path of some machine: a POSIX home, temp or work folder, or a Windows drive.
ABSOLUTE = re.compile(r"(?<![\w.<])(/(work|tmp|root|home|Users|mnt|var/folders)/|[A-Za-z]:\\)")


def _committed(pattern: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--", pattern], cwd=REPOSITORY, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git clone")
    return [REPOSITORY / line for line in listed.stdout.splitlines() if (REPOSITORY / line).exists()]


def _strings(value):
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_the_pattern_catches_what_it_should():
    for text in ("--data /work/shared/data/mnist", "--results /tmp/RESULTS_B.md", "/root/x", "see /home/me/a",
                 r"C:\data\m.json"):
        assert ABSOLUTE.search(text), text
    for text in ("--results <tmp>/RESULTS_B.md", "docs/figures/tmp/x", "benchmarks/results/x.json", "1/tmp/2"):
        assert not ABSOLUTE.search(text), text


def test_no_committed_result_file_holds_an_absolute_path():
    files = [f for f in _committed("*.json") if f.relative_to(REPOSITORY).parts[0] in ("benchmarks", "docs")]
    assert files, "no committed result files found"
    offending = {}
    for path in files:
        hits = [s for s in _strings(json.loads(path.read_text())) if ABSOLUTE.search(s)]
        if hits:
            offending[str(path.relative_to(REPOSITORY))] = hits[:2]
    assert not offending, offending


def test_no_doc_holds_an_absolute_path():
    offending = {}
    for path in _committed("*.md"):
        hits = [line.strip() for line in path.read_text().splitlines() if ABSOLUTE.search(line)]
        if hits:
            offending[str(path.relative_to(REPOSITORY))] = hits[:2]
    assert not offending, offending
