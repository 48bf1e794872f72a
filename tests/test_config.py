"""Recipes and command lines derived from the configuration dataclasses (pipeline/cli.py, pipeline/recipe.py)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envs.collection import CollectConfig
from evaluation.rollout import EvalConfig
from models import ACTConfig
from pipeline.cli import ConfigError, field_help, parse_override
from pipeline.recipe import load_recipe
from scripts import collect_act_demos, evaluate_act_proper, train_act_proper
from training.trainer import TrainConfig

ROOT = Path(__file__).resolve().parent.parent

CONFIGS = sorted((ROOT / "configs").glob("*.toml"))


def defaults(cls: type) -> dict:
    values = {}
    for field in dataclasses.fields(cls):
        value = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        values[field.name] = list(value) if isinstance(value, tuple) else value
    return values


@pytest.mark.parametrize("cls", [CollectConfig, TrainConfig, ACTConfig, EvalConfig])
def test_every_setting_has_a_help_text_from_its_comment(cls):
    helps = field_help(cls)
    missing = [field.name for field in dataclasses.fields(cls) if not helps.get(field.name)]
    assert not missing


def test_help_takes_the_trailing_comment_its_continuation_and_a_comment_block_above():
    helps = field_help(TrainConfig)
    assert helps["batch_size"] == "windows per step (ACT paper: 8)"
    assert helps["state_input"].startswith('state vector fed to the model') and "privileged upper bound" in helps["state_input"]
    assert field_help(CollectConfig)["action_noise"].startswith("DART-style noise injection")
    assert field_help(ACTConfig)["cvae_image_grad"].startswith("Modified ACT only")


@pytest.mark.parametrize(("module", "classes", "argv"), [
    (collect_act_demos, [CollectConfig], []),
    (train_act_proper, [TrainConfig, ACTConfig], []),
    (evaluate_act_proper, [EvalConfig], ["--checkpoint", "x.pth"]),
])
def test_command_line_defaults_are_the_dataclass_defaults(module, classes, argv):
    """Every flag named after a field defaults to the field's default, except three whose flag says
    "derive it": --output (data/<task>.hdf5), --model (standard, checked against a resumed run) and
    --device (auto, resolved before the config is built)."""
    args = vars(module.parse_args(argv))
    own = {"output", "model", "device"}
    compared = 0
    for cls in classes:
        for name, value in defaults(cls).items():
            if name in args and name not in own:
                assert args[name] == value, f"{cls.__name__}.{name}"
                compared += 1
    assert compared >= sum(len(dataclasses.fields(cls)) for cls in classes) - 8


def test_a_recipe_file_sets_defaults_and_flags_override_it(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text('[train]\nbatch_size = 3\nsteps = 50\naction_loss = "l2"\n[model]\nchunk_size = 7\n')
    args = train_act_proper.parse_args(["--config", str(recipe), "--steps", "9"])
    assert (args.batch_size, args.steps, args.action_loss, args.chunk_size) == (3, 9, "l2", 7)
    assert args.hidden_dim == ACTConfig.hidden_dim  # untouched: the paper's default


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})


def test_an_unknown_setting_in_a_recipe_file_is_one_error_line(tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text("[train]\nbatch_sise = 3\n")
    done = run_script("scripts/train_act_proper.py", "--config", str(recipe))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "'batch_sise'" in done.stderr and "batch_size" in done.stderr


def test_help_shows_every_default():
    done = run_script("scripts/train_act_proper.py", "--help")
    assert done.returncode == 0
    for text in ("windows per step (ACT paper: 8) (default: 8)", "(default: 0.0001)", "(default: 3200)"):
        assert text in " ".join(done.stdout.split()), text


@pytest.mark.parametrize("path", CONFIGS, ids=[path.stem for path in CONFIGS])
@pytest.mark.parametrize("model", ["standard", "modified"])
def test_every_shipped_recipe_loads_for_both_models(path, model):
    recipe = load_recipe(path, model)
    assert recipe.run_name == f"{recipe.task}__{model}__{path.stem}"
    assert recipe.result_name("chunk") == f"{recipe.run_name}__{recipe.eval.get('split', 'validation')}__chunk.json"
    assert recipe.data_name == f"{recipe.task}__{path.stem}.hdf5"  # shared by both models


def test_per_model_tables_apply_to_their_model_only():
    path = ROOT / "configs" / "shelf_place_cpu.toml"
    assert load_recipe(path, "modified").model_settings["cvae_image_grad"] is False
    assert "cvae_image_grad" not in load_recipe(path, "standard").model_settings


def test_overrides_that_change_the_experiment_change_the_names_and_others_do_not():
    path = ROOT / "configs" / "quickstart.toml"
    plain = load_recipe(path, "standard")
    longer = load_recipe(path, "standard", overrides=["train.steps=2000"])
    assert longer.train["steps"] == 2000 and longer.run_name != plain.run_name and longer.data_name == plain.data_name
    more_data = load_recipe(path, "standard", overrides=["collect.num_demos=30"])
    assert more_data.data_name != plain.data_name
    faster = load_recipe(path, "standard", overrides=["eval.num_envs=2", "collect.workers=1"])
    assert faster.run_name == plain.run_name and faster.data_name == plain.data_name
    assert faster.result_name("chunk") == plain.result_name("chunk")
    other_task = load_recipe(path, "standard", task="reach-v3")
    assert other_task.run_name == "reach-v3__standard__quickstart"
    seeded = load_recipe(path, "standard", overrides=["train.seed=2"])
    assert seeded.run_name == "drawer-close-v3__standard__quickstart__seed2"


@pytest.mark.parametrize(("override", "message"), [
    ("train.stepz=3", "unknown setting 'stepz'"),
    ("train.steps", "section.key=value"),
    ("optim.lr=1", "sections are"),
    ("train.data=x.hdf5", "unknown setting 'data'"),  # the runner names the data file
    ("collect.task=no-such-task-v3", "no-such-task-v3"),
    ("model.hidden_dim=30", "divisible"),
])
def test_bad_overrides_are_refused_with_the_reason(override, message):
    with pytest.raises(ConfigError, match=message):
        load_recipe(ROOT / "configs" / "quickstart.toml", "standard", overrides=[override])


def test_override_values_are_read_as_toml_else_as_text():
    assert parse_override("train.lr=1e-4") == ("train", "lr", 1e-4)
    assert parse_override('collect.cameras=["a", "b"]') == ("collect", "cameras", ["a", "b"])
    assert parse_override("collect.task=reach-v3") == ("collect", "task", "reach-v3")
    assert parse_override("train.compile=true") == ("train", "compile", True)


def test_per_task_tables_apply_to_their_task_only_and_a_misspelt_task_is_refused(tmp_path):
    recipe_file = tmp_path / "mixed.toml"
    recipe_file.write_text((ROOT / "configs" / "quickstart.toml").read_text()
                           + '\n[tasks."reach-v3".collect]\ncameras = ["behindGripper", "topview"]\n'
                           + '[tasks."reach-v3".train]\nsteps = 2000\n')
    reach = load_recipe(recipe_file, "standard", task="reach-v3")
    assert reach.collect["cameras"] == ["behindGripper", "topview"] and reach.train["steps"] == 2000
    assert reach.task_settings == {"collect.cameras": ["behindGripper", "topview"], "train.steps": 2000}
    assert reach.to_dict()["task_settings"] == reach.task_settings
    assert reach.run_name == "reach-v3__standard__mixed"  # the recipe's own settings: no hash
    plain = load_recipe(recipe_file, "standard")  # the recipe's own task, drawer-close
    assert plain.collect["cameras"] == ["behindGripper"] and plain.task_settings == {}
    # the command line still wins over a task's table
    assert load_recipe(recipe_file, "standard", task="reach-v3", overrides=["train.steps=500"]).train["steps"] == 500
    for extra, message in [('[tasks."reach-v2".collect]\nimage_size = 64\n', "reach-v2"),
                           ('[tasks."reach-v3".optim]\nlr = 1\n', "one table per task"),
                           ('[tasks."reach-v3".collect]\ntask = "push-v3"\n', "cannot change its task"),
                           ('[tasks."reach-v3".train]\nstepz = 3\n', "stepz")]:
        recipe_file.write_text((ROOT / "configs" / "quickstart.toml").read_text() + "\n" + extra)
        with pytest.raises(ConfigError, match=message):
            load_recipe(recipe_file, "standard", task="reach-v3")


@pytest.mark.parametrize("model", ["standard", "modified"])
def test_the_task_agnostic_recipe_on_shelf_place_is_the_shelf_place_recipe(model):
    """metaworld_cpu's [tasks."shelf-place-v3"] tables reproduce shelf_place_cpu.toml, whose test figures the
    README reports for shelf-place-v3; only the names differ."""
    agnostic = load_recipe(ROOT / "configs" / "metaworld_cpu.toml", model, task="shelf-place-v3").to_dict()
    specific = load_recipe(ROOT / "configs" / "shelf_place_cpu.toml", model).to_dict()
    for section in ("collect", "model_settings", "train", "eval", "average_last", "modes"):
        assert agnostic[section] == specific[section], section
