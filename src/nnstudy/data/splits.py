"""Stratified splits: hold out the same share of every class, reproducibly from a seed."""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out), each sorted, with round(fraction * N) held out in all.

    Class c with n_c samples gives up floor(fraction * n_c) samples, and the remainders go,
    largest first (ties to the smaller class label), to classes until the total is
    round(fraction * N). Which samples of a class are held out is a permutation drawn by
    `numpy.random.default_rng(seed)`, so the same labels and seed give the same split.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if n == 0 or fraction <= 0.0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    classes, inverse = np.unique(labels, return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(classes))
    exact = fraction * sizes
    take = np.floor(exact).astype(np.int64)
    short = round(fraction * n) - int(take.sum())
    if short > 0:
        order = np.lexsort((np.arange(len(classes)), -(exact - take)))
        take[order[:short]] += 1
    rng = np.random.default_rng(seed)
    held = []
    for c in range(len(classes)):
        members = np.flatnonzero(inverse == c)
        held.append(members[rng.permutation(len(members))[: take[c]]])
    held_out = np.sort(np.concatenate(held)).astype(np.int64)
    mask = np.ones(n, dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask).astype(np.int64), held_out


def per_class_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of at most `limit` samples of each class (all of a smaller class).

    The samples of class c are shuffled by a permutation drawn from
    `numpy.random.default_rng([seed, 1])`, one class after another in label order, and the
    first `limit` are kept. The permutations do not depend on `limit`, so for the same labels
    and seed a smaller subset is contained in every larger one; the stream [seed, 1] is
    independent of the one `stratified_split` draws from `seed`.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 1])
    kept = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        kept.append(members[rng.permutation(len(members))[:limit]])
    if not kept:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(kept)).astype(np.int64)
