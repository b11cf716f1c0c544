"""Part V, attention in today's language models: a small GPT trained on the book's own
prose (chapter 18: `corpus`, `gpt`, `causal_self_attention`, `causal_pattern`,
`language_modeling`), relative positions (chapter 19: `position_schemes`, `rotary`,
`alibi`, `score_bias`), long contexts (chapter 20: `sliding_window`, `sparse_patterns`),
linear attention (chapter 21) and latent attention (chapter 22).
"""
