"""Deck 2's optimizers, loss landscape, backprop animation, mini-batches and first training run,
as published: what the slides say holds."""

import math

import pytest
from PIL import Image

from deck_slides import by_name, snippets
from published import outputs, results


def test_optimizers_on_the_valley():
    r = results("optimizer_paths")
    hits = r["steps_to_threshold"]
    assert all(r["reached"].values())
    assert hits["adam"] < hits["momentum"] < hits["gd"] < r["steps"]
    assert hits["gd"] > 2 * hits["momentum"]  # momentum: much faster at the same learning rate
    assert r["loss_at_step"]["gd"] > r["threshold"] > max(r["loss_at_step"]["momentum"],
                                                          r["loss_at_step"]["adam"])
    assert r["stable_below"] == pytest.approx(2 / max(r["curvatures"]))
    assert r["learning_rate"] < r["stable_below"]


def test_larger_learning_rate_diverges():
    """The answer slide: above 2 / curvature every step multiplies the loss by the factor²."""
    r = results("optimizer_paths")
    larger = r["larger"]
    assert larger["learning_rate"] > r["stable_below"] > r["learning_rate"]
    factor = abs(1 - larger["learning_rate"] * max(r["curvatures"]))
    assert larger["factor"] == pytest.approx(factor) and factor > 1
    assert larger["growth_per_step"] == pytest.approx(factor ** 2, rel=1e-3)
    assert larger["loss_at_step"] > 1e6 * r["start_loss"]


def test_loss_slices_deep_versus_shallow():
    r = results("loss_slice")
    linear, mlp, twin = r["linear"], r["mlp"], r["mlp_shuffled"]
    # softmax regression: two runs end at about the same loss, no rise between them (convex)
    assert abs(linear["loss_a"] - linear["loss_b"]) < 0.01
    assert linear["max_inside"] <= max(linear["loss_a"], linear["loss_b"]) * (1 + 1e-5)
    # the MLP: two good solutions, a ridge halfway, many times higher than either end
    assert max(mlp["loss_a"], mlp["loss_b"]) < 0.05 < mlp["loss_middle"]
    assert mlp["loss_middle"] > 10 * max(mlp["loss_a"], mlp["loss_b"])
    # shuffled hidden units: the same loss at both ends, a climb between them
    assert twin["loss_a"] == mlp["loss_a"]
    assert twin["loss_b"] == pytest.approx(twin["loss_a"], rel=1e-4)
    assert twin["loss_middle"] > 5 * twin["loss_a"]
    assert r["permutations"] == pytest.approx(math.factorial(r["hidden"]), rel=1e-12)


def test_backprop_animation():
    r = results("backprop_animation")
    layers = r["layers"]
    assert r["frames"] == 2 * len(layers)  # one forward and one backward frame per column
    with Image.open(outputs("backprop_animation") / "backprop.gif") as gif:
        assert gif.n_frames == r["frames"]
    assert r["max_abs_diff"] < 1e-6 and r["max_abs_diff_hand"] < 1e-6
    assert r["loss"] == pytest.approx(0.5 * (r["output"] - r["target"]) ** 2, rel=1e-5)
    norms = r["cotangent_norms"]
    assert norms["output"] == pytest.approx(abs(r["output"] - r["target"]), rel=1e-5)
    assert norms["output"] > norms["hidden2"] > norms["hidden1"] > norms["input"] > 0
    rows = (outputs("backprop_animation") / "backprop_norms.txt").read_text().splitlines()
    assert len(rows) == 1 + 2 * (len(layers) - 1)  # header + dL/dW and dL/db per layer
    assert [s for s in snippets(by_name("02_neural_networks")["network-update-code"]) if ".txt" in s] == \
        ["slides/_generated/02_neural_networks/backprop_animation/backprop_norms.txt"]


def steps_fit_takes(n: int, batch_size: int) -> int:
    """The gradient steps `fit` takes in one epoch over n examples, counted by the optimizer: a
    schedule that returns its step count, read back after the epoch (its last step's, 0-based)."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from handson.training import fit

    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=lambda count: count.astype(jnp.float32))
    zeros = jnp.zeros((n, 1))
    history = fit(nnx.Linear(1, 1, rngs=nnx.Rngs(0)), tx, lambda m, x, y: 0.0 * m(x).sum(),
                  train=(zeros, zeros), epochs=1, batch_size=batch_size, key=jax.random.key(0))
    return int(history.learning_rate[-1]) + 1


def test_minibatch_gap_comes_from_the_number_of_updates():
    r = results("minibatch")
    runs = [r["runs"][f"batch_{b}"] for b in r["batch_sizes"]]
    # "updates per epoch": what fit does with the published number of training digits
    assert [run["steps_per_epoch"] for run in runs] == [steps_fit_takes(r["n_train"], b) for b in r["batch_sizes"]]
    small, mid, big = runs
    # at equal epochs: the smaller the batch, the lower the validation loss
    assert small["final_val_loss"] < mid["final_val_loss"] < big["final_val_loss"]
    assert big["final_val_loss"] > 2 * mid["final_val_loss"]
    # at equal updates the three nearly coincide, and the largest batch is not behind
    assert r["common_updates"] == min(run["updates"] for run in runs)
    at = [run["val_loss_at_common_updates"] for run in runs]
    assert max(at) / min(at) < 1.1
    assert big["val_loss_at_common_updates"] <= small["val_loss_at_common_updates"]


def test_first_training_run():
    r = results("train_digits")
    assert r["n_train"] + r["n_val"] == 1797 and r["image_side"] ** 2 == 64
    assert r["params"] == (64 + 1) * 64 + (64 + 1) * 10
    assert r["final_val_acc"] > 0.95 and r["final_train_acc"] > r["final_val_acc"]
    assert r["final_train_loss"] < r["final_val_loss"]  # "the training loss keeps falling below"
    assert r["best_val_loss"] <= r["final_val_loss"] and 1 <= r["best_epoch"] <= r["epochs"]
