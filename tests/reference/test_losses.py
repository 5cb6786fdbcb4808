"""The hand-derived loss gradients: (p - y)/N for softmax cross-entropy, 2 lambda W for L2."""

from __future__ import annotations

import numpy as np
import pytest

from nnstudy.errors import ConfigError
from nnstudy.reference.losses import get_loss, l2_penalty, mse, nll, softmax_cross_entropy


def _numeric(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f(x)
        x[i] = old - eps
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def test_softmax_cross_entropy_gradient_is_p_minus_onehot_over_n():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    value, grad = softmax_cross_entropy(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert value == pytest.approx(-np.log(p[np.arange(5), labels]).mean(), rel=1e-12)
    assert np.allclose(grad, (p - np.eye(4)[labels]) / 5, atol=1e-15)
    numeric = _numeric(lambda z: softmax_cross_entropy(z, labels)[0], logits.copy())
    assert np.allclose(grad, numeric, atol=1e-9)


def test_softmax_cross_entropy_is_stable_for_large_logits():
    value, grad = softmax_cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    assert value == pytest.approx(1000.0)
    assert np.allclose(grad, [[1.0, -1.0]])


def test_at_chance_level_cross_entropy_is_ln_of_the_class_count():
    value, _ = softmax_cross_entropy(np.zeros((3, 10)), np.array([1, 2, 3]))
    assert value == pytest.approx(np.log(10))  # report 002's stuck 2.3026


def test_mse_and_nll_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    pred, target = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    assert np.allclose(mse(pred, target)[1],
                       _numeric(lambda z: mse(z, target)[0], pred.copy()), atol=1e-9)
    logp, labels = rng.normal(size=(3, 4)), np.array([3, 0, 0])
    assert np.allclose(nll(logp, labels)[1],
                       _numeric(lambda z: nll(z, labels)[0], logp.copy()), atol=1e-9)


def test_l2_term_is_lambda_squared_norm_with_gradient_two_lambda_w():
    rng = np.random.default_rng(2)
    weights = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=(4,))}
    value, grads = l2_penalty(weights, 0.1)
    assert value == pytest.approx(0.1 * sum((w**2).sum() for w in weights.values()))
    for name, w in weights.items():
        assert np.allclose(grads[name], 0.2 * w)
        others = {k: v for k, v in weights.items() if k != name}
        numeric = _numeric(lambda z, n=name, o=others: l2_penalty({**o, n: z}, 0.1)[0], w.copy())
        assert np.allclose(grads[name], numeric, atol=1e-8)


def test_an_unknown_loss_names_the_choices():
    with pytest.raises(ConfigError, match="loss: 'hinge' is not one of cross_entropy, nll, mse"):
        get_loss("hinge")
