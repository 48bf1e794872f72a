"""One nested run configuration — a recipe — read from ``configs/<name>.toml``.

A recipe file has top-level settings and four tables, each checked against the dataclass it fills::

    sized_for = "2 CPU cores: ..."   # the device budget the recipe was sized for (informative)
    average_last = 5                 # evaluate the mean of the last k snapshots (1 = last.pth)
    modes = ["chunk", "ta"]          # evaluations: chunk execution, temporal aggregation
    [collect]  envs.collection.CollectConfig  (not output, overwrite, resume: the runner sets them)
    [model]    models.ACTConfig               (not the shapes, which come from the data)
    [train]    training.trainer.TrainConfig   (not data, model, output_dir, run_name)
    [eval]     evaluation.rollout.EvalConfig  (not seeds, video_dir, device, on_demo_states)
    [modified.model], [standard.train], ...: settings for one model only
    [tasks."reach-v3".collect], ...: settings for one task only (each with its evidence in a comment)

The device never changes the experiment: a recipe sized for a CPU runs the same settings on a GPU.
Names are short and fixed by the recipe: the run ``<task>__<model>__<recipe>[__seed<k>][__<hash>]``
(the hash of any overrides), its demo file ``<task>__<recipe>[__<hash>].hdf5`` (collection overrides
only), its results ``<run name>__<split>__<mode>.json``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envs.collection import CollectConfig
from envs.hdf5_demos import RESUME_MUST_MATCH
from evaluation.rollout import EvalConfig
from models import MODEL_KINDS, ACTConfig
from pipeline.cli import ConfigError, check_section, parse_override, read_config_file
from training.trainer import TrainConfig

# fields each table may not set, because the runner sets them (or the data determines them)
EXCLUDED = {
    "collect": ("output", "overwrite", "resume"),
    "model": ("state_dim", "action_dim", "camera_names", "image_size"),
    "train": ("data", "model", "output_dir", "run_name"),
    "eval": ("seeds", "video_dir", "device", "on_demo_states"),
}
TABLES = {"collect": CollectConfig, "model": ACTConfig, "train": TrainConfig, "eval": EvalConfig}
TOP_LEVEL = ("sized_for", "average_last", "modes")
PER_TASK = "tasks"  # [tasks."<task>".<table>]
MODES = ("chunk", "ta")
# settings that change how fast a stage runs, never what it produces: left out of names
EXECUTION_ONLY = {
    "collect": ("workers",),
    "train": ("device", "num_workers", "data_on_device", "log_every"),
    "eval": ("num_envs", "workers"),
}


@dataclass
class Recipe:
    """A recipe resolved for one task, model and training seed."""

    name: str  # the recipe file's stem, e.g. "shelf_place_cpu"
    model: str  # "standard" or "modified"
    collect: dict[str, Any]  # CollectConfig settings
    model_settings: dict[str, Any]  # ACTConfig settings
    train: dict[str, Any]  # TrainConfig settings
    eval: dict[str, Any]  # EvalConfig settings
    sized_for: str = ""
    average_last: int = 5
    modes: tuple[str, ...] = MODES
    overrides: dict[str, Any] = field(default_factory=dict)  # "section.key" -> value given on the command line
    task_settings: dict[str, Any] = field(default_factory=dict)  # "section.key" -> value from [tasks."<task>"]
    source: str = ""  # path of the recipe file

    # -- names -------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return self.collect["task"]

    def _hash(self, sections: tuple[str, ...]) -> str:
        named = {key: value for key, value in self.overrides.items()
                 if key.split(".")[0] in sections and key.split(".")[1] not in EXECUTION_ONLY.get(key.split(".")[0], ())
                 and key not in ("collect.task", "train.seed", "eval.split")}  # these are in the names already
        if not named:
            return ""
        digest = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:6]
        return f"__{digest}"

    @property
    def run_name(self) -> str:
        seed = self.train.get("seed", 0)
        return (f"{self.task}__{self.model}__{self.name}" + (f"__seed{seed}" if seed else "")
                + self._hash(("collect", "model", "train", "top")))

    @property
    def data_name(self) -> str:
        return f"{self.task}__{self.name}{self._hash(('collect',))}.hdf5"

    def result_name(self, mode: str) -> str:
        return f"{self.run_name}{self._hash(('eval',))}__{self.eval.get('split', 'validation')}__{mode}.json"

    # -- the dataclasses ---------------------------------------------------------------------
    def collect_config(self, output: str, resume: bool) -> CollectConfig:
        return CollectConfig(**{**self.collect, "output": output, "resume": resume})

    def train_config(self, data: str, output_dir: str, device: str) -> TrainConfig:
        return TrainConfig(**{**self.train, "data": data, "model": self.model, "output_dir": output_dir,
                              "run_name": self.run_name, "device": device})

    def eval_config(self, temporal_agg: bool, device: str, video_dir: str | None) -> EvalConfig:
        return EvalConfig(**{**self.eval, "temporal_agg": temporal_agg, "device": device, "video_dir": video_dir})

    @property
    def snapshot_steps(self) -> list[int]:
        """The steps whose snapshots are averaged (empty when average_last is 1: last.pth is evaluated)."""
        if self.average_last <= 1:
            return []
        steps, every = self.train_config_defaults("steps"), self.train_config_defaults("save_every")
        return [steps - i * every for i in range(self.average_last - 1, -1, -1)]

    def train_config_defaults(self, key: str) -> Any:
        return self.train.get(key, getattr(TrainConfig, key))

    def run_identity(self) -> dict[str, Any]:
        """What the run folder's contents depend on: the recipe without its evaluation settings and
        without execution-only settings (a rerun may change those and keep the run)."""
        def trimmed(section: str, values: dict[str, Any]) -> dict[str, Any]:
            return {key: value for key, value in _plain(values).items() if key not in EXECUTION_ONLY.get(section, ())}

        return {"recipe": self.name, "model": self.model, "collect": trimmed("collect", self.collect),
                "model_settings": _plain(self.model_settings), "train": trimmed("train", self.train),
                "average_last": self.average_last}

    def to_dict(self) -> dict[str, Any]:
        """Everything that defines the experiment, as plain JSON (recorded in every result)."""
        return {
            "recipe": self.name, "source": self.source, "model": self.model, "sized_for": self.sized_for,
            "average_last": self.average_last, "modes": list(self.modes), "overrides": self.overrides,
            "task_settings": self.task_settings,
            "collect": _plain(self.collect), "model_settings": _plain(self.model_settings),
            "train": _plain(self.train), "eval": _plain(self.eval),
        }


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


def load_recipe(path: str | Path, model: str, task: str | None = None, overrides: list[str] = ()) -> Recipe:
    """The recipe in `path` for `model` (and `task`, which replaces collect.task), with dotted
    `overrides` (``train.steps=2000``) applied; every setting is checked by its dataclass."""
    if model not in MODEL_KINDS:
        raise ConfigError(f"model must be one of {', '.join(MODEL_KINDS)}, got {model!r}")
    path = Path(path)
    raw = read_config_file(path)
    unknown = sorted(set(raw) - set(TABLES) - set(TOP_LEVEL) - set(MODEL_KINDS) - {PER_TASK})
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}; a recipe has {', '.join(TOP_LEVEL)}, the "
                          f"tables {', '.join(f'[{name}]' for name in TABLES)}, per-model tables such as "
                          '[modified.model] and per-task tables such as [tasks."reach-v3".collect]')
    tables = {name: dict(check_section(raw.get(name, {}), cls, f"{path} [{name}]", EXCLUDED[name]))
              for name, cls in TABLES.items()}
    for kind in MODEL_KINDS:  # [modified.model] etc.: settings for one model only
        per_model = raw.get(kind, {})
        if not isinstance(per_model, dict) or set(per_model) - set(TABLES):
            raise ConfigError(f"{path} [{kind}] may hold only the tables {', '.join(f'[{kind}.{t}]' for t in TABLES)}")
        if kind == model:
            for name, values in per_model.items():
                tables[name].update(check_section(values, TABLES[name], f"{path} [{kind}.{name}]", EXCLUDED[name]))
    top = {key: raw[key] for key in TOP_LEVEL if key in raw}
    applied: dict[str, Any] = {}
    if task is not None:
        tables["collect"]["task"] = task
        applied["collect.task"] = task
    per_task = raw.get(PER_TASK, {})
    if not isinstance(per_task, dict) or any(not isinstance(values, dict) or set(values) - set(TABLES)
                                             for values in per_task.values()):
        raise ConfigError(f'{path} [{PER_TASK}] holds one table per task, such as [tasks."reach-v3".collect], '
                          f"each with only the tables {', '.join(TABLES)}")
    for name in per_task:
        check_task_name(name, f"{path} [{PER_TASK}]")
    task_settings: dict[str, Any] = {}
    for name, values in per_task.get(tables["collect"].get("task"), {}).items():
        if "task" in values:
            raise ConfigError(f"{path} [{PER_TASK}]: a task's own table cannot change its task")
        tables[name].update(check_section(values, TABLES[name], f"{path} [{PER_TASK}.{name}]", EXCLUDED[name]))
        task_settings.update({f"{name}.{key}": value for key, value in values.items()})
    for text in overrides:
        section, key, value = parse_override(text)
        if section == "top":
            if key not in TOP_LEVEL:
                raise ConfigError(f"override {text!r}: top-level settings are {', '.join(TOP_LEVEL)}")
            top[key] = value
        elif section in TABLES:
            check_section({key: value}, TABLES[section], f"override {text!r}", EXCLUDED[section])
            tables[section][key] = value
        else:
            raise ConfigError(f"override {text!r}: sections are {', '.join(TABLES)} and top")
        applied[f"{section}.{key}"] = value
    recipe = Recipe(
        name=path.stem, model=model, collect=tables["collect"], model_settings=tables["model"],
        train=tables["train"], eval=tables["eval"], sized_for=str(top.get("sized_for", "")),
        average_last=int(top.get("average_last", 5)), modes=tuple(top.get("modes", MODES)),
        overrides=applied, task_settings=task_settings, source=str(path),
    )
    _check(recipe)
    return recipe


def check_task_name(name: str, where: str) -> None:
    """Refuses a name that is no MetaWorld task (a misspelt per-task table would otherwise apply to nothing)."""
    from envs import TaskNameError, check_task

    try:
        check_task(name)
    except TaskNameError as error:
        raise ConfigError(f"{where}: {error}") from None


def _check(recipe: Recipe) -> None:
    """Builds each dataclass once so that a bad value is reported now, naming its table."""
    bad_modes = [mode for mode in recipe.modes if mode not in MODES]
    if bad_modes or not recipe.modes:
        raise ConfigError(f"modes must be a non-empty list of {', '.join(MODES)}, got {list(recipe.modes)}")
    if recipe.average_last < 1:
        raise ConfigError(f"average_last must be >= 1, got {recipe.average_last}")
    checks = (
        ("collect", lambda: recipe.collect_config("check.hdf5", False)),
        ("model", lambda: ACTConfig(**recipe.model_settings)),
        ("train", lambda: TrainConfig(**recipe.train)),
        ("eval", lambda: recipe.eval_config(False, "cpu", "videos")),
    )
    for name, make in checks:
        try:
            make()
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{recipe.source} [{name}]: {error}") from None
    steps, every = recipe.train_config_defaults("steps"), recipe.train_config_defaults("save_every")
    if recipe.average_last > 1 and (every <= 0 or steps % every or (recipe.average_last - 1) * every >= steps):
        raise ConfigError(
            f"averaging the last {recipe.average_last} snapshots needs train.save_every > 0 dividing train.steps "
            f"({steps}) and (average_last - 1) * save_every < steps; set average_last = 1 to evaluate last.pth"
        )
    if recipe.model == "standard" and recipe.model_settings.get("cvae_image_grad") is False:
        raise ConfigError("model.cvae_image_grad = false is for the modified model (Standard's CVAE sees no images)")


def stored_differences(recipe: Recipe, train_config: dict[str, Any], model_config: dict[str, Any]) -> list[str]:
    """The settings in which a run folder's stored configs differ from the recipe (empty: it is this recipe's run)."""
    differences = []
    for key, value in recipe.train.items():
        if key in EXECUTION_ONLY["train"] or key == "steps":
            continue
        if key == "amp" and value == "auto":
            continue  # resolved when the run started, to what the device computes natively
        stored = _plain({key: train_config.get(key, getattr(TrainConfig, key, None))})[key]
        if _plain({key: value})[key] != stored:
            differences.append(f"train.{key}: run has {stored!r}, recipe {value!r}")
    for key, value in recipe.model_settings.items():
        if model_config.get(key) != value:
            differences.append(f"model.{key}: run has {model_config.get(key)!r}, recipe {value!r}")
    return differences


def collection_differences(recipe: Recipe, stored: dict[str, Any]) -> list[str]:
    """The collection settings in which a demo file's stored collect_config differs from the recipe."""
    wanted = _plain(asdict(recipe.collect_config("x.hdf5", False)))
    differ = []
    for key in (*RESUME_MUST_MATCH, "num_demos"):  # what shapes the demonstrations, and how many
        want = wanted[key]
        if stored.get(key) != want:
            differ.append(f"collect.{key}: file has {stored.get(key)!r}, recipe {want!r}")
    return differ


