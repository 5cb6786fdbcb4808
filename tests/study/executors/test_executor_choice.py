"""Which executor runs a study's units, and what `--executor ray` says without Ray."""

import socket
import sys

import pandas as pd
import pytest
import yaml

from nnstudy.api import Study
from nnstudy.cli import main
from nnstudy.config.study import load_study
from nnstudy.errors import ConfigError
from nnstudy.study.executors import check_executor, choose_executor
from nnstudy.study.store import open_store

STUDY = {
    "name": "tiny",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [16]}},
    "train": {"epochs": 2, "batch_size": 64},
    "grid": {"train.optimizer": ["sgd", "adam"], "train.lr": [0.01, 0.1]},
    "seeds": [0],
}


@pytest.mark.parametrize(("units", "workers", "address", "name"), [
    (1, 2, None, "inprocess"), (4, 1, None, "inprocess"), (4, 2, None, "local"),
])
def test_auto_runs_one_unit_or_one_worker_in_process_and_more_in_worker_processes(
        units, workers, address, name):
    assert choose_executor("auto", units, workers, address).name == name


def test_an_explicit_executor_is_taken_whatever_the_units():
    assert choose_executor("local", 1, 1).name == "local"
    assert choose_executor("inprocess", 8, 2).name == "inprocess"


def test_an_unknown_executor_or_an_address_without_ray_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="--executor: 'spark' is not one of auto, "
                                          "inprocess, local, ray"):
        check_executor("spark")
    with pytest.raises(ConfigError, match="--address: a Ray cluster's address needs "
                                          "--executor ray"):
        check_executor("local", "127.0.0.1:6379")


def test_without_ray_executor_ray_says_how_to_install_it_and_writes_nothing(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main(["study", "run", str(path), "--out", str(out), "--executor", "ray", "-q"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: --executor ray: Ray is not installed; install it with "
                   "pip install 'nnstudy[ray]'")
    assert not out.exists()


def test_every_executor_on_this_machine_gives_the_same_numbers_per_trial(tmp_path):
    """inprocess and local (and a resume across them) agree bit for bit."""
    study = Study(load_study(STUDY))
    runs = {name: study.run(out=tmp_path / name, workers=2, executor=name).trials
            for name in ("inprocess", "local")}
    cols = [c for c in runs["local"].columns if c.startswith(("best_", "final_"))] + [
        "trial_id", "status", "best_epoch", "epochs_run"]
    pd.testing.assert_frame_equal(runs["inprocess"][cols], runs["local"][cols],
                                  check_exact=True)
    store = open_store(tmp_path / "local")
    assert [e["executor"] for e in store.meta()["executions"]] == ["local"]
    store.close()
    for name in ("inprocess", "local"):  # the runner records the start-up, any executor
        store = open_store(tmp_path / name)
        (record,) = store.meta()["executions"]
        store.close()
        assert 0 <= record["first_train_s"] <= record["wall_s"]


def test_an_address_where_no_cluster_answers_is_one_line_and_writes_nothing(tmp_path, capsys):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'nnstudy[ray]')")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "s"
    with pytest.raises(SystemExit) as exc:
        main(["study", "run", str(path), "--out", str(out), "--address", f"127.0.0.1:{port}",
              "-q"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith(
        f"error: --address 127.0.0.1:{port}: no Ray cluster answers there (Connection refused)")
    assert not out.exists()
