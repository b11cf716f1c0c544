"""Part III, the Transformer: positional encoding (chapter 11), the architecture
(chapter 12: `layers`, `stack`, `seq2seq`) and training one (chapter 13: `tasks`,
`training`).

Before the package had a folder per part, `attention.transformer` was the module
now at `attention.transformer.stack`; its one name, `Transformer`, is still found
here (imported on first use, so importing this package imports nothing).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name != "Transformer":
        raise AttributeError(f"module 'attention.transformer' has no attribute {name!r}")
    return importlib.import_module("attention.transformer.stack").Transformer
