# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Queries, keys and values
#
# Inline $\alpha_i = e^{z_i}$ and display:
#
# $$\begin{aligned} a &= b \\ c &= d \end{aligned}$$
#
# See [chapter 2](01_softmax.py).

# %%
import attention
attention.softmax([1.0, 2.0, 3.0])

# %% [markdown]
# ## Exercises
# 1. Compute it.

# %% tags=["solution"]
import attention
print(attention.softmax([0.0, 0.0]))
