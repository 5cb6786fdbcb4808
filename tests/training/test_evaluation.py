"""Evaluation: chunked forward passes of image models give the metrics of whole batches."""

import pytest
import torch

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.training import evaluation
from nnstudy.training.batches import EvalBatches
from nnstudy.training.evaluation import eval_chunk, evaluate
from nnstudy.training.stacked import StackedModel
from nnstudy.training.trainer import _build_models

CNN = [{"conv": {"out": 4, "kernel": 3, "padding": 1}}, "relu", {"maxpool": 2},
       {"conv": {"out": 6, "kernel": 3}}, "relu", "flatten", {"linear": 10}]


@pytest.fixture(scope="module")
def digits():
    return load_data({"name": "digits", "valid_fraction": 0.1})


def stacked_of(model, bundle, seeds=(0, 1, 2)) -> StackedModel:
    specs = [RunSpec.model_validate({"data": {"name": "digits"}, "model": model,
                                     "train": {"seed": s}}) for s in seeds]
    return StackedModel(_build_models(specs, bundle.input_shape, bundle.num_classes))


def test_chunked_evaluation_of_a_cnn_gives_the_metrics_of_whole_batches(digits, monkeypatch):
    stacked = stacked_of(CNN, digits)
    batches = EvalBatches(digits, 4096, torch.device("cpu"), torch.float32)
    x = batches("train")[0][0]
    largest = stacked.largest_activation(x[:1])
    assert largest == 3 * 4 * 8 * 8  # the first conv's output, 3 models
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_BYTES", 100 * largest * 4)
    assert eval_chunk(stacked, x[:1]) == 100  # 1294 samples: 13 chunks of 99 or 100
    chunked = evaluate(stacked, batches, "cross_entropy")
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_BYTES", 1 << 40)
    assert eval_chunk(stacked, x[:1]) > len(x)
    whole = evaluate(stacked, batches, "cross_entropy")
    assert chunked.keys() == whole.keys()
    for key, value in whole.items():
        assert torch.equal(chunked[key], value), key


def test_a_chunk_holds_at_least_min_eval_chunk_samples(digits, monkeypatch):
    stacked = stacked_of(CNN, digits)
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_BYTES", 1)
    assert eval_chunk(stacked, torch.zeros(1, 1, 8, 8)) == evaluation.MIN_EVAL_CHUNK


def test_chunked_evaluation_of_an_mlp_gives_the_metrics_of_whole_batches(digits, monkeypatch):
    stacked = stacked_of({"mlp": {"hidden": [16]}}, digits)
    batches = EvalBatches(digits, 4096, torch.device("cpu"), torch.float32)
    x = batches("train")[0][0]
    assert stacked.largest_activation(x[:1]) == 64  # the flattened input: 64 > 3 x 16
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_BYTES", 70 * 64 * 4)
    assert eval_chunk(stacked, x[:1]) == 70
    chunked = evaluate(stacked, batches, "cross_entropy")
    monkeypatch.setattr(evaluation, "EVAL_CHUNK_BYTES", 1 << 40)
    whole = evaluate(stacked, batches, "cross_entropy")
    for key, value in whole.items():
        assert torch.equal(chunked[key], value), key
