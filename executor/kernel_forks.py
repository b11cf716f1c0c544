"""Chapter kernels that start warm: forks of one process that has imported the libraries.

Starting a kernel and importing PyTorch and matplotlib costs about 3 s of CPU, more than
many chapters' own code. A fork server (this file, started by the build) imports them
once (never the `attention` package: it may change between two builds of `mkdocs serve`),
and each chapter's kernel is a fresh fork of it that holds nothing of any other chapter.
jupyter_client launches this file as the kernel's command: a stand-in that asks the
server for a kernel, lives as long as the kernel, and is stopped like a kernel would be.
The server ends when the build does (its stdin closes), and its kernels with it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import threading

# What every kernel imports before its first cell (the debugger: debugpy, 0.05 s a kernel).
PRELOAD = ["numpy", "torch", "matplotlib.pyplot", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger"]
# Imported while no kernel is asked for, so a kernel asked for early does not wait for them:
# what many chapters load on first use (a torch optimizer's first step loads torch._dynamo,
# 1.4 s; a first figure, its SVG backend and mathtext; an interactive figure, Altair). Never
# the inline backend: imported before the kernel's shell exists, it would not register the
# shell's figure formatters, and figures would show as text.
WHEN_IDLE = ["torch._dynamo", "altair", "matplotlib.backends.backend_svg", "matplotlib.mathtext"]


def stand_in(connection_file: str) -> int:
    """The kernel's command: the kernel's exit code once it ends (standard library only)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel manager interrupts before it stops us
    with socket.socket(socket.AF_UNIX) as server:
        server.connect(os.environ["BOOK_KERNEL_FORKS"])
        server.sendall(json.dumps([connection_file, dict(os.environ), os.getcwd()]).encode() + b"\n")
        return int(server.makefile().readline() or 1)  # nothing: the kernel died


def kernel(request: socket.socket) -> None:
    """In a fork of the server: become the kernel, as `ipykernel_launcher` would."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the chapter's subprocesses are waited for
    connection_file, env, cwd = json.loads(request.makefile().readline())
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    import matplotlib
    import torch

    matplotlib.rcParams["backend"] = env.get("MPLBACKEND", "agg")  # read at import, in the server
    torch.set_num_threads(int(env.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    # The stand-in is stopped (it never writes): the kernel stops too.
    threading.Thread(target=lambda: request.recv(1) or os._exit(1), daemon=True).start()
    from ipykernel.kernelapp import IPKernelApp

    # Its parent is the server, which ends with the build: the kernel ends with it too. No
    # history: the chapters' cells stay out of the builder's IPython history database.
    IPKernelApp.launch_instance(argv=["-f", connection_file, "--HistoryManager.enabled=False",
                                      f"--IPKernelApp.parent_handle={os.getppid()}"])


def serve(listener: socket.socket) -> None:
    """The fork server: import the libraries, then fork a kernel for each stand-in that asks."""
    def when_the_build_ends() -> None:  # even when it was killed: its folder goes
        os.read(0, 1)
        shutil.rmtree(os.path.dirname(listener.getsockname()), ignore_errors=True)
        os._exit(0)

    threading.Thread(target=when_the_build_ends, daemon=True).start()
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's "frozen modules" note, not for a build's log
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels that end are reaped at once
    for module in PRELOAD:
        importlib.import_module(module)
    idle = list(WHEN_IDLE)
    while True:
        while idle and not select.select([listener], [], [], 0)[0]:
            importlib.import_module(idle.pop(0))
        connection = listener.accept()[0]
        if os.fork() == 0:  # the kernel, which never returns to the loop
            code = 1
            try:
                listener.close()
                kernel(connection)
                code = 0
            finally:
                with contextlib.suppress(OSError):  # the stand-in may be gone
                    connection.sendall(f"{code}\n".encode())
                os._exit(code)
        connection.close()  # the kernel's copy alone: the stand-in sees it close when the kernel ends


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(socket.socket(fileno=int(sys.argv[2])))
    sys.exit(stand_in(sys.argv[1]))

import asyncio  # noqa: E402  (the rest runs in the build)
import atexit  # noqa: E402
import functools  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402

from jupyter_client.manager import AsyncKernelManager  # noqa: E402


@functools.cache  # one server per build process (`mkdocs serve` builds many times)
def serve_forks() -> str:
    """Start the fork server (it imports the libraries meanwhile); return its socket's path."""
    path = os.path.join(tempfile.mkdtemp(prefix="book-kernels-"), "socket")  # the server removes the folder
    with socket.socket(socket.AF_UNIX) as listener:  # bound here: a stand-in can connect at once
        listener.bind(path)
        listener.listen()
        server = subprocess.Popen([sys.executable, __file__, "serve", str(listener.fileno())],
                                  stdin=subprocess.PIPE, pass_fds=[listener.fileno()])
    atexit.register(server.wait)
    atexit.register(server.stdin.close)  # first: the server ends
    return path


@functools.cache  # one per process: `mkdocs serve` loads the hooks again for every build, not this module
def kernels_loop(workers: int) -> tuple[asyncio.AbstractEventLoop, asyncio.Semaphore, asyncio.Semaphore]:
    """The event loop the build drives its kernels from, in a thread of its own; `workers`
    slots for chapters that run, and twice as many for live kernels (one getting ready for each)."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return loop, asyncio.Semaphore(workers), asyncio.Semaphore(2 * workers)


class ForkedKernelManager(AsyncKernelManager):
    """Launches the stand-in instead of `ipykernel_launcher`, and talks to the kernel over
    Unix sockets in the server's folder (no TCP port to guard); everything else as usual."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.ip = os.path.join(os.path.dirname(serve_forks()), f"kernel-{uuid.uuid4().hex[:12]}")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [sys.executable, __file__, self.connection_file]


# Where there is no fork or Unix socket (Windows), kernels start as usual, cold.
AVAILABLE = hasattr(os, "fork") and hasattr(socket, "AF_UNIX")
KernelManager = ForkedKernelManager if AVAILABLE else AsyncKernelManager
