"""The numbers deck 2's neuron, activations and chain_rule demos put on slides hold."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from demo_helpers import demo_runner, finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "02_neural_networks"


load, _ = demo_runner(DEMOS)


def run(name: str, out_dir: Path) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    return load(name)["main"](out_dir)


@pytest.fixture(scope="module")
def neuron(tmp_path_factory):
    out = tmp_path_factory.mktemp("neuron")
    return out, run("neuron", out)


@pytest.fixture(scope="module")
def activations(tmp_path_factory):
    out = tmp_path_factory.mktemp("activations")
    return out, run("activations", out)


@pytest.fixture(scope="module")
def chain_rule(tmp_path_factory):
    out = tmp_path_factory.mktemp("chain_rule")
    return out, run("chain_rule", out)


def test_neuron(neuron):
    out, r = neuron
    assert (out / "neuron.svg").stat().st_size > 0
    assert (out / "linear_layer.svg").stat().st_size > 0
    assert finite(r)
    x = np.array(r["input"])
    # one neuron: output = sigmoid(w·x + b)
    z = x @ np.array(r["neuron_weights"]) + r["neuron_bias"]
    assert z == pytest.approx(r["neuron_z"], abs=1e-3)
    assert 1 / (1 + np.exp(-z)) == pytest.approx(r["neuron_output"], abs=1e-3)
    # Linear(3, 4): kernel (3, 4), bias (4,), 16 parameters, y = x @ W + b
    assert r["layer_kernel_shape"] == [3, 4]
    assert r["layer_bias_shape"] == [4]
    assert r["layer_edges"] == 12
    assert r["layer_params"] == 16
    y = x @ np.array(r["layer_kernel"]) + np.array(r["layer_bias"])
    np.testing.assert_allclose(y, r["layer_output"], atol=1e-3)


def test_activations(activations):
    out, r = activations
    assert (out / "activations.svg").stat().st_size > 0
    assert finite(r)
    assert r["sigmoid_grad_at_0"] == pytest.approx(0.25, abs=1e-6)
    assert r["tanh_grad_at_0"] == pytest.approx(1.0, abs=1e-6)
    assert r["relu_grad_at_1"] == 1.0
    assert r["relu_grad_at_minus_1"] == 0.0
    assert r["max_abs_error"] < 1e-5
    assert r["max_abs_error"] == max(r[f"max_abs_error_{n}"] for n in ("sigmoid", "tanh", "relu"))


def sigmoid_net_loss(p: dict, x: float, y: float) -> float:
    """The demo's two-neuron net in float64 NumPy, written independently of the demo."""
    a1 = 1 / (1 + np.exp(-(p["w1"] * x + p["b1"])))
    return 0.5 * (y - (p["w2"] * a1 + p["b2"])) ** 2


def tiny_net_loss(p: dict, x: float, y: float) -> float:
    return 0.5 * (y - p["w2"] * p["w1"] * x) ** 2


def finite_difference(loss, params: dict, x: float, y: float, eps: float = 1e-5) -> dict:
    grads = {}
    for name in params:
        up, down = dict(params), dict(params)
        up[name] += eps
        down[name] -= eps
        grads[name] = (loss(up, x, y) - loss(down, x, y)) / (2 * eps)
    return grads


def test_chain_rule(chain_rule):
    out, r = chain_rule
    assert (out / "chain_rule.svg").stat().st_size > 0
    assert "jax.grad" in (out / "chain_rule.txt").read_text(encoding="utf-8")
    assert finite(r)
    assert r["max_abs_diff"] < 1e-6
    x, y, params = r["x"], r["y"], r["params"]
    assert set(r["grads_hand"]) == set(r["grads_jax"]) == {"w1", "b1", "w2", "b2"}
    fd = finite_difference(sigmoid_net_loss, params, x, y)
    for name, grad in r["grads_hand"].items():
        assert grad == pytest.approx(fd[name], abs=1e-3)
        assert grad == pytest.approx(r["grads_jax"][name], abs=1e-6)
    assert r["forward"]["loss"] == pytest.approx(sigmoid_net_loss(params, x, y), abs=1e-6)
    tiny = {k: params[k] for k in ("w1", "w2")}
    fd = finite_difference(tiny_net_loss, tiny, x, y)
    for name, grad in r["tiny_grads_hand"].items():
        assert grad == pytest.approx(fd[name], abs=1e-3)
        assert grad == pytest.approx(r["tiny_grads_jax"][name], abs=1e-6)


def test_chain_rule_hand_formulas_match_jax_grad_elsewhere():
    """The hand backward pass equals jax.grad at random points, not only at the slide's one."""
    import jax

    demo = load("chain_rule")
    keys = jax.random.split(jax.random.key(0), 5)
    for key in keys:
        w1, b1, w2, b2, x, y = jax.random.normal(key, (6,))
        params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
        d = demo["backward"](params, x, y, demo["forward"](params, x, y))
        auto = demo["autodiff_grads"](params, x, y)
        for name in params:
            assert float(d[name]) == pytest.approx(float(auto[name]), rel=1e-5, abs=1e-6)
        tiny = {"w1": w1, "w2": w2}
        hand, auto = demo["tiny_hand_grads"](tiny, x, y), jax.grad(demo["tiny_loss"])(tiny, x, y)
        for name in tiny:
            assert float(hand[name]) == pytest.approx(float(auto[name]), rel=1e-5, abs=1e-6)


def test_figures_are_byte_identical_on_rerun(activations, tmp_path):
    out, _ = activations
    run("activations", tmp_path)
    first = hashlib.sha256((out / "activations.svg").read_bytes()).hexdigest()
    again = hashlib.sha256((tmp_path / "activations.svg").read_bytes()).hexdigest()
    assert first == again
