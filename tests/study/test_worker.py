"""Worker processes die with the study process, even when it dies while they start."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PARENT = textwrap.dedent("""
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    from nnstudy.study.worker import init_worker

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"),
                                   initializer=init_worker, initargs=(1, os.getpid()))
        if sys.argv[1] == "starting":
            pool.submit(time.sleep, 120)
            print(*pool._processes, flush=True)   # the worker's pid, still importing
        else:
            worker = pool.submit(os.getpid).result()  # started and initialized
            pool.submit(time.sleep, 120)
            print(worker, flush=True)
        time.sleep(120)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("when", ["starting", "running"])
def test_a_worker_dies_when_the_study_process_is_killed(tmp_path, when):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script), when], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    worker = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)  # "starting": while the worker still imports torch
    proc.wait()
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = _alive(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive, f"worker {worker} outlived its parent ({when})"
