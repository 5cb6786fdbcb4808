"""A real two-node Ray cluster on 127.0.0.1 for the Ray executor's tests.

`ray start --head` and `ray start --address` (one CPU each, loopback addresses, free
ports, a temporary directory), each run with `--block` as a child of the test process in
its own session; at the end each is stopped through its process group, and any process the
cluster started that outlived it is found by the marker in its environment and ended by its
pid. The cluster's processes get this checkout's `src` on PYTHONPATH, so Ray's workers
import the code under test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import nnstudy

START_TIMEOUT_S = 240  # a loaded two-core machine starts a Ray node in tens of seconds
STOP_TIMEOUT_S = 10  # a node given SIGTERM drains for up to 30 s; nothing here needs it
MARKER = "NNSTUDY_TEST_RAY_CLUSTER"


@dataclass(frozen=True)
class Cluster:
    address: str  # host:port of the head's GCS, what `--address` takes
    env: dict[str, str]  # the environment a driver started by a test should run with


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _ray_cli() -> str:
    ray = Path(sys.executable).with_name("ray")
    return str(ray) if ray.exists() else "ray"


def _node_args(ports: list[int]) -> list[str]:
    node_manager, object_manager, agent_listen, agent_grpc, runtime_env, metrics = ports
    return ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0",
            "--object-store-memory", str(200 * 2**20), "--disable-usage-stats", "--block",
            "--node-manager-port", str(node_manager), "--object-manager-port",
            str(object_manager), "--dashboard-agent-listen-port", str(agent_listen),
            "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port",
            str(runtime_env), "--metrics-export-port", str(metrics)]


def _stop(procs: list[subprocess.Popen], marker: str) -> None:
    for proc in reversed(procs):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for pid in _marked_pids(marker):  # what the cluster started outside its groups
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _marked_pids(marker: str) -> list[int]:
    needle = f"{MARKER}={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _wait_for_nodes(address: str, n: int) -> None:
    import ray  # after the fixture set RAY_AUTH_MODE for this process

    deadline = time.time() + START_TIMEOUT_S
    ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    try:
        while sum(1 for node in ray.nodes() if node.get("Alive")) < n:
            if time.time() > deadline:
                raise RuntimeError(f"the Ray cluster at {address} has not {n} nodes alive "
                                   f"after {START_TIMEOUT_S} s")
            time.sleep(0.5)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")  # up only while test_ray.py runs
def ray_cluster():
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'nnstudy[ray]')")
    src = str(Path(nnstudy.__file__).resolve().parents[1])
    marker = uuid.uuid4().hex
    # Token authentication (Ray 2.52 and later) is off for a cluster only this machine's
    # loopback reaches; older Ray ignores the variable.
    env = dict(os.environ, OMP_NUM_THREADS="1", RAY_USAGE_STATS_ENABLED="0",
               RAY_AUTH_MODE="disabled",
               PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH"))
                                          if p))
    cluster_env = dict(env, **{MARKER: marker})
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # this process is a driver too
    temp = tempfile.mkdtemp(prefix="nnray-", dir="/tmp")  # short: Ray's socket paths
    gcs, dashboard, client, *node_ports = _free_ports(15)
    address = f"127.0.0.1:{gcs}"
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for i, args in enumerate((
            ["--head", "--port", str(gcs), "--include-dashboard", "true",
             "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard),
             "--ray-client-server-port", str(client), "--temp-dir", temp,
             "--min-worker-port", "0", "--max-worker-port", "0",
             *_node_args(node_ports[:6])],
            ["--address", address, "--min-worker-port", "0", "--max-worker-port", "0",
             *_node_args(node_ports[6:])],
        )):
            log = open(Path(temp) / f"ray-start-{i}.log", "w")  # noqa: SIM115
            logs.append(log)
            procs.append(subprocess.Popen([_ray_cli(), "start", *args], env=cluster_env,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
            _wait_for_nodes(address, i + 1)
        yield Cluster(address, env)
    finally:
        _stop(procs, marker)
        for log in logs:
            log.close()
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth
