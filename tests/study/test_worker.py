"""Worker processes die with the study process, even when it dies while they start, whether
they were spawned or forked by the fork server (`executors.local.worker_context`)."""

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
    from nnstudy.study.executors.local import worker_context
    from nnstudy.study.worker import init_worker

    if __name__ == "__main__":
        ctx = get_context("spawn") if sys.argv[2] == "spawn" else worker_context()
        pool = ProcessPoolExecutor(1, mp_context=ctx,
                                   initializer=init_worker, initargs=(1,))
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
@pytest.mark.parametrize("start", ["spawn", "forkserver"])
@pytest.mark.parametrize("when", ["starting", "running"])
def test_a_worker_dies_when_the_study_process_is_killed(tmp_path, when, start):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script), when, start], stdout=subprocess.PIPE,
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
