"""The package's public names."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import attention


def test_every_public_name_is_the_object_its_module_defines():
    for name in attention.__all__:
        value = getattr(attention, name)
        module = importlib.import_module(value.__module__)
        assert value.__module__.startswith("attention."), (name, value.__module__)
        assert value.__name__ == name, (name, value.__name__)
        assert getattr(module, name) is value, name


def test_unknown_names_raise_attribute_error():
    try:
        attention.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("attention.no_such_name did not raise")


@pytest.mark.slow
def test_numpy_parts_do_not_import_torch():
    code = "import sys, attention; attention.softmax([1.0, 2.0]); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.slow
def test_torch_parts_import_on_first_use():
    code = "from attention import MultiHeadAttention; print(MultiHeadAttention.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "attention.versions.multi_head"


def test_every_public_name_has_a_docstring_with_an_example():
    """The API reference shows these docstrings; --doctest-modules runs their examples."""
    for name in attention.__all__:
        doc = getattr(attention, name).__doc__ or ""
        assert ">>>" in doc, f"attention.{name} has no example in its docstring"


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_names_used_across_modules(path: Path) -> list[str]:
    """`obj._name` and `from m import _name` in `path` for a `_name` it does not define itself.

    `self._x` and `cls._x` are the module's own; so is `obj._x` when `_x` is defined in
    the same file (taken to be an object of the module's own classes).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [f"line {node.lineno}: from {node.module} import {alias.name}"
                      for alias in node.names if private(alias.name)]
        elif isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            own = (node.attr in defined or isinstance(base, ast.Name) and base.id in ("self", "cls")
                   or isinstance(base, ast.Call) and ast.unparse(base.func) == "super")
            if not own:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return sorted(found, key=lambda line: int(line.split()[1].rstrip(":")))


ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p for p in (ROOT / "attention").rglob("*.py") if p.name != "__init__.py" or p.parent.name != "attention")
CHAPTERS = sorted((ROOT / "docs" / "chapters").glob("*.py"))


@pytest.mark.parametrize("path", MODULES + CHAPTERS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_private_name_crosses_a_module_line(path):
    """A module reaches another only through its public names, and a chapter, whose code
    readers copy, only through the package's public names."""
    assert private_names_used_across_modules(path) == []
    if path in CHAPTERS:  # nor does its prose send the reader to one
        assert re.findall(r"`(_[a-z]\w*)", path.read_text(encoding="utf-8")) == []


def test_the_private_name_check_finds_each_kind(tmp_path):
    source = tmp_path / "example.py"
    source.write_text(
        "from attention.versions.scaled_dot_product import _WIDER\n"
        "import attention.fast.tiled_attention as tiled\n"
        "class Mine:\n    def _own(self):\n        return self._own, self.layer._forward, super()._x\n"
        "def f(mine, other):\n    return mine._own, other._hidden, tiled._secret, attention.__all__\n"
    )
    assert private_names_used_across_modules(source) == [
        "line 1: from attention.versions.scaled_dot_product import _WIDER",
        "line 5: self.layer._forward", "line 7: other._hidden", "line 7: tiled._secret",
    ]


# Properties of the whole package, tested across its modules.
CROSS_CUTTING = {"test_bad_inputs", "test_checked_once", "test_failed_calls", "test_no_nan",
                 "test_package", "test_paths_agree"}


def test_tests_are_laid_out_like_the_package():
    """`attention/<part>/<module>.py` is tested in `tests/unit/<part>/test_<module>.py`, and
    every test file there tests a module of that name (or a property of the whole package)."""
    package, tests = ROOT / "attention", ROOT / "tests" / "unit"
    modules = {p.relative_to(package).with_name(p.stem.lstrip("_")) for p in package.rglob("*.py")
               if p.name != "__init__.py"}
    test_files = {p.relative_to(tests).with_name(p.stem.removeprefix("test_")) for p in tests.rglob("test_*.py")
                  if p.stem not in CROSS_CUTTING}
    assert sorted(map(str, modules - test_files)) == [], "modules without their test file"
    assert sorted(map(str, test_files - modules)) == [], "test files without their module"
