"""The course's data: scikit-learn's digits (shipped with the package, nothing downloaded).

Every demo that trains on the digits holds out the same 30% for validation, chosen by one
seeded shuffle, so numbers from different decks are measured on the same held-out digits.
"""

import numpy as np
from sklearn.datasets import load_digits

VAL_FRACTION = 0.3  # share of the examples held out for validation


def split(x: np.ndarray, y: np.ndarray, seed: int, n_train: int | None = None) -> tuple[tuple, tuple]:
    """(x_train, y_train), (x_val, y_val): one seeded shuffle, the first 30% held out.

    `n_train`: keep only the first n_train training examples of the shuffle (a smaller training
    set with the same validation set).
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = round(VAL_FRACTION * len(x))
    val, train = order[:n_val], order[n_val:][:n_train]
    return (x[train], y[train]), (x[val], y[val])


def digits(seed: int, n_train: int | None = None, shape: tuple = (64,)) -> tuple[tuple, tuple]:
    """The 1,797 digits split by `split`: pixels in [0, 1] as float32, labels as int32.

    `shape` of one image: (64,) for dense layers, (8, 8, 1) for convolutions (channels last).
    """
    x, y = load_digits(return_X_y=True)  # (1797, 64) pixel values 0..16, (1797,) labels
    x, y = (x / 16).astype(np.float32).reshape(-1, *shape), y.astype(np.int32)
    return split(x, y, seed, n_train)
