"""Per-episode records written as they come, and output directories checked before the work.

A long evaluation (``evaluation.evaluate``, its ``--mode command_grid / push / stand``,
``evaluation.safety_report``) appends each finished episode's record to ``OUT/<report>.episodes.jsonl``
(:func:`records_path`: ``evaluation``, ``command_grid``, ``push_recovery``, ``stand_still``,
``safety``) as soon as its batch of episodes is done: JSON Lines, one object per episode (the
same numbers as the report's per-episode list; NaN/inf as ``null``), each line flushed. A failure
after the episodes (disk full, a crash in a plot, Ctrl-C) then loses nothing that was measured;
the error message names the file (:meth:`EpisodeRecords.where`). The file is started afresh by the
first episode of a run, so a re-run into the same directory does not mix runs.

:func:`output_dir` checks the output directory (``train.output_paths.ensure_writable_dir``)
before anything runs and removes the directories it created if the work then stops before
writing anything into them (bad input found later leaves no empty folders behind).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

from evaluation.evaluation_report import jsonable
from train.output_paths import ensure_writable_dir

RECORDS_SUFFIX = ".episodes.jsonl"


def records_path(out_dir: str, stem: str) -> str:
    """``out_dir/<stem>.episodes.jsonl``: the records file beside the report ``<stem>.json``."""
    return os.path.join(out_dir, stem + RECORDS_SUFFIX)


def record_line(record: Mapping[str, Any]) -> str:
    """One JSON Lines line (without the newline) of ``record``; numpy values converted, NaN/inf as null."""
    return json.dumps(jsonable(record), allow_nan=False)


def read_records(path: str) -> List[Dict[str, Any]]:
    """The records of a records file, in the order written; a torn last line (the process was killed
    while writing it) is left out."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise
    return out


class EpisodeRecords:
    """Appends finished episodes' records to ``path`` (JSON Lines, one flushed line per episode).

    The file is created (emptied) by the first :meth:`append`. A failure to write it is reported
    once on stderr and the run goes on (the report, written at the end, holds every episode).
    """

    def __init__(self, path: str):
        self.path = path
        self.count = 0
        self.error: Optional[str] = None

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append ``records`` (one batch of finished episodes), flushing after each line."""
        if self.error is not None or not records:
            return
        try:
            with open(self.path, "a" if self.count else "w", encoding="utf-8") as fh:
                for r in records:
                    fh.write(record_line(r) + "\n")
                    fh.flush()
                    self.count += 1
        except OSError as e:
            self.error = f"{self.path}: {e.strerror or e}"
            print(f"warning: cannot write the episode records to {self.error}; the run goes on", file=sys.stderr)

    def where(self) -> str:
        """Where the finished episodes' numbers are, for an error message ('' before the first episode)."""
        if self.error is not None:
            return f"the episode records could not be written either ({self.error})"
        if not self.count:
            return ""
        return f"the {self.count} finished episode(s) are in {self.path} (one JSON line per episode)"


def with_records(message: str, records: Optional[EpisodeRecords]) -> str:
    """``message`` followed by where the finished episodes are (when some finished)."""
    where = records.where() if records is not None else ""
    return f"{message}; {where}" if where else message


def _missing_dirs(path: str) -> List[str]:
    """The directories of ``path`` that do not exist yet, deepest first (absolute)."""
    out, p = [], os.path.abspath(os.path.expanduser(os.fspath(path)))
    while p and not os.path.exists(p) and os.path.dirname(p) != p:
        out.append(p)
        p = os.path.dirname(p)
    return out


@contextlib.contextmanager
def output_dir(path: str, option: str = "--out") -> Iterator[str]:
    """Check ``path`` is a writable directory (creating it) and yield its absolute path.

    Raises ``train.output_paths.OutputPathError`` (a ``ConfigError``: ``error:`` line, exit status
    2 on the command lines) naming ``option`` and the path. If the ``with`` block raises, the
    directories created here that are still empty are removed again.
    """
    created = _missing_dirs(path)
    try:
        yield ensure_writable_dir(path, option)
    except BaseException:
        for d in created:  # deepest first; stops at the first that is not empty
            try:
                os.rmdir(d)
            except OSError:
                break
        raise
