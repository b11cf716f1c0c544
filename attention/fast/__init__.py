"""Part IV, making attention fast: what attention costs (chapter 15), online softmax
and tiled (FlashAttention-style) attention (chapter 16), the KV cache, grouped-query
attention and decoding with a cache (chapter 17)."""
