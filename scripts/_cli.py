"""Argument types and the parser shared by the scripts (a helper module, not an entry point)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: ...`` line and exit code 2 (no usage dump)."""

    def __init__(self, description: str | None = None, **kwargs) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(description=description, **kwargs)

    def error(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def _number(kind: type, minimum: float, strict: bool, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    parse.__name__ = what
    return parse


positive_int = _number(int, 0, True, "a positive integer")
non_negative_int = _number(int, 0, False, "an integer >= 0")
positive_float = _number(float, 0.0, True, "a positive number")
non_negative_float = _number(float, 0.0, False, "a number >= 0")
image_size = _number(int, 16, False, "an image size of at least 16 pixels")


def stop_cleanly_on_signals() -> None:
    """Make ``kill`` (SIGTERM) and Ctrl-C (SIGINT) raise KeyboardInterrupt, so the scripts' save-and-exit path runs.

    A process started in the background by a non-interactive shell inherits SIGINT as ignored; this
    restores it, and SIGTERM (what ``kill`` and job schedulers send) takes the same path.
    """
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def read_json_files(paths: list[str]) -> list[dict] | None:
    """The JSON files at ``paths``, parsed in order; None after printing one ``error:`` line for the first unreadable one."""
    loaded = []
    for path in paths:
        try:
            loaded.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            return None
    return loaded
