"""Deck 2's building blocks, as published: neuron, MLP, activations, XOR, chain rule, softmax.

Every test reads the results the slides show (tests/published.py) and checks a claim a slide
makes, against an independent computation where there is one (NumPy in float64, finite
differences, closed forms).
"""

import math
from pathlib import Path

import numpy as np
import pytest

from deck_slides import by_name, check_structure, snippets
from demo_helpers import demo_runner, sha
from published import checksums, outputs, results

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "02_neural_networks"
DECK = "02_neural_networks"

load, run = demo_runner(DEMOS)


def test_deck_structure():
    check_structure(DECK, questions=range(3, 5))


def test_neuron_sum_and_layer_shapes():
    r = results("neuron")
    x = np.array(r["input"])
    z = x @ np.array(r["neuron_weights"]) + r["neuron_bias"]  # "z = w·x + b" with the drawn weights
    assert z == pytest.approx(r["neuron_z"], abs=1e-3)
    assert 1 / (1 + np.exp(-z)) == pytest.approx(r["neuron_output"], abs=1e-3)
    (n, m), (b,) = r["layer_kernel_shape"], r["layer_bias_shape"]
    assert b == m and r["layer_params"] == n * m + b == (n + 1) * m
    y = x @ np.array(r["layer_kernel"]) + np.array(r["layer_bias"])  # y = xW + b
    np.testing.assert_allclose(y, r["layer_output"], atol=1e-3)


def test_mlp_parameters_answer():
    """The answer slide: (n + 1)·m per layer, and the reveal shows every row of the summary."""
    r = results("mlp")
    shapes = r["kernel_shapes"]
    assert r["layers"] == [shapes[0][0]] + [m for _, m in shapes]
    assert r["params"] == [(n + 1) * m for n, m in shapes]
    assert r["total"] == r["trainable"] == sum(r["params"]) == 41 and r["non_trainable"] == 0
    out = outputs("mlp")
    steps = [(out / f"summary_step_{k}.txt").read_text() for k in range(1, r["summary_steps"] + 1)]
    assert "".join(steps) == (out / "summary.txt").read_text()
    assert r["summary_steps"] == len(r["params"])  # one reveal step per layer
    for step, name, params in zip(steps, r["names"], r["params"]):
        assert f"{name} (Linear)" in step and step.rstrip().split("\n")[
            3 if step is steps[0] else 1].endswith(str(params))
    shown = [s for s in snippets(by_name(DECK)["mlp-summary"]) if s.endswith(".txt")]
    assert shown == [f"slides/_generated/{DECK}/mlp/summary_step_{k}.txt"
                     for k in range(1, r["summary_steps"] + 1)]


def test_activation_derivatives():
    r = results("activations")
    assert r["sigmoid_grad_at_0"] == pytest.approx(0.25, abs=1e-6)
    assert r["tanh_grad_at_0"] == pytest.approx(1.0, abs=1e-6)
    assert (r["relu_grad_at_1"], r["relu_grad_at_minus_1"]) == (1.0, 0.0)
    assert r["max_abs_error"] < 1e-5


def test_xor_needs_a_hidden_layer():
    r = results("xor")
    assert r["labels"] == [int(a != b) for a, b in r["points"]]  # really XOR
    # no hidden layer: p = 1/2 at every point, loss ln 2
    assert r["linear"]["loss"] == pytest.approx(math.log(2), abs=1e-3)
    assert r["linear"]["max_distance_from_half"] < 0.01
    # a hidden layer: every point right, with a small loss
    assert r["hidden"]["accuracy"] == 1.0 and r["hidden"]["loss"] < 0.01
    p = np.array(r["hidden"]["probabilities"])
    assert np.all((p > 0.5) == np.array(r["labels"], bool))


def test_activation_as_argument_or_layer():
    r = results("activation_layer")
    n, m = r["argument_kernel_shape"]
    assert r["argument_params"] == r["layer_params"] == (n + 1) * m
    assert r["argument_rows"] == [["dense_1", "Dense", (n + 1) * m]]
    assert r["layer_rows"][-1][2] == r["activation_row_params"] == 0
    sizes = r["network_sizes"]
    assert r["network_params"] == sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    out = outputs("activation_layer")
    assert f"Total params: {(n + 1) * m}" in (out / "summary_argument.txt").read_text()
    assert "tanh_1 (tanh)" in (out / "summary_layer.txt").read_text()


def test_softmax_and_maximum_likelihood():
    r = results("softmax_likelihood")
    z = np.array(r["logits"], np.float64)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(r["probs"], p, atol=1e-6)
    assert r["example_loss"] == pytest.approx(-np.log(p[r["label"]]), abs=1e-5)
    counts = np.array(r["counts"])
    f = counts / counts.sum()
    assert r["n"] == counts.sum()
    # the fit ends at the observed frequencies, its loss at their entropy
    np.testing.assert_allclose(r["fitted_probs"], f, atol=1e-3)
    assert r["entropy"] == pytest.approx(-(f * np.log(f)).sum(), abs=1e-9)
    assert r["final_loss"] == pytest.approx(r["entropy"], abs=1e-3)
    assert r["initial_loss"] == pytest.approx(np.log(len(counts)), abs=1e-5)  # uniform start
    # the mean cross-entropy is -(1/N) log of the likelihood: exp(-N·CE) = Π p(y_i)
    assert r["likelihood_from_loss"] == pytest.approx(r["likelihood"], rel=1e-4)
    assert r["likelihood"] == pytest.approx(np.prod(f ** counts), rel=1e-2)  # the maximum
    assert r["likelihood"] > 10 * r["likelihood_initial"]


def sigmoid_net(p: dict, x: float, y: float) -> dict:
    """The two-neuron net in float64 NumPy, written independently of the demo."""
    z1 = p["w1"] * x + p["b1"]
    a1 = 1 / (1 + np.exp(-z1))
    q = p["w2"] * a1 + p["b2"]
    return {"z1": z1, "a1": a1, "z2": q, "loss": 0.5 * (y - q) ** 2}


def finite_difference(loss, params: dict, eps: float = 1e-6) -> dict:
    grads = {}
    for name in params:
        up, down = dict(params), dict(params)
        up[name] += eps
        down[name] -= eps
        grads[name] = (loss(up) - loss(down)) / (2 * eps)
    return grads


def test_chain_rule_answers():
    """The tiny chain and the question's two-neuron net: forward values and gradients."""
    r = results("chain_rule")
    x, y, params = r["x"], r["y"], r["params"]
    forward = sigmoid_net(params, x, y)
    for name, value in r["forward"].items():
        assert value == pytest.approx(forward[name], abs=1e-5)
    fd = finite_difference(lambda p: sigmoid_net(p, x, y)["loss"], params)
    for name in params:
        assert r["grads_hand"][name] == pytest.approx(fd[name], abs=1e-5)
        assert r["grads_hand"][name] == pytest.approx(r["grads_jax"][name], abs=1e-6)
    tiny = {k: params[k] for k in ("w1", "w2")}
    fd = finite_difference(lambda p: 0.5 * (y - p["w2"] * p["w1"] * x) ** 2, tiny)
    for name in tiny:
        assert r["tiny_grads_hand"][name] == pytest.approx(fd[name], abs=1e-5)
        assert r["tiny_grads_hand"][name] == pytest.approx(r["tiny_grads_jax"][name], abs=1e-6)
    assert r["max_abs_diff"] < 1e-6
    table = (outputs("chain_rule") / "two_neuron.txt").read_text()
    assert "jax.grad" in table and all(f"{k} = {v:.1f}" in table for k, v in params.items())


def test_chain_rule_hand_formulas_match_jax_grad_elsewhere():
    """The hand backward pass equals jax.grad at random points, not only at the slide's one."""
    import jax

    demo = load("chain_rule")
    for key in jax.random.split(jax.random.key(0), 5):
        w1, b1, w2, b2, x, y = jax.random.normal(key, (6,))
        params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
        hand = demo["backward"](params, x, y, demo["forward"](params, x, y))
        auto = demo["autodiff_grads"](params, x, y)
        for name in params:
            assert float(hand[name]) == pytest.approx(float(auto[name]), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", ["mlp", "activation_layer"])
def test_rerun_gives_the_published_bytes(name, tmp_path):
    run(name, tmp_path)
    published = checksums(name)
    assert {p.name: sha(p) for p in tmp_path.iterdir() if p.name in published} == published
