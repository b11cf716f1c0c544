"""The rules of `attention.validation.tensors`, for torch tensors and modules: what each accepts and
returns, and what it refuses."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from attention.validation import tensors
from unit.validation.rules import DROPOUT, F64, HALF, LONG, MASK, NO_TOKENS, TOKENS, WEIGHT, X, X64, args, bools, t, table_tests

GOOD = [
    ("check_float_tensor/float32", args("x", X), X),
    ("check_float_tensor/bfloat16", args("x", HALF), HALF),
    ("check_same_dtype/same", args(query=X, key=X, value=X), None),
    ("check_module_dtype/same", args("x", X, WEIGHT), None),
    ("check_query_key_value/broadcast", args(t(2, 5, 8), t(7, 8), t(7, 3)), (2, 5, 7)),
    ("check_mask_tensor/broadcast", args(MASK, (2, 2, 3)), MASK),
    ("check_model_input/fits", args("x", X, "d_model", 4, WEIGHT), X),
    ("check_model_input/no-weights", args("x", X64, "d_model", 4), X64),
    ("check_module/module", args("model", DROPOUT, "anything"), DROPOUT),
    ("check_features/3d", args("x", X, "d_model", 4, WEIGHT), X),
    ("check_token_ids/in-range", args("tokens", TOKENS, 20), TOKENS),
    ("check_token_ids/no-positions", args("tokens", NO_TOKENS, 20), NO_TOKENS),
    ("check_token_ids/one-position-needed", args("prompt", TOKENS, 20, min_positions=1), TOKENS),
    ("check_dropout_module/none", args(None), None),
    ("check_dropout_module/dropout", args(DROPOUT), None),
]

BAD = [
    ("check_float_tensor/long", args("scores", t(2, 3, dtype=LONG)), TypeError, r"scores must be floating point, got dtype torch\.int64"),
    ("check_float_tensor/complex", args("x", t(2, dtype=torch.complex64)), TypeError, r"x must be floating point, got dtype torch\.complex64"),
    ("check_float_tensor/numpy", args("query", np.zeros(2)), TypeError, r"query must be a torch\.Tensor, got ndarray"),
    ("check_same_dtype/differ", args(query=X, key=X64, value=X), TypeError, r"query, key, value must share a dtype, got query torch\.float32, key torch\.float64, value torch\.float32"),
    ("check_module_dtype/float64", args("x", X64, WEIGHT), TypeError, r"x has dtype torch\.float64 but the module's weights are torch\.float32.*module\.to\(torch\.float64\)"),
    ("check_query_key_value/numpy", args(np.zeros((2, 3)), t(4, 3), t(4, 1)), TypeError, r"query must be a torch\.Tensor, got ndarray"),
    ("check_query_key_value/long-value", args(t(2, 3), t(4, 3), t(4, 1, dtype=LONG)), TypeError, r"value must be floating point, got dtype torch\.int64"),
    ("check_query_key_value/dtypes", args(t(2, 3), t(4, 3, dtype=F64), t(4, 1)), TypeError, r"key torch\.float64"),
    ("check_query_key_value/batch", args(t(2, 2, 3), t(3, 4, 3), t(4, 1)), ValueError, r"query \(2,\), key \(3,\), value \(\)"),
    ("check_mask_tensor/list", args([[True]], (1, 1)), TypeError, r"mask must be a bool torch\.Tensor, got list"),
    ("check_mask_tensor/float", args(torch.ones(2, 3), (2, 3)), TypeError, r"mask must be boolean .*got dtype torch\.float32"),
    ("check_mask_tensor/uint8", args(torch.ones(2, 3, dtype=torch.uint8), (2, 3)), TypeError, r"mask must be boolean .*got dtype torch\.uint8"),
    ("check_mask_tensor/shape", args(bools(2, 5), (2, 4)), ValueError, r"mask of shape \(2, 5\) does not broadcast to the scores of shape \(2, 4\)"),
    ("check_mask_tensor/extra-dims", args(bools(2, 1, 3), torch.Size([1, 3])), ValueError, r"mask of shape \(2, 1, 3\) .*scores of shape \(1, 3\)"),
    ("check_model_input/2d", args("x", t(5, 4), "d_model", 4, WEIGHT), ValueError, r"x must have shape \(batch, positions, d_model=4\), got \(5, 4\)"),
    ("check_model_input/size", args("source", t(2, 5, 6), "d_model", 4, WEIGHT), ValueError, r"source must have shape \(batch, positions, d_model=4\), got \(2, 5, 6\)"),
    ("check_model_input/dtype", args("x", X64, "d_model", 4, WEIGHT), TypeError, r"x has dtype torch\.float64 but the module's weights are torch\.float32"),
    ("check_features/1d", args("x", t(4), "d_model", 4, WEIGHT), ValueError, r"x must have shape \(\.\.\., positions, d_model=4\), got \(4,\)"),
    ("check_features/size", args("x", t(3, 2, 5), "embed_dim", 4, WEIGHT), ValueError, r"x must have shape \(\.\.\., positions, embed_dim=4\), got \(3, 2, 5\)"),
    ("check_features/dtype", args("x", X64, "d_model", 4, WEIGHT), TypeError, r"x has dtype torch\.float64 but the module's weights are torch\.float32"),
    ("check_token_ids/too-large", args("tokens", torch.tensor([[0, 20]]), 20), ValueError, r"tokens ids must lie in \[0, 20\), got ids from 0 to 20"),
    ("check_token_ids/negative", args("source", torch.tensor([[-1, 3]]), 20), ValueError, r"source ids must lie in \[0, 20\), got ids from -1 to 3"),
    ("check_token_ids/int32", args("tokens", t(1, 2, dtype=torch.int32), 20), TypeError, r"tokens must be an int64 torch\.Tensor of token ids, got torch\.int32"),
    ("check_token_ids/1d", args("tokens", torch.tensor([1, 2]), 20), ValueError, r"tokens must have shape \(batch, positions\), got \(2,\)"),
    ("check_token_ids/no-positions", args("prompt", NO_TOKENS, 20, min_positions=1), ValueError, r"prompt must have shape \(batch, positions >= 1\), got \(\d+, 0\)"),
    ("check_module/class", args("model", nn.Linear, "tokens -> logits"), TypeError, r"model must be an nn\.Module \(tokens -> logits\), got type"),
    ("check_module/function", args("attention", lambda layer: None, "one layer's attention"), TypeError, r"attention must be an nn\.Module \(one layer's attention\), got function"),
    ("check_dropout_module/class", args(nn.Dropout), TypeError, r"dropout must be a module .*got type"),
    ("check_dropout_module/float", args(0.1), TypeError, r"dropout must be a module .*nn\.Dropout\(0\.1\).*got float 0\.1"),
]


(test_accepts_a_good_value_and_returns_it_converted, test_refuses_a_bad_value_naming_the_argument,
 test_every_rule_has_good_and_bad_cases) = table_tests(tensors, GOOD, BAD)
