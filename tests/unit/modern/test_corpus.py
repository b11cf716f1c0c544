"""Tests for the training text of Part V and its character tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from attention.modern.corpus import CharTokenizer, book_text, build_text, prose_of_chapter

CHAPTER = '''# ---
# jupyter:
#   kernelspec:
#     name: python3
# ---

# %% [markdown]
# # A title
#
# First paragraph, on two
# lines. A sentence with $x^2$ math goes. Ends here.
#
# $$
# y = x
# $$
#
# 1. an exercise
# 2. another
#
# - a list item

# %%
print("code is not prose")

# %% [markdown]
# See **the** [masks](09_masks.py) and `code` \u2014 fine.
'''


def test_prose_keeps_paragraphs_and_drops_code_math_and_lists():
    assert prose_of_chapter(CHAPTER) == [
        "A title",
        "First paragraph, on two lines. Ends here.",
        "See the masks and code - fine.",
    ]


def test_build_text_joins_the_chapters_one_paragraph_per_line(tmp_path):
    path = tmp_path / "01_x.py"
    path.write_text(CHAPTER, encoding="utf-8")
    assert build_text([path, path]) == "\n".join(prose_of_chapter(CHAPTER) * 2) + "\n"


def test_the_shipped_text_is_plain_ascii_prose():
    text = book_text()
    assert text.isascii() and 20_000 < len(text) < 200_000
    assert "$" not in text and "```" not in text and "](" not in text
    assert "attention" in text


@given(st.text(alphabet="abc xyz", min_size=1))
def test_encoding_then_decoding_gives_the_text_back(text):
    tokenizer = CharTokenizer("abcxyz ")
    tokens = tokenizer.encode(text)
    assert tokens.dtype == np.int64 and tokenizer.decode(tokens) == text


def test_the_book_tokenizer_round_trips_the_book():
    text = book_text()
    tokenizer = CharTokenizer(text)
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert list(tokenizer.vocabulary) == sorted(set(text))


def test_bad_input_is_named():
    tokenizer = CharTokenizer("ab")
    with pytest.raises(ValueError, match=r"character 'c' is not in the vocabulary"):
        tokenizer.encode("abc")
    with pytest.raises(ValueError, match=r"token 2 is outside the vocabulary of 2"):
        tokenizer.decode([0, 2])
    with pytest.raises(ValueError, match=r"text must be a non-empty str"):
        CharTokenizer("")
