"""The modules' old, flat names (attention._moved) against the modules they moved to."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import attention
from attention._moved import MOVED

PACKAGE = Path(attention.__file__).parent


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("old", sorted(MOVED))
def test_each_old_name_gives_the_objects_of_its_new_module(old):
    module = importlib.import_module(old)
    assert not (PACKAGE / f"{old.removeprefix('attention.')}.py").exists()  # no stub file
    seen: set[str] = set()
    for new in MOVED[old]:
        target = importlib.import_module(new)
        names = [n for n in vars(target) if not n.startswith("_") and n not in seen]
        assert names, new
        for name in names:
            assert getattr(module, name) is getattr(target, name), f"{old}.{name}"
        seen.update(names)
    assert set(module.__all__) == seen
    assert getattr(attention, old.removeprefix("attention.")) is not None


def test_from_old_import_and_import_as():
    from attention.kv_cache import (  # two new modules behind one old name
        KVCache,
        kv_cache_bytes,
    )
    from attention.multi_head import MultiHeadAttention

    assert MultiHeadAttention is attention.MultiHeadAttention
    assert KVCache is attention.KVCache
    assert kv_cache_bytes is importlib.import_module("attention.fast.cost").kv_cache_bytes
    import attention.tiling as tiling  # noqa: PLC0415

    assert tiling.tiled_attention is attention.tiled_attention
    with pytest.raises(AttributeError, match="no_such_name"):
        tiling.no_such_name  # noqa: B018


def test_the_old_transformer_module_is_the_part_iii_package():
    from attention.transformer import Transformer

    assert Transformer is attention.Transformer


def test_functions_stay_functions_after_importing_every_old_and_new_module():
    for old in MOVED:
        importlib.import_module(old)
        for new in MOVED[old]:
            importlib.import_module(new)
    for name in ("softmax", "online_softmax", "tiled_attention", *attention.__all__):
        assert not isinstance(getattr(attention, name), types.ModuleType), name
    assert attention.softmax([0.0, 0.0]).tolist() == [0.5, 0.5]


@pytest.mark.slow
def test_old_names_do_not_import_torch_until_used():
    code = ("import sys, attention.tiling, attention.cost, attention.plotting, attention.multi_head;"
            "print('torch' in sys.modules); attention.tiling.tiled_attention; print('torch' in sys.modules)")
    assert run(code).split() == ["False", "True"]


@pytest.mark.slow
def test_python_m_the_old_benchmark_runs_the_new_one():
    out = subprocess.run([sys.executable, "-m", "attention.benchmark", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--quick" in out
