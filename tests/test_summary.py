"""Keras parity of handson.summary (numbers from CONTENT.md §3: S1-S11)."""

import functools
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from handson.summary import WIDTHS, summary

MLP_TEXT = """\
____________________________________________________
Layer (type)             Output Shape        Param #
====================================================
linear_1 (Linear)        (None, 4)                16
____________________________________________________
linear_2 (Linear)        (None, 4)                20
____________________________________________________
linear_3 (Linear)        (None, 1)                 5
====================================================
Total params: 41
Trainable params: 41
Non-trainable params: 0
"""

pool = functools.partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2))  # Keras MaxPool2D((2, 2))


def flatten(x):
    return x.reshape(x.shape[0], -1)


@pytest.fixture
def rngs():
    return nnx.Rngs(0)


def abstract(*layers):
    """Layers with shapes but no values (nnx.eval_shape): no weights computed, fast tests."""
    return nnx.eval_shape(lambda: nnx.Sequential(*[layer(nnx.Rngs(0)) for layer in layers]))


def conv(*args, **kwargs):
    return lambda rngs: nnx.Conv(*args, **kwargs, rngs=rngs)


def same(function):
    return lambda rngs: function


def mlp(rngs):
    return nnx.Sequential(nnx.Linear(3, 4, rngs=rngs), nnx.Linear(4, 4, rngs=rngs),
                          nnx.Linear(4, 1, rngs=rngs))


def abstract_mlp():
    return nnx.eval_shape(lambda: mlp(nnx.Rngs(0)))


def test_abstract_and_concrete_models_agree(rngs):
    assert summary(abstract_mlp(), (3,)) == summary(mlp(rngs), (3,))


def test_s1_mlp_golden_text(rngs):
    s = summary(mlp(rngs), (3,))
    assert s.text == MLP_TEXT
    assert [r.params for r in s.rows] == [16, 20, 5]
    assert [r.shape for r in s.rows] == [(None, 4), (None, 4), (None, 1)]
    assert [(r.name, r.type) for r in s.rows] == [("linear_1", "Linear"), ("linear_2", "Linear"),
                                                  ("linear_3", "Linear")]
    assert (s.total, s.trainable, s.non_trainable) == (41, 41, 0)
    assert str(s) == s.text


def test_sequential_and_list_agree(rngs):
    model = mlp(rngs)
    assert summary(model, (3,)) == summary(list(model.layers), (3,))


def test_reveal_lines_and_partials(rngs, tmp_path: Path):
    s = summary(mlp(rngs), (3,))
    assert s.text.endswith("\n")
    assert all(len(line.rstrip("\n")) <= sum(WIDTHS) for line in s.lines)
    assert s.row_lines == [4, 6, 8]
    for row, number in zip(s.rows, s.row_lines):
        assert s.lines[number - 1].startswith(f"{row.name} ({row.type})")
    assert s.partial(1) == "".join(s.lines[:5])  # header, row 1 and the rule under it
    assert s.partial(1).splitlines()[-2].startswith("linear_1")
    assert "linear_2" in s.partial(2) and "linear_3" not in s.partial(2)
    assert s.partial(3) == s.text
    paths = s.write(tmp_path / "summary.txt", reveal=True)
    assert [p.name for p in paths] == ["summary.txt", "summary_1.txt", "summary_2.txt", "summary_3.txt"]
    assert (tmp_path / "summary.txt").read_text() == s.text
    assert (tmp_path / "summary_2.txt").read_text() == s.partial(2)


@pytest.mark.parametrize("size, strides, padding, shape", [
    (7, 1, "VALID", (None, 5, 5, 1)),  # S2
    (5, 2, "SAME", (None, 3, 3, 1)),  # S3
    (5, 1, "SAME", (None, 5, 5, 1)),  # S4
])
def test_s2_s4_single_conv(size, strides, padding, shape):
    s = summary(abstract(conv(1, 1, (3, 3), strides=strides, padding=padding)), (size, size, 1))
    assert s.rows[0].shape == shape
    assert (s.rows[0].params, s.total, s.trainable) == (10, 10, 10)
    assert s.rows[0].name == "conv_1"


def test_s5_conv_and_max_pool():
    s = summary(abstract(conv(1, 1, (3, 3), padding="SAME"), same(pool)), (8, 8, 1))
    assert [(r.name, r.type, r.shape, r.params) for r in s.rows] == [
        ("conv_1", "Conv", (None, 8, 8, 1), 10), ("max_pool_1", "max_pool", (None, 4, 4, 1), 0)]


def test_flax_pitfalls():
    """Conv pads 'SAME' by default; max_pool's default stride is 1, not the window."""
    assert summary(abstract(conv(1, 1, (3, 3))), (7, 7, 1)).rows[0].shape == (None, 7, 7, 1)
    default_pool = functools.partial(nnx.max_pool, window_shape=(2, 2))
    assert summary([default_pool], (8, 8, 1)).rows[0].shape == (None, 7, 7, 1)


def test_s6_exercise_cnn():
    layers = abstract(conv(1, 10, (5, 5), padding="VALID"), same(pool),
                      conv(10, 25, (5, 5), padding="VALID"), same(pool),
                      conv(25, 100, (4, 4), padding="VALID"), same(pool),
                      same(flatten), lambda rngs: nnx.Linear(100, 10, rngs=rngs))
    s = summary(layers, (32, 32, 1))
    assert [r.params for r in s.rows] == [260, 0, 6275, 0, 40100, 0, 0, 1010]
    assert [r.shape for r in s.rows] == [(None, 28, 28, 10), (None, 14, 14, 10), (None, 10, 10, 25),
                                         (None, 5, 5, 25), (None, 2, 2, 100), (None, 1, 1, 100),
                                         (None, 100), (None, 10)]
    assert [r.name for r in s.rows] == ["conv_1", "max_pool_1", "conv_2", "max_pool_2", "conv_3",
                                        "max_pool_3", "flatten_1", "linear_1"]
    assert (s.total, s.trainable, s.non_trainable) == (47645, 47645, 0)
    assert "Total params: 47,645\n" in s.text


def test_s7_conv_layers():
    layers = abstract(conv(3, 15, (3, 3), padding="VALID"),
                      conv(15, 16, (3, 3), strides=2, padding="VALID"),
                      conv(16, 32, (3, 3), padding="VALID"))
    s = summary(layers, (32, 32, 3))
    assert [r.shape for r in s.rows] == [(None, 30, 30, 15), (None, 14, 14, 16), (None, 12, 12, 32)]
    assert [r.params for r in s.rows] == [420, 2176, 4640]
    assert s.total == 7236


def test_s9_activation_row():
    s = summary(abstract(lambda rngs: nnx.Linear(3, 4, rngs=rngs), same(nnx.tanh)), (3,))
    assert [(r.name, r.type, r.params) for r in s.rows] == [("linear_1", "Linear", 16),
                                                            ("tanh_1", "tanh", 0)]
    assert s.total == 16


def test_s10_dropout_rng_state_not_counted(rngs):
    layers = [nnx.Conv(1, 2, (3, 3), padding="VALID", rngs=rngs), nnx.Dropout(.25, rngs=rngs),
              nnx.Conv(2, 4, (3, 3), padding="VALID", rngs=rngs), nnx.Dropout(.25, rngs=rngs)]
    before = jax.tree.map(np.asarray, nnx.state(layers[1], nnx.RngCount))
    s = summary(layers, (9, 9, 1))
    assert [r.params for r in s.rows] == [20, 0, 76, 0]
    assert [r.shape for r in s.rows] == [(None, 7, 7, 2)] * 2 + [(None, 5, 5, 4)] * 2
    assert [r.name for r in s.rows][1::2] == ["dropout_1", "dropout_2"]
    assert (s.total, s.trainable, s.non_trainable) == (96, 96, 0)
    # shapes only: no random draw advanced the dropout's counter
    assert jax.tree.map(np.asarray, nnx.state(layers[1], nnx.RngCount)) == before


def test_s11_batch_norm_non_trainable():
    layers = abstract(conv(1, 8, (3, 3), use_bias=False, padding="VALID"),
                      lambda rngs: nnx.BatchNorm(8, rngs=rngs), same(nnx.relu))
    s = summary(layers, (9, 9, 1))
    assert [(r.name, r.params) for r in s.rows] == [("conv_1", 72), ("batch_norm_1", 32), ("relu_1", 0)]
    assert (s.total, s.trainable, s.non_trainable) == (104, 88, 16)
    assert s.text.endswith("Total params: 104\nTrainable params: 88\nNon-trainable params: 16\n")


def test_names_override_and_keras_truncation():
    s = summary(abstract_mlp(), (3,), names=["a_very_long_layer_name_indeed", "hidden", "out"])
    assert [r.name for r in s.rows] == ["a_very_long_layer_name_indeed", "hidden", "out"]
    row = s.lines[s.row_lines[0] - 1]
    assert row[:WIDTHS[0]] == "a_very_long_layer_name_i "  # cut one short of the column, like Keras
    assert row.rstrip().endswith("16")
    with pytest.raises(ValueError):
        summary(abstract_mlp(), (3,), names=["only_one"])


def test_summary_leaves_params_untouched(rngs):
    model = mlp(rngs)
    before = jax.tree.map(np.asarray, nnx.state(model))
    summary(model, (3,))
    after = jax.tree.map(np.asarray, nnx.state(model))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)))
