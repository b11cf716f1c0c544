"""The package's public names."""

from __future__ import annotations

import importlib
import subprocess
import sys

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
