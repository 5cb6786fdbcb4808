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


# How often a worker checks that its parent is still there (where no death signal exists).
PARENT_POLL_S = 1.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def init_worker(threads: int, parent: int | None = None) -> None:
    """Worker start-up: die with the parent, fix threads, flush denormals.

    `parent` is the pid of the study process. On Linux the kernel kills the worker when
    its parent dies (PR_SET_PDEATHSIG); a parent that died while the worker was still
    starting (importing torch takes seconds) is caught by comparing the worker's parent
    with `parent` once the signal is set; elsewhere a daemon thread polls for it.
    """
    if parent is not None:
        watch_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def watch_parent(parent: int) -> None:
    """Make this process end as soon as `parent` is no longer its parent (it died)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
            if os.getppid() != parent:  # it died before the signal was armed
                os._exit(1)
            return
    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=poll, name="nnstudy-parent-watch", daemon=True).start()


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

    Returns {"group", "results": [{id, status, history, steps, summary, state}]}, or
    {"group", "error"} when the group raised: its trials are then marked failed.
    """
    from nnstudy.config.run import RunSpec
    from nnstudy.models import build_model
    from nnstudy.training.features import prepare_features
    from nnstudy.training.run import build_summary, data_summary, training_flops
    from nnstudy.training.trainer import train_group

    torch.set_num_threads(payload["threads"])
    torch.set_flush_denormal(True)
    try:
        specs = [RunSpec.model_validate_json(c) for _, c in payload["trials"]]
        if bundle is None:
            bundle = load_bundle(specs[0].data.model_dump_json())
        features = prepare_features(specs, bundle)  # a backbone's, computed once, cached
        specs, bundle = features.specs, features.bundle
        start = time.perf_counter()
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
        return {"group": payload["group"], "results": results}
    except Exception as exc:  # a failed group is a result: its trials are marked failed
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return {"group": payload["group"], "error": last}
