"""Command lines and recipe files derived from the configuration dataclasses.

Every setting is a dataclass field written once, with its default and a trailing ``# comment``
(envs.collection.CollectConfig, models.ACTConfig, training.trainer.TrainConfig,
evaluation.rollout.EvalConfig). From those fields this module builds

- the flags of each entry point (``--<field> VALUE``; a bool field gives ``--<field>`` and
  ``--no-<field>``), with the comment as help and the default shown;
- the reading of a recipe file (``--config configs/<name>.toml``, TOML via the standard library's
  ``tomllib``, or JSON), whose ``[section]`` tables set the defaults the flags then override;
- dotted overrides for the recipe runner (``train.steps=2000``).

Precedence: dataclass default < recipe file < command-line flag.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import json
import sys
import textwrap
import tokenize
import tomllib
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A recipe file or override that cannot be used; the message says which key and why."""


# -- argparse ----------------------------------------------------------------------------------
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and shows every flag's default (but None and a switch's False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default in (None, argparse.SUPPRESS) or isinstance(
            action, argparse._StoreTrueAction | argparse._StoreFalseAction | argparse._HelpAction
        ):
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error: ...`` line and exit code 2 (no usage dump)."""

    def __init__(self, description: str | None = None, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(description=description, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def _number(kind: type, minimum: float, strict: bool, what: str) -> Callable[[str], Any]:
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


# -- field help from the source ------------------------------------------------------------------
def field_help(cls: type) -> dict[str, str]:
    """Each field's comment in `cls`'s source: the ``# ...`` after it, continued by the comment lines
    below it; a field with no comment of its own takes the comment lines just above it."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments: dict[int, str] = {}  # line number (1-based) -> comment text
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            code_lines.add(token.start[0])
    body = ast.parse(source).body[0].body
    fields = [(node.target.id, node.lineno, node.end_lineno) for node in body
              if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)]
    own = {name: end in comments for name, _, end in fields}
    helps: dict[str, list[str]] = {name: [comments[end]] if own[name] else [] for name, _, end in fields}
    for index, (name, _, end) in enumerate(fields):
        stop = fields[index + 1][1] if index + 1 < len(fields) else len(lines) + 1
        between = []
        for number in range(end + 1, stop):
            if number in code_lines:
                break  # a method or other statement ends the fields
            if number in comments:
                between.append(comments[number])
        if not between:
            continue
        following = fields[index + 1][0] if index + 1 < len(fields) and fields[index + 1][1] == stop else None
        if following is not None and not own[following]:
            helps[following] = between + helps[following]
        else:
            helps[name] += between
    return {name: " ".join(parts) for name, parts in helps.items()}


# -- types ---------------------------------------------------------------------------------------
def _resolved_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _optional_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse_or_none(text: str):
        return None if text.lower() in ("none", "") else parse(text)

    parse_or_none.__name__ = getattr(parse, "__name__", "value")
    return parse_or_none


def add_fields(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    values: dict[str, Any] | None = None,
    exclude: Iterable[str] = (),
    only: Iterable[str] | None = None,
    types_: dict[str, Callable[[str], Any]] | None = None,
    choices: dict[str, Iterable[Any]] | None = None,
    title: str | None = None,
) -> list[str]:
    """Adds ``--<field>`` for each field of dataclass `cls` (all but `exclude`, or `only` those);
    `values` (a recipe file's section) replaces the dataclass defaults. Returns the field names added."""
    values = dict(values or {})
    helps = field_help(cls)
    hints = _resolved_hints(cls)
    exclude = set(exclude)
    wanted = set(only) if only is not None else None
    types_ = types_ or {}
    choices = choices or {}
    group = parser.add_argument_group(title) if title else parser
    added = []
    for field in dataclasses.fields(cls):
        name = field.name
        if name in exclude or (wanted is not None and name not in wanted) or not field.init:
            continue
        hint, optional = _strip_optional(hints[name])
        default = values.get(name, _default(field))
        if isinstance(default, tuple):
            default = list(default)
        kwargs: dict[str, Any] = {"default": default, "help": helps.get(name) or name.replace("_", " ")}
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(hint) in (tuple, list):
            item = typing.get_args(hint)[0] if typing.get_args(hint) else str
            kwargs.update(nargs="*", type=types_.get(name, item), metavar=name.upper())
        else:
            parse = types_.get(name, hint if hint in (int, float, str) else str)
            kwargs["type"] = _optional_type(parse) if optional else parse
            if name in choices:
                kwargs["choices"] = list(choices[name])
            kwargs["metavar"] = None if name in choices else name.upper()
        group.add_argument(f"--{name}", dest=name, **kwargs)
        added.append(name)
    return added


def build(cls: type, args: argparse.Namespace, names: Iterable[str], **fixed: Any) -> Any:
    """An instance of dataclass `cls` from the parsed flags `names` (lists become tuples where the
    field is a tuple), plus `fixed` values."""
    hints = _resolved_hints(cls)
    values = {}
    for name in names:
        value = getattr(args, name)
        hint, _ = _strip_optional(hints[name])
        if typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**{**values, **fixed})


# -- recipe files --------------------------------------------------------------------------------
def read_config_file(path: str | Path) -> dict[str, Any]:
    """A recipe file as nested dicts: TOML (``.toml``) or JSON (anything else)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror or error}") from None
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {error}") from None


def check_section(values: dict[str, Any], cls: type, where: str, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """`values` if every key is a settable field of `cls`, else ConfigError naming the unknown key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a table of settings, got {values!r}")
    known = {field.name for field in dataclasses.fields(cls) if field.init} - set(exclude)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; the settings are {', '.join(sorted(known))}")
    return values


def config_section(argv: list[str], section: str, cls: type, exclude: Iterable[str] = (),
                   model: str | None = None) -> tuple[str | None, dict]:
    """The ``--config FILE`` given in `argv` (or None) and its ``[section]`` table, checked against `cls`,
    updated by the ``[<model>.<section>]`` table when `model` is given."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config", default=None)
    known, _ = early.parse_known_args(argv)
    if known.config is None:
        return None, {}
    raw = read_config_file(known.config)
    table = dict(check_section(raw.get(section, {}), cls, f"{known.config} [{section}]", exclude))
    if model is not None:
        per_model = raw.get(model, {}).get(section, {}) if isinstance(raw.get(model, {}), dict) else {}
        table.update(check_section(per_model, cls, f"{known.config} [{model}.{section}]", exclude))
    return known.config, table


def parse_override(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` → (section, key, value); the value is read as TOML (``2000``, ``1e-4``,
    ``true``, ``["a", "b"]``), else kept as a string (``reach-v3``)."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.partition(".")
    if not sep or not dot or not section or not key:
        raise ConfigError(f"override {text!r} is not section.key=value (e.g. train.steps=2000)")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def changed_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The flags whose parsed value differs from the parser's default (what the user set)."""
    return sorted(name for name, value in vars(args).items() if value != parser.get_default(name))


# -- process behaviour shared by the entry points -------------------------------------------------
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
    """The JSON files at `paths`, parsed in order; None after printing one ``error:`` line for the first unreadable one."""
    loaded = []
    for path in paths:
        try:
            loaded.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as error:
            print(f"error: {path}: {error}", file=sys.stderr)
            return None
    return loaded
