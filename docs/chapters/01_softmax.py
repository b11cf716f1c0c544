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
# # Softmax: from scores to probabilities
#
# Inline $\alpha_i = e^{z_i}$ and display:
#
# $$\begin{aligned} a &= b \\ c &= d \end{aligned}$$
#
# See [chapter 2](02_queries_keys_values.py).

# %%
import attention
attention.softmax([1.0, 2.0, 3.0])

# %%
import numpy as np
from attention.plotting import use_book_style
import matplotlib.pyplot as plt
use_book_style()
attention.plot_attention_weights(np.random.default_rng(0).dirichlet(np.ones(5),size=(2,4)), list('abcd'), ['the','cat','sat','on','mat'], annotate=True);

# %%
fig, ax = plt.subplots()
ax.plot([0,1,2],[0,1,4], label="x"); ax.set_xlabel("x"); ax.set_ylabel("y"); ax.legend();

# %% tags=["remove-input"]
from IPython.display import Markdown
Markdown(f"The value is ${attention.softmax([1.0, 2.0])[0]:.3f}$ and $\\sqrt{{d}}$.")
