"""The Notation page lists every symbol the chapters use, one meaning each.

Read from the sources in docs/, so these tests need no build of the site. The
chapters' mathematics is every `$...$` and `$$...$$` of their Markdown cells and of
the strings in their code cells (the f-strings that print prose, the figure labels).

A *symbol* is a letter, Latin or Greek, with its fixed decoration (`\\mathcal{L}`,
`\\hat y`, `\\Delta p`, `W^Q`) and its descriptive subscript (`d_k`, `T_q`,
`d_{\\text{model}}`, `W_1`); an index subscript (`x_i`, `s_{ij}`, `m_{j-1}`) does not
make a new symbol, so `x_i` is the symbol `x`. Letters inside `\\text{}`,
`\\operatorname{}` and `\\mathrm{}`, and the names of commands, are not symbols.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHAPTERS = sorted((DOCS / "chapters").glob("*.py"))
NOTATION = DOCS / "reference" / "notation.md"

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
    "Upsilon", "Phi", "Psi", "Omega", "ell",
}
# Two spellings of one Greek letter are one letter.
VARIANTS = {"varepsilon": "epsilon", "vartheta": "theta", "varpi": "pi", "varrho": "rho",
            "varsigma": "sigma", "varphi": "phi"}
# Operators written as commands that the page lists too.
OPERATORS = {"odot", "circ", "otimes"}
# Commands whose argument is a word, not mathematics.
WORD_COMMANDS = ("text", "operatorname", "mathrm", "textbf", "textit", "texttt", "mbox",
                 "textrm", "begin", "end", "label")
# Commands that decorate the letter after them: the pair is one symbol.
DECORATIONS = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde",
               "bar": "bar", "overline": "bar", "mathcal": "mathcal", "mathbb": "mathbb",
               "mathbf": "mathbf", "vec": "vec", "dot": "dot"}
# A subscript that names a kind rather than counting: T_q, d_k, n_q, B_q, W_q, w_v,
# sigma_q; W_1, b_1, beta_1, d_1. Any \text{} or \mathrm{} subscript is descriptive.
DESCRIPTIVE_LETTER_SUBSCRIPT = {"T", "d", "n", "B", "W", "w", "\\sigma", "h"}
DESCRIPTIVE_DIGIT_SUBSCRIPT = {"W", "b", "\\beta", "d"}
# W^Q, W^K, W^V, W^O: a superscript that is part of the name.
NAMED_SUPERSCRIPTS = {"W": set("QKVO")}

_WORD = re.compile(r"\\(?:%s)\*?\s*(\{(?:[^{}]|\{[^{}]*\})*\})" % "|".join(WORD_COMMANDS))
_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)


# ---------------------------------------------------------------- reading the math


def _cells(text: str) -> list[tuple[str, str]]:
    """The (kind, source) of each jupytext percent cell; kind is 'markdown' or 'code'."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
    return [(kind, "\n".join(lines)) for kind, lines in cells]


def _strings(code: str) -> list[str]:
    """Every string literal of a code cell, an f-string with 0 for each {field}."""
    code = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()
    )
    tree = ast.parse(code)
    inside_fstring: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            inside_fstring.update(id(child) for value in node.values for child in ast.walk(value))
    found = []
    for node in ast.walk(tree):
        if id(node) in inside_fstring:
            continue
        if isinstance(node, ast.JoinedStr):
            found.append("".join(
                value.value if isinstance(value, ast.Constant) else "0" for value in node.values
            ))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
    return found


def math_of_text(text: str) -> list[str]:
    """The contents of the $...$ and $$...$$ of Markdown text, code spans left out."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", " ", text)
    return [match.group(1) or match.group(2) for match in _MATH.finditer(text)]


def chapter_math(path: Path) -> list[str]:
    """Every formula of a chapter: its Markdown cells and the strings of its code."""
    formulas = []
    for kind, source in _cells(path.read_text(encoding="utf-8")):
        if kind == "markdown":
            lines = [line[2:] if line.startswith("# ") else line.lstrip("#")
                     for line in source.splitlines()]
            formulas += math_of_text("\n".join(lines))
        else:
            for string in _strings(source):
                if "$" in string:
                    formulas += math_of_text(string)
    return formulas


# ---------------------------------------------------------------- symbols of a formula


def _group(tex: str, start: int) -> tuple[str, int]:
    """The argument at `start`: a {...} group or one character; and where it ends."""
    while start < len(tex) and tex[start] == " ":
        start += 1
    if start >= len(tex):
        return "", start
    if tex[start] == "{":
        depth = 0
        for end in range(start, len(tex)):
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            if depth == 0:
                return tex[start + 1:end], end + 1
        return tex[start + 1:], len(tex)
    if tex[start] == "\\":
        match = re.match(r"\\[A-Za-z]+", tex[start:])
        if match:
            return match.group(0), start + match.end()
    return tex[start], start + 1


def _strip_words(tex: str) -> str:
    previous = None
    while previous != tex:
        previous, tex = tex, _WORD.sub(" ", tex)
    return tex


def symbols(tex: str, *, inside_indices: bool = True) -> list[str]:
    """The symbols of a formula, in order, each as a normalised key.

    With `inside_indices`, the letters of index subscripts and of superscripts count
    too (`e^{z_i - m}` gives e, z, i, m); without, only the symbols themselves (for the
    Symbol column of the Notation page, where `\\alpha_{ij}` is the one symbol alpha).
    """
    # A word subscript names a kind: keep it, spelled as a marker the scan keeps whole.
    tex = re.sub(r"_\s*\{\s*\\(?:text|mathrm|operatorname)\s*\{([^{}]*)\}\s*\}", r"_@\1@", tex)
    tex = re.sub(r"_\s*\\(?:text|mathrm)\s*\{([^{}]*)\}", r"_@\1@", tex)
    tex = _strip_words(tex)
    found: list[str] = []
    i = 0
    while i < len(tex):
        char = tex[i]
        base = None
        if char == "\\":
            match = re.match(r"\\([A-Za-z]+)", tex[i:])
            if not match:
                i += 2
                continue
            name = match.group(1)
            i += match.end()
            if name in DECORATIONS:
                argument, i = _group(tex, i)
                letters = re.findall(r"\\[A-Za-z]+|[A-Za-z]", argument)
                if letters and not letters[0].isdigit():
                    base = f"\\{DECORATIONS[name]}{{{letters[0]}}}"
                    if inside_indices:
                        found += [s for s in symbols(argument) if s != letters[0]]
                else:
                    continue
            elif name == "Delta" and re.match(r"\s*[A-Za-z](?![A-Za-z])", tex[i:]):
                letter = re.match(r"\s*([A-Za-z])", tex[i:])
                base = f"\\Delta {letter.group(1)}"
                i += letter.end()
            elif name in GREEK or name in VARIANTS:
                base = "\\" + VARIANTS.get(name, name)
            elif name in OPERATORS:
                found.append("\\" + name)
                continue
            else:
                continue
        elif char.isalpha() and char.isascii():
            before = tex[i - 1] if i else " "
            if before == "@":  # a word subscript, already taken with its symbol
                i = tex.index("@", i) + 1
                continue
            # dO, dA, dS, ...: a gradient written as d and the matrix, with no space.
            if char == "d" and i + 1 < len(tex) and tex[i + 1].isupper() and not before.isalpha():
                base = "d" + tex[i + 1]
                i += 2
            else:
                base = char
                i += 1
        elif char in "_^":  # a subscript or superscript of something that is not a symbol
            argument, i = _group(tex, i + 1)
            if inside_indices:
                found += symbols(argument)
            continue
        else:
            i += 1
            continue
        # The subscripts and superscripts that follow the letter, in either order.
        while True:
            while i < len(tex) and tex[i] in " '":
                i += 1
            if i < len(tex) and tex[i] == "_":
                if tex[i + 1:i + 2] == "@":
                    end = tex.index("@", i + 2)
                    base += "_" + tex[i + 2:end].strip()
                    i = end + 1
                    continue
                argument, i = _group(tex, i + 1)
                plain = argument.strip()
                if (base in DESCRIPTIVE_LETTER_SUBSCRIPT and re.fullmatch(r"[a-z]|[0-9]", plain)) or (
                    base in DESCRIPTIVE_DIGIT_SUBSCRIPT and re.fullmatch(r"[0-9]", plain)
                ):
                    base += "_" + plain
                elif inside_indices:
                    found += symbols(argument)
                continue
            if i < len(tex) and tex[i] == "^":
                argument, i = _group(tex, i + 1)
                if argument.strip() in NAMED_SUPERSCRIPTS.get(base, ()):
                    base += "^" + argument.strip()
                elif inside_indices:
                    found += symbols(argument)
                continue
            break
        found.append(base)
    return found


def chapter_symbols(path: Path) -> set[str]:
    return {symbol for formula in chapter_math(path) for symbol in symbols(formula)}


# ---------------------------------------------------------------- the Notation page


def notation_rows() -> list[dict]:
    """The rows of the Notation page's tables: symbols, the line, the chapters linked."""
    rows = []
    for number, line in enumerate(NOTATION.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("|") or line.startswith("| ---") or line.startswith("| Symbol"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        keys = []
        for formula in re.findall(r"\\\((.+?)\\\)", cells[0]):
            keys += symbols(formula, inside_indices=False)
        chapters = re.findall(r"\]\(\.\./chapters/([\w-]+)\.py\)", cells[-1])
        rows.append({"line": number, "text": line, "symbols": list(dict.fromkeys(keys)),
                     "chapters": chapters})
    return rows


ROWS = notation_rows()
LISTED = {symbol for row in ROWS for symbol in row["symbols"]}


def test_symbols_are_read_as_the_page_means_them():
    def read(tex, **options):
        return sorted(symbols(tex, **options))

    assert read(r"x_i W^Q_i (W^K)^\top x_j^\top") == sorted(["x", "i", "W^Q", "i", "W^K", "x", "j"])
    assert read(r"d_{\text{model}} / h_{\text{kv}}") == ["d_model", "h_kv"]
    assert read(r"\mathcal{L} = -\sum_i y_i \log \hat y_i") == sorted(
        ["\\mathcal{L}", "i", "y", "i", "\\hat{y}", "i"]
    )
    assert read(r"dS = A \odot (dA - D)") == sorted(["dS", "A", "\\odot", "dA", "D"])
    assert read(r"R_{\Delta p}\, \mathrm{PE}_p", inside_indices=False) == ["R"]
    assert read(r"\varepsilon_{\text{ls}} + \epsilon") == ["\\epsilon", "\\epsilon_ls"]
    assert read(r"T_q \times d_k, \quad 2 d_1 d_2") == ["T_q", "d_1", "d_2", "d_k"]
    assert read(r"\operatorname{softmax}(z)_i \cdot \text{logit}_i") == ["i", "i", "z"]
    assert read(r"\operatorname{softmax}(z)_i", inside_indices=False) == ["z"]


def test_the_page_has_rows():
    assert len(ROWS) > 40
    # A row without a letter names an operator or a word: softmax, head_i, PE_p.
    wordy = re.compile(r"\\(operatorname|text|mathrm)")
    assert all(row["symbols"] or wordy.search(row["text"]) for row in ROWS), [
        row["text"] for row in ROWS if not row["symbols"] and not wordy.search(row["text"])
    ]


def test_no_symbol_has_two_rows():
    seen: dict[str, int] = {}
    twice = []
    for row in ROWS:
        for symbol in row["symbols"]:
            if symbol in seen:
                twice.append(f"{symbol}: lines {seen[symbol]} and {row['line']}")
            seen.setdefault(symbol, row["line"])
    assert not twice, twice


def test_no_section_of_several_meanings():
    text = NOTATION.read_text(encoding="utf-8").lower()
    assert "several meanings" not in text
    assert "one symbol, several" not in text
    assert "mean different things" not in text


def test_every_row_links_chapters_that_exist():
    names = {path.stem for path in CHAPTERS}
    for row in ROWS:
        assert row["chapters"], f"line {row['line']} links no chapter: {row['text']}"
        missing = [chapter for chapter in row["chapters"] if chapter not in names]
        assert not missing, f"line {row['line']} links {missing}"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"line{row['line']}")
def test_every_linked_chapter_uses_the_row(row):
    """Each chapter a row names uses one of its symbols, and each symbol of the row is
    used by one of the chapters it names."""
    used = {chapter: chapter_symbols(DOCS / "chapters" / f"{chapter}.py")
            for chapter in row["chapters"]}
    for chapter, symbols_there in used.items():
        if row["symbols"]:
            assert symbols_there & set(row["symbols"]), (
                f"{chapter} uses none of {row['symbols']} (notation.md line {row['line']})"
            )
    for symbol in row["symbols"]:
        assert any(symbol in symbols_there for symbols_there in used.values()), (
            f"{symbol} is in none of {row['chapters']} (notation.md line {row['line']})"
        )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_every_symbol_of_a_chapter_is_listed(chapter):
    missing = sorted(chapter_symbols(chapter) - LISTED)
    assert not missing, f"{chapter.name} uses symbols the Notation page does not list: {missing}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_every_chapter_has_math_that_the_test_reads(chapter):
    """A guard on the reader: a chapter with formulas must yield symbols."""
    assert chapter_symbols(chapter)
