"""The modules' old places, from before the package had a folder per part of the book.

`import attention.tiling` or `from attention.cost import Cost` (readers' code
written for the flat layout) still work: `attention/__init__.py` installs
`MovedModuleFinder`, which answers an old name with a module that looks every
name up, on first use, in the module(s) it moved to. So the objects are the same
ones, and nothing is imported (torch included) until a name is used.
`python -m attention.benchmark` runs `attention.book.benchmark`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

# old dotted name -> the new module(s) its names now live in, searched in order.
MOVED: dict[str, tuple[str, ...]] = {
    "attention.softmax": ("attention.foundations.softmax",),
    "attention.kernel_regression": ("attention.foundations.kernel_regression",),
    "attention.additive": ("attention.versions.additive",),
    "attention.scaled_dot_product": ("attention.versions.scaled_dot_product",),
    "attention.numpy_attention": ("attention.versions.numpy_attention",),
    "attention.masks": ("attention.versions.masks",),
    "attention.cross_attention": ("attention.versions.cross_attention",),
    "attention.self_attention": ("attention.versions.self_attention",),
    "attention.multi_head": ("attention.versions.multi_head",),
    "attention.evolution": ("attention.versions.overview",),
    "attention.positional_encoding": ("attention.transformer.positional_encoding",),
    "attention.transformer_layers": ("attention.transformer.layers",),
    # attention.transformer is now the Part III package; it still gives `Transformer`.
    "attention.seq2seq": ("attention.transformer.seq2seq",),
    "attention.tasks": ("attention.transformer.tasks",),
    "attention.training": ("attention.transformer.training",),
    "attention.cost": ("attention.fast.cost",),
    "attention.online_normalizer": ("attention.fast.online_softmax",),
    "attention.tiling": ("attention.fast.tiled_attention",),
    "attention.kv_cache": ("attention.fast.kv_cache", "attention.fast.cost"),  # kv_cache_bytes moved to cost
    "attention.grouped_query": ("attention.fast.grouped_query",),
    "attention.kv_decoding": ("attention.fast.decoding",),
    "attention.plotting": ("attention.book.plotting",),
    "attention.prose": ("attention.book.prose",),
    "attention.benchmark": ("attention.book.benchmark",),
    "attention.measure": ("attention.book.measure",),
}


class MovedModule(types.ModuleType):
    """An old module name; each attribute comes from the first new module that has it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name != "__all__":
            raise AttributeError(name)
        targets = [importlib.import_module(target) for target in MOVED[self.__name__]]
        if name == "__all__":
            return sorted({n for t in targets for n in vars(t) if not n.startswith("_")})
        for target in targets:
            if hasattr(target, name):
                return getattr(target, name)
        raise AttributeError(f"module {self.__name__!r} (now {', '.join(MOVED[self.__name__])}) "
                             f"has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return self.__getattr__("__all__")


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of `MOVED` and loads each as a `MovedModule`."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        new = importlib.util.find_spec(MOVED[fullname][0])  # imports only the (light) subpackage
        return importlib.machinery.ModuleSpec(fullname, self, origin=new.origin if new else None)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return MovedModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass

    def get_code(self, fullname: str) -> types.CodeType | None:
        """The new module's code, so that `python -m OLD_NAME` runs it."""
        new = MOVED[fullname][0]
        return importlib.util.find_spec(new).loader.get_code(new)  # type: ignore[union-attr]


def install() -> None:
    """Put one `MovedModuleFinder` first on `sys.meta_path` (once).

    First, so that it answers the old names before any other finder does (an
    editable install of an older checkout, say); it answers nothing else.
    """
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
