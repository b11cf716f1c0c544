"""Part II, the versions of attention: the overview (evolution at a glance) and chapters 3 to 10.

Version 0 additive (`additive`), versions 1 to 3 dot-product, scaled, many
queries (`scaled_dot_product`, and in NumPy `numpy_attention`), masks
(`masks`), version 4 cross-attention, version 5 self-attention, version 6
multi-head attention; `overview` holds the table of all seven.
"""
