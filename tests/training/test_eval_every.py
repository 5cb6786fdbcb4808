"""`train.eval_every`: evaluating every N epochs changes what is recorded, never how a model
trains. Cross-checked against the same models evaluated after every epoch."""

import pytest
import torch

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.errors import ConfigError
from nnstudy.study import Study
from nnstudy.training.grouping import group_key
from nnstudy.training.trainer import train_group


@pytest.fixture(scope="module")
def digits():
    return load_data({"name": "digits", "valid_fraction": 0.1})


def spec(**train):
    base = {"epochs": 7, "batch_size": 32, "seed": 0}
    base.update(train)
    return RunSpec.model_validate({"data": {"name": "digits", "valid_fraction": 0.1},
                                   "model": {"mlp": {"hidden": [16]}}, "train": base})


def _one_thread(fn):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("overlap", [False, True])
def test_evaluated_epochs_hold_the_numbers_of_every_epoch_evaluation(digits, overlap):
    """Every 3 epochs and at each model's last (7, and 5 for the shorter one): the rows
    recorded are those of eval_every 1 at those epochs, bit for bit (so training went the
    same way), and each model's final metrics are the same."""
    every = [spec(lr=0.1, seed=1), spec(lr=0.3, seed=2), spec(lr=0.05, epochs=5, seed=3)]
    sparse = [RunSpec.model_validate({**s.model_dump(), "train": {
        **s.train.model_dump(exclude_none=True), "eval_every": 3}}) for s in every]
    dense = _one_thread(lambda: train_group(every, digits, overlap=overlap))
    thin = _one_thread(lambda: train_group(sparse, digits, overlap=overlap))
    for a, b, epochs in zip(dense, thin, (7, 7, 5), strict=True):
        kept = {e for e in (0, 3, 6) if e <= epochs} | {epochs}
        assert sorted({r["epoch"] for r in b.history}) == sorted(kept)
        assert b.history == [r for r in a.history if r["epoch"] in kept]
        assert (b.epochs_run, b.status) == (a.epochs_run, a.status) == (epochs, "done")
        assert b.final == a.final
        assert b.best_epoch in kept
        if a.best_epoch in kept:  # the best of fewer evaluations is the same epoch's weights
            assert b.best_epoch == a.best_epoch
            for k in a.state_dict:
                assert torch.equal(a.state_dict[k], b.state_dict[k]), k
        assert len(b.epoch_times) == epochs  # every epoch trained and timed


def test_a_model_evaluated_alone_or_in_a_group_is_evaluated_at_its_own_epochs(digits):
    """A group is evaluated at the union of its models' epochs; each model records only
    its own (every eval_every-th and its last): a group mate does not add rows."""
    short, long = spec(epochs=4, eval_every=3), spec(epochs=7, eval_every=3, seed=1)
    alone = _one_thread(lambda: train_group([long], digits, overlap=False))[0]
    grouped = _one_thread(lambda: train_group([short, long], digits, overlap=False))
    assert sorted({r["epoch"] for r in grouped[0].history}) == [0, 3, 4]
    assert sorted({r["epoch"] for r in grouped[1].history}) == [0, 3, 6, 7]
    assert [r["epoch"] for r in alone.history] == [r["epoch"] for r in grouped[1].history]


def test_patience_counts_evaluations(digits):
    """patience 1 with eval_every 2: the model stops at the first evaluation that does not
    improve, an even epoch, and keeps the best evaluated epoch's weights."""
    s = spec(lr=2.0, epochs=40, eval_every=2,
             early_stopping={"metric": "valid_accuracy", "patience": 1})
    [t] = _one_thread(lambda: train_group([s], digits, overlap=False))
    assert t.stopped_early
    assert t.epochs_run % 2 == 0 and t.epochs_run < 40
    assert t.best_epoch == t.epochs_run - 2
    assert {r["epoch"] for r in t.history} == set(range(0, t.epochs_run + 1, 2))


def test_a_blow_up_between_evaluations_stops_the_model_there(digits):
    """A batch loss that blows up in an epoch that is not evaluated stops the model in
    that epoch, as with eval_every 1 (diverged, no more epochs trained)."""
    every, sparse = spec(lr=1e4, epochs=6), spec(lr=1e4, epochs=6, eval_every=5)
    [a] = _one_thread(lambda: train_group([every], digits, overlap=False))
    [b] = _one_thread(lambda: train_group([sparse], digits, overlap=False))
    assert a.status == b.status == "diverged"
    assert a.epochs_run == b.epochs_run == 1
    assert [r["epoch"] for r in b.history if r["split"] == "train"] == [0]


def test_eval_every_is_part_of_the_group_key():
    assert group_key(spec(eval_every=2)) != group_key(spec())
    assert group_key(spec(eval_every=2, lr=0.5)) == group_key(spec(eval_every=2))


@pytest.mark.parametrize("value", [0, -1, 1.5, "often"])
def test_a_bad_eval_every_is_refused_by_name(value):
    with pytest.raises(ConfigError, match=r"train\.eval_every"):
        Study.from_dict({"name": "x", "data": {"name": "digits"},
                         "model": {"mlp": {"hidden": [8]}},
                         "train": {"epochs": 2, "eval_every": value}})


def test_the_numpy_engine_refuses_a_cadence():
    with pytest.raises(ConfigError, match=r"train\.eval_every: the numpy engine evaluates"):
        Study.from_dict({"name": "x", "data": {"name": "digits"},
                         "model": {"mlp": {"hidden": [8]}},
                         "train": {"epochs": 2, "eval_every": 2, "engine": "numpy"}})
