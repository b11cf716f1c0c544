"""A key-value cache: what a decoder keeps so as not to recompute the past.

Generating one token at a time, a causal decoder's new query attends to the
keys and values of every earlier position; those do not change (causality),
so they are computed once and kept. The cache is allocated once at its full
capacity and filled in place: appending is a copy of the new positions only,
where `torch.cat` would copy the whole past at every step.
"""

from __future__ import annotations

import torch

from attention.validation import check_float_tensor, check_positive


class KVCache:
    """Keys and values of the positions seen so far, in buffers of fixed capacity.

    Args:
        batch: the number of sequences decoded together.
        num_kv_heads: the number of key/value heads.
        capacity: the most positions the cache can hold.
        d_head: the size of one head's keys and values.
        dtype: the dtype of the buffers.
        device: where the buffers live.

    Members:
        keys, values: the buffers, `(batch, kv_heads, capacity, d_head)`; only
            the first `len(cache)` positions are filled.

    Meant for inference (under `torch.no_grad()`): the buffers are written in place.

    Examples:
        >>> cache = KVCache(batch=1, num_kv_heads=2, capacity=8, d_head=4)
        >>> keys, values = cache.append(torch.ones(1, 2, 3, 4), torch.ones(1, 2, 3, 4))  # a prompt of 3
        >>> keys, values = cache.append(torch.ones(1, 2, 1, 4), torch.ones(1, 2, 1, 4))  # one more
        >>> len(cache), keys.shape
        (4, torch.Size([1, 2, 4, 4]))
    """

    def __init__(
        self, batch: int, num_kv_heads: int, capacity: int, d_head: int, *,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> None:
        sizes = dict(batch=batch, num_kv_heads=num_kv_heads, capacity=capacity, d_head=d_head)
        shape = tuple(check_positive(name, size) for name, size in sizes.items())
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.keys = torch.zeros(shape, dtype=dtype, device=device)  # (batch, kv_heads, capacity, d_head)
        self.values = torch.zeros(shape, dtype=dtype, device=device)  # same
        self._length = 0

    @property
    def capacity(self) -> int:
        return self.keys.shape[-2]

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        batch, heads, capacity, d_head = self.keys.shape
        return (f"KVCache(batch={batch}, num_kv_heads={heads}, capacity={capacity}, "
                f"d_head={d_head}, holding {self._length})")

    def append(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the keys and values of new positions; return those of all positions so far.

        Args:
            key: the new keys, `(batch, kv_heads, new, d_head)`, of the cache's dtype.
            value: the new values, `(batch, kv_heads, new, d_head)`, of the cache's dtype.

        Returns:
            `(keys, values)`, each `(batch, kv_heads, len(self), d_head)`: views of
            the buffers, valid until the next `append` or `reset`.

        Raises:
            TypeError: a non-float key or value, or one whose dtype is not the
                cache's (nothing is cast silently).
            ValueError: a shape that does not fit the cache, or more positions
                than the capacity has left (the sizes are named).

        A call that raises leaves the cache as it was.
        """
        check_float_tensor("key", key)
        check_float_tensor("value", value)
        self.check_append(tuple(key.shape), tuple(value.shape), key.dtype, value.dtype)
        return self.store(key, value)

    def check_append(
        self, key_shape: tuple[int, ...], value_shape: tuple[int, ...],
        key_dtype: torch.dtype, value_dtype: torch.dtype | None = None,
    ) -> None:
        """Raise unless keys and values of these shapes and dtypes can be appended now."""
        batch, heads, _, d_head = self.keys.shape
        for name, shape, dtype in (("key", key_shape, key_dtype),
                                   ("value", value_shape, value_dtype or key_dtype)):
            if len(shape) != 4 or (shape[0], shape[1], shape[3]) != (batch, heads, d_head):
                raise ValueError(
                    f"{name} must have shape (batch={batch}, kv_heads={heads}, new positions, "
                    f"d_head={d_head}), got {tuple(shape)}"
                )
            if dtype != self.keys.dtype:
                raise TypeError(
                    f"{name} has dtype {dtype} but the cache holds {self.keys.dtype}; "
                    f"make the cache with dtype={dtype} (or convert {name})"
                )
        if key_shape[2] != value_shape[2]:
            raise ValueError(f"key has {key_shape[2]} positions but value has {value_shape[2]}")
        if self._length + key_shape[2] > self.capacity:
            raise ValueError(
                f"cannot append {key_shape[2]} positions to a KVCache holding {self._length} "
                f"of its capacity {self.capacity}"
            )

    def store(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`append` without its checks, for callers that ran `check_append` first."""
        start, end = self._length, self._length + key.shape[2]
        self.keys[:, :, start:end] = key  # (batch, kv_heads, new, d_head)
        self.values[:, :, start:end] = value  # (batch, kv_heads, new, d_head)
        self._length = end
        return self.keys[:, :, :end], self.values[:, :, :end]  # (batch, kv_heads, len, d_head)

    def reset(self) -> None:
        """Forget every position (the buffers are kept, to be overwritten)."""
        self._length = 0
