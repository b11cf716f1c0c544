"""The build's kernels (executor/kernel_forks.py): forks of a preloaded process that behave
like the fresh kernels they replace, share nothing, and stop when they are stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from executor import kernel_forks  # noqa: E402
from executor.chapters import KERNEL_ENV  # noqa: E402

pytestmark = pytest.mark.slow

CELLS = [
    "import os, torch, matplotlib, matplotlib.pyplot as plt\nfrom IPython.display import Markdown",
    "print('threads', torch.get_num_threads(), 'backend', matplotlib.get_backend())",
    "plt.plot([0, 1], [1, 0]); plt.show()",
    "Markdown('**bold** text')",
    "print(os.getcwd())",
    # a training step: torch's optimizers load modules the server imports while idle
    "torch.manual_seed(0); layer = torch.nn.Linear(3, 2); step = torch.optim.AdamW(layer.parameters(), lr=0.1)\n"
    "layer(torch.ones(4, 3)).square().sum().backward(); step.step(); print(layer.weight.sum().item())",
]


def run(cells: list[str], forked: bool, env: dict | None = None) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells])
    options = {"kernel_manager_class": kernel_forks.ForkedKernelManager} if forked else {}
    env = {**os.environ, "MPLBACKEND": "agg", **KERNEL_ENV, **(env or {}), "BOOK_KERNEL_FORKS": kernel_forks.serve_forks()}
    NotebookClient(notebook, kernel_name="python3", timeout=120, shutdown_kernel="immediate",
                   resources={"metadata": {"path": str(ROOT / "docs")}}, **options).execute(env=env)
    return notebook


def outputs(notebook) -> list[list[dict]]:
    return [[{k: v for k, v in out.items() if k != "execution_count"} for out in cell.outputs] for cell in notebook.cells]


def wait_until_the_server_is_idle(seconds: float = 120) -> None:
    """Until a fork holds every module the server imports while idle (a fork made before
    they were all imported would not test them)."""
    check = f"import sys\nprint(all(name in sys.modules for name in {kernel_forks.WHEN_IDLE!r}))"
    deadline = time.monotonic() + seconds
    while run([check], forked=True).cells[0].outputs[0]["text"] != "True\n":
        assert time.monotonic() < deadline, "the fork server did not finish its imports"
        time.sleep(1)


def test_a_forked_kernel_gives_what_a_fresh_kernel_gives():
    wait_until_the_server_is_idle()
    fresh, forked = run(CELLS, forked=False), run(CELLS, forked=True)
    assert outputs(forked) == outputs(fresh)
    text = "".join(out.get("text", "") for cell in forked.cells for out in cell.outputs)
    assert "threads 1 backend module://matplotlib_inline.backend_inline" in text  # from KERNEL_ENV, not the server's
    assert str(ROOT / "docs") in text  # the chapter's folder
    assert any("image/png" in out.get("data", {}) for out in forked.cells[2].outputs)  # the figure is drawn


def test_a_forked_kernel_sees_nothing_an_earlier_one_did():
    run(["import torch, os\ntorch.left_behind = 1\nos.environ['LEFT_BEHIND'] = '1'"], forked=True)
    later = run(["import torch, os\nprint(hasattr(torch, 'left_behind'), 'LEFT_BEHIND' in os.environ)"], forked=True)
    assert later.cells[0].outputs[0]["text"] == "False False\n"


def test_a_forked_kernel_keeps_no_history():
    """The chapters' cells stay out of the builder's IPython history database."""
    notebook = run(["from IPython import get_ipython\nprint(get_ipython().history_manager.enabled)"], forked=True)
    assert notebook.cells[0].outputs[0]["text"] == "False\n"


def ends_within(pid: int, seconds: float = 10) -> bool:
    """Whether the process `pid` is gone within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)  # is the process still there?
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_stopped_kernel_is_gone():
    notebook = run(["import os\nprint(os.getpid())"], forked=True)
    pid = int(notebook.cells[0].outputs[0]["text"])
    assert ends_within(pid), f"the kernel (pid {pid}) still runs after its notebook was done"


CHILDREN = """
import os, signal, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from executor import kernel_forks
print(os.path.dirname(kernel_forks.serve_forks()))
time.sleep(0.5)
def parent(stat):
    try:
        return stat.read_text().rsplit(") ", 1)[1].split()[1]
    except OSError:  # the process has ended meanwhile
        return None
print(*[stat.parent.name for stat in Path("/proc").glob("[0-9]*/stat") if parent(stat) == str(os.getpid())], flush=True)
if sys.argv[2] == "killed":
    os.kill(os.getpid(), signal.SIGTERM)  # no atexit handler runs
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="lists processes through /proc")
@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_the_fork_server_ends_with_its_build_and_leaves_nothing(ending):
    build = subprocess.run([sys.executable, "-c", CHILDREN, str(ROOT), ending], timeout=60,
                           capture_output=True, text=True)
    assert build.returncode == (-15 if ending == "killed" else 0), build.stderr
    folder, children = build.stdout.splitlines()
    server = [int(pid) for pid in children.split()]  # the build's children: the server
    assert len(server) == 1, build.stdout
    assert ends_within(server[0]), "the fork server outlived the build that started it"
    assert not Path(folder).exists(), f"the server's folder {folder} is left behind"
