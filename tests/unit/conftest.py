"""Shared by the unit tests: `pytest tests/unit` leaves out the tests marked `slow`.

`python -m pytest` (everything) and `pytest tests` run them; so does
`pytest tests/unit -m "slow or not slow"`, or any `-m` expression that asks for them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.markexpr or config.args_source != pytest.Config.ArgsSource.ARGS:
        return
    paths = [Path(config.invocation_params.dir, arg.split("::")[0]).resolve() for arg in config.args]
    if not all(path.is_relative_to(UNIT) for path in paths):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
