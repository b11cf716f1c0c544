"""Part I, foundations: softmax (chapter 1) and queries, keys and values as kernel regression (chapter 2)."""
