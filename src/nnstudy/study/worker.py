"""What a worker process does with one work unit: load the data, train, summarize.

A unit's numbers depend only on the unit: its specs (which the study file fixes, see
`Study.work_units`), and the intra-op thread count fixed by the study (a different thread
count can change float rounding, and training amplifies it into different accuracies). So
a unit gives the same results whichever worker runs it and whatever runs beside it, and a
resumed study reproduces an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

_BUNDLES: dict[str, Any] = {}
# A local worker's channel to the study process for epoch events (`init_worker`), or None.
_EPOCHS: Any = None


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def driver_state() -> dict[str, Any]:
    """What a worker takes over from the study process when it starts: its working
    directory, import path and environment. A spawned worker inherits them; one forked by
    the fork server (`executors.local`) would otherwise keep those of the moment the
    server started, and resolve a relative data root, or import a unit's module, wrongly."""
    return {"cwd": os.getcwd(), "path": list(sys.path), "env": dict(os.environ)}


def init_worker(threads: int, state: dict[str, Any] | None = None,
                epochs: Any = None) -> None:
    """Worker start-up: die with the study process (`watch_parent`), take over its
    `driver_state`, ignore Ctrl-C (the study process handles it), fix threads, flush
    denormals. `epochs`: a multiprocessing queue that `run_group` puts (unit, epoch,
    epochs) on as each epoch ends, for the study's progress display."""
    global _EPOCHS
    watch_parent()
    if epochs is not None:
        # A put never blocks training (a feeder thread writes), and the worker never waits
        # at exit for events nobody reads any more.
        epochs.cancel_join_thread()
        _EPOCHS = epochs
    if state is not None:
        os.chdir(state["cwd"])
        sys.path[:] = state["path"]
        os.environ.clear()
        os.environ.update(state["env"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def watch_parent() -> None:
    """Make this worker end as soon as the study process that started it is gone.

    A daemon thread waits on `multiprocessing.parent_process()`'s sentinel, a pipe the
    study process holds open for as long as it lives, whether it spawned the worker or had
    the fork server fork it; a study process that died while the worker was still
    starting is seen at once. On Linux the kernel also kills the worker when its own
    parent process dies (PR_SET_PDEATHSIG): the study process, or the fork server.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child: nothing to watch
        return

    def wait() -> None:
        parent.join()  # returns when the study process's end of the pipe closes
        os._exit(1)

    threading.Thread(target=wait, name="nnstudy-parent-watch", daemon=True).start()


def load_bundle(data_json: str):
    """The data set of a data spec (as JSON), loaded once per process and kept while the
    units it runs share it."""
    from nnstudy.config.data import DataSpec
    from nnstudy.data import load_data

    if data_json not in _BUNDLES:
        _BUNDLES.clear()
        _BUNDLES[data_json] = load_data(DataSpec.model_validate_json(data_json))
    return _BUNDLES[data_json]


def run_group(payload: dict[str, Any], bundle: Any = None,
              progress: Callable[[int, int, dict[str, float]], None] | None = None
              ) -> dict[str, Any]:
    """Train one group. `payload`: group, threads, trials [(id, config_json)]; `bundle`:
    its data set when the executor brings it (else loaded here, see `load_bundle`);
    `progress`: called after each epoch (see `nnstudy.training.trainer.train_group`).

    Returns {"group", "results": [{id, status, history, steps, summary, state}],
    "train_start": time.time() as training began (its data loaded)}, or {"group", "error"}
    when the group raised: its trials are then marked failed.
    """
    from nnstudy.config.run import RunSpec
    from nnstudy.models import build_model
    from nnstudy.training.features import prepare_features
    from nnstudy.training.summary import build_summary, data_summary, training_flops
    from nnstudy.training.trainer import train_group

    torch.set_num_threads(payload["threads"])
    torch.set_flush_denormal(True)
    if progress is None and _EPOCHS is not None:
        progress = _epoch_reporter(payload["group"])
    try:
        specs = [RunSpec.model_validate_json(c) for _, c in payload["trials"]]
        if bundle is None:
            bundle = load_bundle(specs[0].data.model_dump_json())
        features = prepare_features(specs, bundle)  # a backbone's, computed once, cached
        specs, bundle = features.specs, features.bundle
        train_start, start = time.time(), time.perf_counter()
        if specs[0].train.engine == "numpy":  # one engine per group (`group_key`)
            from nnstudy.training.numpy_engine import train_with_numpy

            trained = [train_with_numpy(s, bundle) for s in specs]
        else:
            trained = train_group(specs, bundle, progress=progress)
        wall = time.perf_counter() - start
        model = build_model(specs[0].model, bundle.input_shape, bundle.num_classes)
        flops = training_flops(model, bundle.input_shape)
        results = []
        total_epochs = max(1, sum(t.epochs_run for t in trained))
        for (trial_id, _), t in zip(payload["trials"], trained, strict=True):
            # The models of a group share its wall time; each is charged its epochs' share.
            share = wall * t.epochs_run / total_epochs
            summary = build_summary(t, bundle.input_shape, share, flops, len(bundle.train))
            summary["data"] = data_summary(bundle)
            features.annotate(summary)
            summary["group_size"] = len(specs)
            summary["group_wall_time_s"] = round(wall, 3)
            buf = io.BytesIO()
            torch.save(t.state_dict, buf)
            results.append({"id": trial_id, "status": t.status, "history": t.history,
                            "steps": t.steps, "summary": summary, "state": buf.getvalue()})
        return {"group": payload["group"], "results": results, "train_start": train_start}
    except Exception as exc:  # a failed group is a result: its trials are marked failed
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"group": payload["group"], "error": last}


def _epoch_reporter(unit: str) -> Callable[[int, int, dict[str, float]], None]:
    """`run_group`'s progress callback in a local worker: (unit, epoch, epochs) to the
    study process, dropped rather than waited for if the channel is gone."""
    def report(epoch: int, epochs: int, _metrics: dict[str, float]) -> None:
        with contextlib.suppress(Exception):
            _EPOCHS.put_nowait((unit, epoch, epochs))

    return report
