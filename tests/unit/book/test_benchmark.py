"""The benchmark's functions at tiny sizes: behaviour only, no timing bars."""

from __future__ import annotations

import pytest
import torch

from attention.book import benchmark
from attention.book.benchmark import Figure, format_table


def test_multi_head_and_explicit_core_figures_at_tiny_sizes():
    figures = benchmark.multi_head_figures(batch=1, length=8, d_model=8, num_heads=2, repeats=1)
    figures += benchmark.explicit_core_figures(lengths=(8,), num_heads=2, d_head=4, repeats=1)
    assert [f.bar for f in figures] == [1.0, 1.2, 2.5]
    for figure in figures:
        assert figure.ours > 0 and figure.baseline > 0 and figure.unit == "s"
        assert figure.score == pytest.approx(figure.ours / figure.baseline)


@pytest.mark.slow
def test_tiled_figures_at_a_small_size_pass_their_memory_and_error_bars():
    figures = benchmark.tiled_figures(length=512, num_heads=2, d_head=16, block_size=64)
    assert [f.unit for f in figures] == ["B", "B", "", ""]
    assert all(f.passed for f in figures), format_table(figures)


def test_decoding_figure_gives_the_same_tokens():
    figure = benchmark.decoding_figure(num_tokens=4, prompt_length=2, vocab_size=20, d_model=8,
                                       num_heads=2, num_kv_heads=1, num_layers=1, repeats=1)
    assert figure.condition and figure.at_least and figure.bar == 3.0
    assert figure.score == pytest.approx(figure.baseline / figure.ours)


def test_a_figure_passes_on_the_right_side_of_its_bar():
    assert Figure("t", 1.0, 2.0, "s", 0.5, 1.0).passed
    assert not Figure("t", 3.0, 2.0, "s", 1.5, 1.0).passed
    assert Figure("speed-up", 1.0, 4.0, "s", 4.0, 3.0, at_least=True).passed
    assert not Figure("speed-up", 1.0, 4.0, "s", 4.0, 3.0, at_least=True, condition=False).passed


def test_format_table_prints_every_figure_with_its_result():
    table = format_table([
        Figure("time", 0.5, 1.0, "s", 0.5, 1.0),
        Figure("memory", 2**20, 2**24, "B", 1 / 16, 0.2),
        Figure("error", 2e-6, None, "", 2e-6, 1e-6),
    ])
    lines = table.splitlines()
    assert lines[0] == "| Figure | Ours | Baseline | Ratio | Bar | Result |" and len(lines) == 5
    assert lines[2] == "| time | 500.0 ms | 1000.0 ms | 0.50× | ≤ 1.0× | PASS |"
    assert lines[3] == "| memory | 1.0 MiB | 16.0 MiB | 0.06× | ≤ 0.2× | PASS |"
    assert lines[4] == "| error | 2.0e-06 | - | 2.0e-06 | ≤ 1e-06 | FAIL |"


def test_main_prints_the_machine_and_the_table(monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "run_benchmark", lambda quick, repeats: [Figure("time", 0.5, 1.0, "s", 0.5, 1.0)])
    threads = torch.get_num_threads()
    try:
        benchmark.main(["--quick", "--repeats", "3"])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert f"torch {torch.__version__}" in out and "medians of 3 runs (2 for decoding)" in out
    assert "| time | 500.0 ms |" in out and "1 of 1 figures pass" in out
