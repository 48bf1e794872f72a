"""The package layout's import rule: scripts → pipeline → evaluation → training → models, envs; nothing imports
scripts/, benchmarks/ or experiments/. Read from the source with `ast`, so it needs no imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"models", "envs", "training", "evaluation", "pipeline", "scripts", "benchmarks", "experiments"}
ALLOWED = {
    "models": {"models"},
    "envs": {"envs"},
    "training": {"training", "models", "envs"},
    "evaluation": {"evaluation", "training", "models", "envs"},
    "pipeline": {"pipeline", "evaluation", "training", "models", "envs"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of our packages that `path` imports (anywhere in the file, lazy imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & OURS
    return found


def test_every_package_imports_only_the_packages_below_it():
    violations = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in sorted(imported_packages(path) - allowed):
                violations.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not violations, "\n".join(violations)


def test_the_rule_catches_an_upward_import(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from evaluation.policy import ACTPolicy\n    import scripts._cli\n")
    assert imported_packages(module) == {"evaluation", "scripts"}
