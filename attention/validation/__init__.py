"""Every input check of the package, one function per rule.

The public functions and modules call these at their entry points, before any
arithmetic and before any state changes; the functions they call in turn
trust their callers and check nothing again. Every rule raises the same kind
of error everywhere, naming the argument and the offending shape or value:

* TypeError: the wrong kind of thing (not an integer, not a float tensor, a
  dtype that differs from the module's, a mask that is not boolean);
* ValueError: the right kind with a wrong value or shape (a size <= 0, shapes
  that do not fit, a dim out of range, more positions than a table holds).

The rules live in four modules, by what they check: `scalars` (single values),
`shapes` (shapes as plain tuples, so the NumPy and PyTorch versions raise the
same messages), `arrays` (NumPy inputs) and `tensors` (torch tensors and
modules, importing torch only when called). Import them from here.
"""

# The rules, by module (callers import them from here):
from attention.validation.scalars import (  # noqa: F401
    check_bool, check_count, check_divides, check_generator, check_integer, check_positive,
    check_positive_real, check_probability, check_real, check_scale,
)
from attention.validation.shapes import (  # noqa: F401
    broadcast_batch_shapes, check_attention_shapes, check_causal_sizes, check_dim,
    check_fits, check_key_value_positions, check_lengths, check_mask, check_min_dims,
    check_query_key_sizes, check_same_batch, Shape,
)
from attention.validation.arrays import (  # noqa: F401
    as_float_array, as_mask_array, check_finite_array,
)
from attention.validation.tensors import (  # noqa: F401
    check_dropout_module, check_features, check_float_tensor, check_mask_tensor,
    check_model_input, check_module, check_module_dtype, check_query_key_value,
    check_same_dtype, check_token_ids,
)
