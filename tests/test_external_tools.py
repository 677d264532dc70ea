"""No test and no platform module runs an external program without ``tests.conftest.need_tool``
(tests) or ``common.tools.find_tool`` (the platform's own modules, which cannot import the tests).

A machine with only Python must pass ``make test``, skipping what needs a missing tool and saying
why; CI must run every such test and fail on a missing tool. Both come from ``need_tool``, so a
program started any other way — a literal ``"pdftotext"``, a path guarded by a hand-written
``shutil.which`` or by nothing — fails here, naming the file and line. The Python interpreter
itself (``sys.executable``, ``bench.common.PY``) is not an external tool.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ["config", "common", "accounts", "audit", "bidding", "evaluation", "realtime", "crypto",
            "documents", "frontend", "sealbid"]
# Calls that start a program: (module, function) -> the argument that names the program.
SPAWNERS = {("subprocess", name) for name in ("run", "Popen", "call", "check_call", "check_output")} | {
    ("asyncio", "create_subprocess_exec"), ("asyncio", "create_subprocess_shell"), ("os", "system"),
    ("os", "popen"), ("os", "execv"), ("os", "execvp"), ("os", "spawnv"), ("os", "spawnvp")}
PYTHON_NAMES = {"PY"}  # bench.common.PY, the interpreter (checked below)


def sources() -> list[Path]:
    files = sorted((ROOT / "tests").rglob("*.py"))
    for package in PLATFORM:
        files += sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)
    return files


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


class Checker(ast.NodeVisitor):
    """Collects the spawning calls whose program does not come from ``need_tool``."""

    def __init__(self, tree: ast.Module):
        self.bindings: dict[str, list[ast.expr]] = {}  # name -> every value assigned to it
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bindings.setdefault(target.id, []).append(node.value)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) \
                    and node.value is not None:
                self.bindings.setdefault(node.target.id, []).append(node.value)
        self.unguarded: list[tuple[int, str]] = []

    def allowed(self, node: ast.expr, depth: int = 0) -> bool:
        """Is ``node``, the program, the interpreter or a path ``need_tool`` returned?"""
        if depth > 5:
            return False
        if isinstance(node, (ast.List, ast.Tuple)):
            return bool(node.elts) and self.allowed(node.elts[0], depth + 1)
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name.endswith("need_tool") or name.endswith("find_tool"):  # tests | common.tools
                return True
            if name in ("str", "os.fspath", "Path") and node.args:  # str(path), Path(sys.executable)
                return self.allowed(node.args[0], depth + 1)
            return name.endswith("with_name") and self.allowed(node.func.value, depth + 1)
        if dotted(node) == "sys.executable" or (isinstance(node, ast.Name) and node.id in PYTHON_NAMES):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "parent":  # Path(sys.executable).parent
            return self.allowed(node.value, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # venv_bin / "daphne"
            return self.allowed(node.left, depth + 1)
        if isinstance(node, ast.Name) and node.id in self.bindings:
            return all(self.allowed(v, depth + 1) for v in self.bindings[node.id])
        return False

    def visit_Call(self, node: ast.Call) -> None:
        name = dotted(node.func)
        module, _, function = name.rpartition(".")
        if (module, function) in SPAWNERS:
            program = node.args[0] if node.args else next(
                (k.value for k in node.keywords if k.arg in ("args", "program", "cmd")), None)
            if program is None or not self.allowed(program):
                self.unguarded.append((node.lineno, ast.unparse(node)[:120]))
        self.generic_visit(node)


def unguarded_calls(text: str) -> list[tuple[int, str]]:
    checker = Checker(tree := ast.parse(text))
    checker.visit(tree)
    return checker.unguarded


def test_the_interpreter_names_are_the_interpreter():
    common = ast.parse((ROOT / "bench" / "common.py").read_text())
    values = [ast.unparse(n.value) for n in common.body if isinstance(n, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "PY" for t in n.targets)]
    assert values == ["sys.executable"]


def test_every_external_program_comes_from_need_tool():
    found = [f"{path.relative_to(ROOT)}:{line}: {code}" for path in sources()
             for line, code in unguarded_calls(path.read_text())]
    assert not found, "external programs run without tests.conftest.need_tool:\n" + "\n".join(found)


@pytest.mark.parametrize("code", [
    'subprocess.run(["pdftotext", "-", "-"], input=b"")',
    'if shutil.which("pdftotext"):\n    subprocess.run(["pdftotext", str(p), "-"])',
    'cmd = ["nginx", "-t"]\nsubprocess.Popen(cmd)',
    'os.system("openssl version")',
    'subprocess.check_output("chromium --version", shell=True)',
    'tool = shutil.which("softhsm2-util")\nsubprocess.run([tool, "--show-slots"])',
])
def test_it_finds_a_program_run_without_the_helper(code):
    assert unguarded_calls(code)


@pytest.mark.parametrize("code", [
    'subprocess.run([need_tool("pdftotext"), "-", "-"], input=b"")',
    'tool = need_tool("nginx")\nsubprocess.Popen([tool, "-t"])',
    'pg_dump = find_tool("pg_dump")\nif pg_dump:\n    subprocess.run([pg_dump, "-Fc"])',
    'subprocess.run([sys.executable, "manage.py", "check"])',
    'subprocess.run([PY, "-m", "tests.x"])',
])
def test_it_accepts_the_helper_and_the_interpreter(code):
    assert not unguarded_calls(code)
