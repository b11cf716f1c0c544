"""Chapter kernels that start warm: forks of one process that has imported the libraries.

Starting a kernel and importing PyTorch and matplotlib costs about 3 s of CPU, more than
many chapters' own code. The standard library's `forkserver` imports them once (never
the `attention` package: it may change between two builds of `mkdocs serve`), and each
chapter's kernel is a fresh fork of it that holds nothing of any other chapter.
jupyter_client launches this file as the kernel's command: a stand-in that asks the
build for a fork, lives as long as the kernel, and is stopped like a kernel would be.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

PRELOAD = ["numpy", "torch", "matplotlib.pyplot", "ipykernel.kernelapp"]


def stand_in(connection_file: str) -> int:
    """The kernel's command: the fork's exit code once it ends (standard library only)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel manager interrupts before it stops us
    with socket.socket(socket.AF_UNIX) as build:
        build.connect(os.environ["BOOK_KERNEL_FORKS"])
        build.sendall(json.dumps([connection_file, dict(os.environ), os.getcwd()]).encode() + b"\n")
        return int(build.makefile().readline() or 1)


if __name__ == "__main__":
    sys.exit(stand_in(sys.argv[1]))

import asyncio  # noqa: E402  (the rest runs in the build)
import atexit  # noqa: E402
import functools  # noqa: E402
import multiprocessing  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from multiprocessing.connection import wait  # noqa: E402

from jupyter_client.manager import AsyncKernelManager  # noqa: E402


def kernel(connection_file: str, env: dict, cwd: str) -> None:
    """A fork of the preloaded process becomes the kernel, as `ipykernel_launcher` would."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    import matplotlib
    import torch

    matplotlib.rcParams["backend"] = env.get("MPLBACKEND", "agg")  # read at import, in the forkserver
    torch.set_num_threads(int(env.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    from ipykernel.kernelapp import IPKernelApp

    # Its parent is the forkserver, which ends with the build: the kernel ends with it too.
    IPKernelApp.launch_instance(argv=["-f", connection_file, f"--IPKernelApp.parent_handle={os.getppid()}"])


def fork_for(stand_in: socket.socket, context) -> None:
    with stand_in:
        process = context.Process(target=kernel, args=json.loads(stand_in.makefile().readline()))
        process.start()
        wait([stand_in, process.sentinel])  # the kernel ends, or its stand-in is stopped
        process.kill()
        process.join()
        try:
            stand_in.sendall(f"{process.exitcode}\n".encode())
        except OSError:  # the stand-in was killed first
            pass


@functools.cache  # one server per build process (`mkdocs serve` builds many times)
def serve_forks() -> str:
    """Start taking requests for kernels; return the socket's path (for BOOK_KERNEL_FORKS)."""
    if os.path.dirname(__file__) not in sys.path:
        sys.path.insert(0, os.path.dirname(__file__))  # for the forkserver, which imports `kernel`
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    folder = tempfile.mkdtemp(prefix="book-kernels-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = os.path.join(folder, "socket")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()

    def accept() -> None:
        while True:
            threading.Thread(target=fork_for, args=(listener.accept()[0], context), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return path


@functools.cache  # one per process: `mkdocs serve` loads the hooks again for every build, not this module
def kernels_loop(workers: int) -> tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]:
    """The event loop the build drives its kernels from, in a thread of its own, and `workers` slots."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return loop, asyncio.Semaphore(workers)


def warm_up() -> None:
    """Have the forkserver import the libraries now (it takes seconds), not at the first chapter."""
    if not AVAILABLE:
        return
    serve_forks()
    multiprocessing.get_context("forkserver").Process(target=os.getpid).start()


class ForkedKernelManager(AsyncKernelManager):
    """Launches the stand-in instead of `ipykernel_launcher`; everything else as usual."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return [sys.executable, __file__, self.connection_file]


# Where there is no forkserver or Unix socket (Windows), kernels start as usual, cold.
AVAILABLE = hasattr(socket, "AF_UNIX") and "forkserver" in multiprocessing.get_all_start_methods()
KernelManager = ForkedKernelManager if AVAILABLE else AsyncKernelManager
