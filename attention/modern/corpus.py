"""A small text to train language models on, and the characters it is written in.

The models of Part V learn from the book itself: `book_text()` is the prose of
the Markdown cells of chapters 1 to 13, read once from the chapters' sources by
`prose_of_chapter` and saved with the package (`book_prose.txt`), so that
training needs no download and gives the same model on every build.

The prose is cut down to what a character-level model can learn from: headings
and paragraphs only, no code and no mathematics (a sentence with a formula is
left out), links reduced to their text, and every character outside printable
ASCII replaced or dropped.

Run `python -m attention.modern.corpus docs/chapters/0*.py docs/chapters/1[0-3]*.py`
to print the text again from the chapters.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from attention.validation import check_integer

TEXT_FILE = Path(__file__).with_name("book_prose.txt")

# Typographic characters the chapters use, and their ASCII spelling.
_ASCII = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
          "\u201d": '"', "\u2026": "...", "\u00a0": " ", "\u2212": "-", "\u00d7": "x"}
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _ascii(text: str) -> str:
    """Typographic characters spelled in ASCII; accents dropped; anything else removed."""
    text = "".join(_ASCII.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if 32 <= ord(c) < 127 or c == "\n")


def _markdown_cells(source: str) -> list[str]:
    """The Markdown cells of a jupytext percent file, without their `# ` prefixes."""
    cells, current = [], None
    for line in source.splitlines():
        if line.startswith("# %%"):
            current = [] if "[markdown]" in line else None
            if current is not None:
                cells.append(current)
        elif current is not None:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return ["\n".join(cell) for cell in cells]


def prose_of_chapter(source: str) -> list[str]:
    """The paragraphs of prose of one chapter's source, one string each.

    Args:
        source: the text of a jupytext percent `.py` chapter.

    Returns:
        Its Markdown paragraphs and headings, each on one line, with code, math,
        lists of exercises and Markdown syntax taken out (see the module docstring).

    Examples:
        >>> chapter = '''# %% [markdown]
        ... # ## Softmax
        ... #
        ... # A softmax turns scores into
        ... # weights. It is $e^z / Z$ here. See [Chapter 2](02_x.py).
        ... # %%
        ... x = 1
        ... '''
        >>> prose_of_chapter(chapter)
        ['Softmax', 'A softmax turns scores into weights. See Chapter 2.']
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be the text of a chapter (a str), got {type(source).__name__}")
    paragraphs = []
    for cell in _markdown_cells(source):
        cell = re.sub(r"```.*?```", " ", cell, flags=re.DOTALL)  # code blocks
        cell = re.sub(r"\$\$.*?\$\$", " $ ", cell, flags=re.DOTALL)  # display math
        for block in re.split(r"\n\s*\n", cell):
            if re.match(r"\s*(\d+\.|-|\||<|!\[)", block):  # lists, tables, HTML, images
                continue
            text = " ".join(block.split())
            text = _LINK.sub(r"\1", text).lstrip("#").strip()
            text = re.sub(r"\*\*?([^*]+)\*\*?", r"\1", text).replace("`", "")
            sentences = [s for s in _SENTENCE_END.split(text) if "$" not in s and "\\" not in s]
            text = _ascii(" ".join(sentences)).strip()
            if text:
                paragraphs.append(text)
    return paragraphs


def build_text(paths: Iterable[str | Path]) -> str:
    """The prose of the chapters at `paths`, one paragraph per line, in the order given."""
    if isinstance(paths, (str, bytes, Path)) or not isinstance(paths, Iterable):
        raise TypeError(f"paths must be an iterable of paths (a list, say), got {type(paths).__name__}")
    lines = []
    for path in paths:
        lines += prose_of_chapter(Path(path).read_text(encoding="utf-8"))
    return "\n".join(lines) + "\n"


def book_text() -> str:
    """The book's prose that ships with the package, the training text of Part V.

    Examples:
        >>> text = book_text()
        >>> len(text) > 10_000, text.isascii()
        (True, True)
    """
    return TEXT_FILE.read_text(encoding="ascii")


class CharTokenizer:
    """Characters to integer tokens and back: one token per distinct character of a text.

    Args:
        text: the text whose characters make the vocabulary, sorted by code point.

    Members:
        vocabulary: the characters, token i being `vocabulary[i]`.

    Examples:
        >>> tokenizer = CharTokenizer("hello")
        >>> tokenizer.vocabulary, len(tokenizer)
        ('ehlo', 4)
        >>> tokenizer.encode("hole").tolist()
        [1, 3, 2, 0]
        >>> tokenizer.decode([1, 0, 2, 2, 3])
        'hello'
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text must be a non-empty str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must be a non-empty str, got ''")
        self.vocabulary = "".join(sorted(set(text)))
        self._index = {c: i for i, c in enumerate(self.vocabulary)}

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, text: str) -> np.ndarray:
        """`text` as an int64 array of tokens, `(len(text),)`.

        Raises:
            TypeError: `text` is not a str.
            ValueError: a character outside the vocabulary (it is named).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        try:
            return np.array([self._index[c] for c in text], dtype=np.int64)
        except KeyError as error:
            raise ValueError(f"character {error.args[0]!r} is not in the vocabulary") from None

    def decode(self, tokens: Sequence[int] | np.ndarray) -> str:
        """The text of a sequence of tokens (a list, an array or a 1-D tensor)."""
        if hasattr(tokens, "ndim") and hasattr(tokens, "tolist"):  # an array or a tensor
            if tokens.ndim != 1:
                raise ValueError(f"tokens must be 1-D (positions,), got shape {tuple(tokens.shape)}")
            tokens = tokens.tolist()
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise TypeError(f"tokens must be a sequence of ints, got {type(tokens).__name__}")
        tokens = [check_integer(f"tokens[{i}]", t) for i, t in enumerate(tokens)]
        bad = [t for t in tokens if not 0 <= t < len(self)]
        if bad:
            raise ValueError(f"token {bad[0]} is outside the vocabulary of {len(self)}")
        return "".join(self.vocabulary[t] for t in tokens)


if __name__ == "__main__":
    sys.stdout.write(build_text(sys.argv[1:]))
