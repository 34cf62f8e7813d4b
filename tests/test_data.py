"""handson.data: the one seeded 70/30 digits split that every training demo shares."""

import numpy as np

from handson.data import digits, split


def test_digits_split_sizes_types_and_shapes():
    (x, y), (x_val, y_val) = digits(0)
    assert x.shape == (1258, 64) and x_val.shape == (539, 64)  # 1,797 digits, 30% held out
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert 0 <= x.min() and x.max() <= 1 and set(np.unique(y)) == set(range(10))
    (images, _), _ = digits(0, shape=(8, 8, 1))
    np.testing.assert_array_equal(images.reshape(len(images), 64), x)


def test_split_is_seeded_disjoint_and_nested():
    x, y = np.arange(100), np.arange(100) % 7
    (train, y_train), (val, y_val) = split(x, y, seed=3)
    assert len(val) == 30 and len(train) == 70 and not set(train) & set(val)
    np.testing.assert_array_equal(y_train, train % 7)  # examples keep their labels
    again = split(x, y, seed=3)
    np.testing.assert_array_equal(again[0][0], train)
    assert not np.array_equal(split(x, y, seed=4)[0][0], train)
    (few, _), (same_val, _) = split(x, y, seed=3, n_train=10)
    np.testing.assert_array_equal(few, train[:10])  # fewer training examples, same validation set
    np.testing.assert_array_equal(same_val, val)
