"""attention: the code of the book *How attention evolved*.

Every function and module the chapters teach lives here, tested, so that what a
reader copies from a page is the code the tests cover.
"""

from attention.softmax import (
    entropy,
    naive_softmax,
    softmax,
    softmax_jacobian,
    softmax_with_temperature,
)

__all__ = [
    "entropy",
    "naive_softmax",
    "softmax",
    "softmax_jacobian",
    "softmax_with_temperature",
]
