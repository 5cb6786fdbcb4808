"""Stratified splits: exact sizes, per-class shares, disjoint, reproducible from the seed."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nnstudy.data.splits import stratified_split


def test_split_holds_out_the_rounded_share_of_every_class():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    keep, held = stratified_split(labels, 0.1, seed=0)
    assert len(held) == 10
    assert np.bincount(labels[held]).tolist() == [5, 3, 2]
    assert np.all(np.diff(keep) > 0) and np.all(np.diff(held) > 0)


def test_remainders_go_to_the_classes_with_the_largest_fractional_parts():
    labels = np.repeat(np.arange(3), [7, 7, 6])  # 0.25 * [7, 7, 6] = [1.75, 1.75, 1.5]
    _, held = stratified_split(labels, 0.25, seed=3)
    assert np.bincount(labels[held], minlength=3).tolist() == [2, 2, 1]


def test_same_seed_same_split_other_seed_other_split():
    labels = np.arange(1000) % 10
    a = stratified_split(labels, 0.2, seed=7)[1]
    b = stratified_split(labels, 0.2, seed=7)[1]
    c = stratified_split(labels, 0.2, seed=8)[1]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_zero_fraction_holds_out_nothing():
    keep, held = stratified_split(np.array([0, 1, 1]), 0.0, seed=0)
    assert keep.tolist() == [0, 1, 2] and held.tolist() == []


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    fraction=st.floats(0.0, 0.95),
    seed=st.integers(0, 2**31),
)
def test_split_partitions_the_indices_and_keeps_class_shares(sizes, fraction, seed):
    labels = np.repeat(np.arange(len(sizes)), sizes)
    keep, held = stratified_split(labels, fraction, seed)
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(len(labels)))
    assert len(held) == (round(fraction * len(labels)) if len(labels) and fraction > 0 else 0)
    per_class = np.bincount(labels[held], minlength=len(sizes))
    for n, taken in zip(sizes, per_class, strict=True):
        assert np.floor(fraction * n) <= taken <= np.floor(fraction * n) + 1
