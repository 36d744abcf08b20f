"""The note a generated RESULTS section carries when the code that measured its figures has changed.

Every benchmark that renders a section from a stored result file calls :func:`stale_lines` on the
file's provenance, so a figure measured by code that changed since is marked where it is read.
"""

from __future__ import annotations

from neuroevo.provenance import stale_code

STALE_MARK = "†"


def stale_lines(record: dict, rerun: str) -> list[str]:
    """``[note, ""]`` when the measured code of ``record`` (a :func:`neuroevo.provenance.provenance`
    record, or any dict with its ``commit`` and ``code``) changed since, else ``[]``; ``rerun`` is the
    command that measures it again."""
    changed = stale_code(record)
    if not changed:
        return []
    named = ", ".join(changed[:3]) + (", ..." if len(changed) > 3 else "")
    return [f"{STALE_MARK} **Stale**: measured at commit {str(record.get('commit'))[:10]}; the measured code "
            f"(neuroevo/, operators/, populations/) has changed since in {len(changed)} file(s) ({named}). "
            f"Re-run with `{rerun}`.", ""]
