"""The import contracts (``[tool.importlinter]`` in pyproject.toml, docs/architecture.md) hold, cover
every package of the platform, and fail on the two things they exist to stop: an import circle inside
a package and a crossing of the layers. ``make test`` also runs ``lint-imports`` before pytest."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
NOT_PLATFORM = {"tests", "bench", "locale", "docs", "tools"}  # tools: developers' scripts (vendoring)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script), "--no-cache", str(cwd / "pyproject.toml")], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def broken(done: subprocess.CompletedProcess) -> str:
    """The report of the broken contracts (what follows the summary)."""
    assert done.returncode != 0, done.stdout + done.stderr
    return " ".join(done.stdout.partition("Broken contracts")[2].split())


def platform_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_PLATFORM}


def contract(kind: str) -> list[dict]:
    return [c for c in CONFIG["contracts"] if c["type"] == kind]


def test_every_package_is_under_the_contracts():
    packages = platform_packages()
    assert packages == set(CONFIG["root_packages"])
    (layers,) = contract("layers")
    layered = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    forbidden_sources = {m for c in contract("forbidden") for m in c["source_modules"]}
    # sealbid (the bidders' tool) and witness (the third party's) are outside the server's layers;
    # their own contracts keep them apart
    assert packages - layered == {"sealbid", "witness"}
    assert {"sealbid", "witness"} <= set(forbidden_sources)
    (acyclic,) = contract("acyclic_siblings")
    assert set(acyclic["ancestors"]) == packages


def test_the_contracts_are_kept():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def tree(tmp_path):
    """A copy of the platform's packages and its pyproject.toml, to plant imports in."""
    for package in platform_packages():
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_circle_inside_a_package_breaks_the_build(tree):
    # Lazy imports too: a function-level import closes a circle as surely as a top-level one.
    (tree / "bidding" / "opening" / "ring_a.py").write_text("from . import ring_b\n")
    (tree / "bidding" / "opening" / "ring_b.py").write_text("def f():\n    from . import ring_a\n")
    report = broken(lint_imports(tree))
    assert "No cycles are allowed in bidding.opening" in report and "ring_" in report


@pytest.mark.parametrize("importer, imported, contract_name", [
    ("realtime/kinds.py", "audit.log", "Realtime knows no domain"),
    ("audit/console.py", "bidding.models", "Layers"),  # the log below the apps
    ("bidding/lifecycle.py", "evaluation.rules.numbers", "Layers"),  # bidding below evaluation
    ("evaluation/report.py", "frontend.views", "Layers"),  # the pages above every app
    ("crypto/keys.py", "django.conf", "Crypto is a plain package"),
    ("evaluation/rules/price.py", "django.db", "Pure rules"),
])
def test_a_crossing_breaks_the_build(tree, importer, imported, contract_name):
    path = tree / importer
    path.write_text(path.read_text() + f"\n\ndef _crossing():\n    import {imported}  # noqa\n")
    report = broken(lint_imports(tree))
    assert contract_name in report and importer[:-3].replace("/", ".") in report, report
