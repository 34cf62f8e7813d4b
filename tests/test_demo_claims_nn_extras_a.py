"""Deck 2's decision regions, playground and losses, as published: what the slides say holds."""

import numpy as np
import pytest
from PIL import Image

from published import outputs, results


def test_decision_regions_rise_with_hidden_units():
    r = results("decision_regions")
    assert r["hidden"] == sorted(r["hidden"])
    for acc in (r["moons_acc"], r["circles_acc"]):
        assert len(acc) == len(r["hidden"])
        assert all(a <= b + 1e-9 for a, b in zip(acc, acc[1:])), acc  # never worse with more units
    circles, moons = r["circles_acc"], r["moons_acc"]
    assert circles[0] < 0.75  # "one unit: hopeless on the circles"
    assert circles[2] >= 0.95  # "three: a closed polygon around the inner circle"
    assert moons[3] - moons[2] > 0.05 and moons[3] >= 0.97  # "the big gain comes with eight"


def test_playground_learns_the_spiral():
    r = results("playground")
    assert r["epochs"][0] == 0 and r["final_epoch"] == r["epochs"][-1]
    steps = np.diff(r["epochs"])
    assert np.all(steps == steps[0])  # "one frame every N epochs"
    assert r["initial_acc"] < 0.6 and r["final_acc"] >= 0.95
    early = [a for e, a in zip(r["epochs"], r["accuracy"]) if e <= 2 * steps[0]]
    assert max(early) < 0.75  # "starts as a nearly straight line"
    with Image.open(outputs("playground") / "playground.gif") as gif:
        assert gif.n_frames == r["frames"] == len(r["epochs"])


def test_cross_entropy_pushes_harder_when_wrong():
    r = results("losses")
    q = np.array(r["q"], np.float64)
    # y = 1: ½(1 − q)², −log q, and through the sigmoid (q − 1)·q(1 − q) and q − 1
    np.testing.assert_allclose(r["squared_error"], 0.5 * (1 - q) ** 2, rtol=1e-4)
    np.testing.assert_allclose(r["cross_entropy"], -np.log(q), rtol=1e-4)
    np.testing.assert_allclose(r["grad_squared_error"], (q - 1) * q * (1 - q), rtol=1e-3)
    np.testing.assert_allclose(r["grad_cross_entropy"], q - 1, rtol=1e-3, atol=1e-6)
    assert q[0] < 0.05  # the slide's "confidently wrong" prediction
    assert abs(r["grad_cross_entropy"][0]) > 50 * abs(r["grad_squared_error"][0])
    assert r["optax_max_abs_diff"] < 1e-6
    z = np.array(r["softmax_logits"], np.float64)
    expected = np.log(np.exp(z).sum()) - z[r["softmax_label"]]
    assert r["softmax_cross_entropy"] == pytest.approx(expected, abs=1e-5)
