"""Part V's rows of the bad-input table (tests/unit/test_bad_inputs.py runs them).

Each case is `(id, call, error type, pattern its message must match)`; the id starts with
the public name it calls (or an alias listed in ALIASES).
"""

from __future__ import annotations

# The modules of Part V, whose public names each need a case (or a place in NOT_IN_THE_TABLE).
MODULES: list[str] = []

# Case-id prefixes that stand for a public name.
ALIASES: dict[str, str] = {}

# Public names of these modules that take no input a reader could get wrong, or that are
# the inner steps of a checked function.
NOT_IN_THE_TABLE: set[str] = set()

CASES: list[tuple] = []
