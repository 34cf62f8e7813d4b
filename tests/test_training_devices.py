"""fit(devices=...): data parallel over XLA host devices equals one device, within float rounding.

Two devices need `--xla_force_host_platform_device_count` before JAX starts, so the checks run
in a child process (tests/fixtures/fit_devices_check.py) that prints its measurements as JSON.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from handson.training import fit

CHECK = Path(__file__).parent / "fixtures" / "fit_devices_check.py"


@pytest.fixture(scope="module")
def two_devices() -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, str(CHECK)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_child_had_two_devices(two_devices):
    assert two_devices["devices"] == 2


@pytest.mark.parametrize("model", ["lstm", "mlp"])
def test_split_over_two_devices_equals_one(two_devices, model):
    """Same losses and weights (float sums in another order), the weights back on one device."""
    r = two_devices[model]
    assert r["history_diff"] < 1e-5, r
    assert r["param_diff"] < 1e-5, r
    assert r["param_scale"] > 0.1  # the weights compared are not all zeros
    assert r["trained"], "the weights did not move: nothing was compared"
    assert r["home_devices"] == 1


def test_gradients_are_summed_once_per_step(two_devices):
    """One all-reduce per step, after the backward pass; not one per time step of the LSTM."""
    assert two_devices["lstm"]["all_reduces"] == 1


def test_refuses_what_it_cannot_split(two_devices):
    errors = two_devices["errors"]
    assert "does not split evenly over 2 devices" in errors["uneven_batch"]
    assert "other than its parameters" in errors["dropout"]
    assert "appears twice" in errors["same_device_twice"]


def test_one_device_is_the_default_path():
    """devices=[one device] is fit without the option: the same bytes."""
    def run(**kwargs):
        rngs = nnx.Rngs(0)
        model = nnx.Sequential(nnx.Linear(4, 8, rngs=rngs), nnx.relu, nnx.Linear(8, 3, rngs=rngs))
        x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
        y = (x.sum(1) > 0).astype(np.int32)
        history = fit(model, optax.adam(0.01), lambda m, x, y: optax.softmax_cross_entropy_with_integer_labels(
            m(x), y).mean(), train=(x, y), epochs=3, batch_size=16, key=jax.random.key(0), **kwargs)
        return history, [np.asarray(a) for a in jax.tree.leaves(nnx.state(model))]

    (h1, p1), (h2, p2) = run(), run(devices=jax.devices()[:1])
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(p1, p2))
