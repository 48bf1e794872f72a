"""A journal of finished evaluation episodes, so an interrupted evaluation continues where it stopped.

A 100-episode evaluation with temporal aggregation takes 20–35 minutes on the 2-core CPU; a crash,
Ctrl-C or a lost connection would otherwise lose all of it. `evaluate(..., journal=path)` appends
one JSON line per finished episode to `path` (flushed and fsynced), after a first line that holds
the journal's key: what decides an episode's outcome (the checkpoint's sha256 and step, the
execution settings, the step limit, the environment). A later evaluation with the same key reuses
every journalled episode whose seed it asks for and runs only the others. Episodes are independent
and fixed by their seed, so the resumed result scores the same set of episodes as an uninterrupted
one.

A journal with another key is refused (`JournalMismatch`): its episodes belong to another
checkpoint or other settings. A torn last line (a crash mid-write) is dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from training.atomic import write_text

VERSION = 1


class JournalMismatch(ValueError):
    """The journal on disk was written by an evaluation with other settings or another checkpoint."""


def journal_path(output: str | os.PathLike) -> Path:
    """Where the evaluator journals the episodes of the results file `output`."""
    return Path(f"{output}.partial")


def journal_key(checkpoint: dict[str, Any], settings: dict[str, Any], env: dict[str, Any],
                max_steps: int, on_demo_states: bool) -> dict[str, Any]:
    """What an episode's outcome depends on besides its seed (all of it JSON-serialisable)."""
    return {
        "version": VERSION,
        "checkpoint_sha256": checkpoint.get("sha256"),
        "checkpoint_step": checkpoint.get("step"),
        "model_kind": checkpoint.get("model_kind"),
        "execution": dict(settings),  # temporal_agg, query_freq, k
        "max_steps": max_steps,
        "on_demo_states": on_demo_states,
        "env": env,
    }


def _differences(expected: dict[str, Any], found: dict[str, Any]) -> list[str]:
    return sorted(name for name in set(expected) | set(found) if expected.get(name) != found.get(name))


class EpisodeJournal:
    """Append-only JSON-lines file: a key line, then one record per finished episode."""

    def __init__(self, path: str | os.PathLike, key: dict[str, Any]):
        self.path = Path(path)
        # JSON round trip, so that tuples and lists compare equal to what a reload gives
        self.key = json.loads(json.dumps(key))
        self.records: dict[int, dict[str, Any]] = {}  # seed -> episode record
        self.wall_s = 0.0  # wall time of the evaluations that wrote the journalled episodes
        if self.path.exists():
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"key": self.key})

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        entries = []
        for number, line in enumerate(lines):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                if number == len(lines) - 1:  # torn last line: the episode is simply run again
                    break
                raise JournalMismatch(f"{self.path} is corrupt at line {number + 1}; delete it to start afresh")
        if not entries or "key" not in entries[0]:
            raise JournalMismatch(f"{self.path} is not an evaluation journal; delete it to start afresh")
        found = entries[0]["key"]
        if found != self.key:
            changed = ", ".join(_differences(self.key, found))
            raise JournalMismatch(
                f"{self.path} holds episodes of another evaluation (differs in: {changed}); "
                "delete it, or rerun with the settings and checkpoint that wrote it"
            )
        for entry in entries[1:]:
            self.records[int(entry["record"]["seed"])] = entry["record"]
            self.wall_s = max(self.wall_s, float(entry["wall_s"]))
        if len(lines) > len(entries):  # rewrite without the torn line (atomically) before appending to it
            write_text(self.path, "".join(json.dumps(entry) + "\n" for entry in entries))

    def _append(self, entry: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def add(self, record: dict[str, Any], wall_s: float) -> None:
        """Journals a finished episode; `wall_s` is the evaluation's total wall time so far."""
        self.records[int(record["seed"])] = record
        self.wall_s = wall_s
        self._append({"record": record, "wall_s": wall_s})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
