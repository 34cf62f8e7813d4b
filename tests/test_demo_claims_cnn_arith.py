"""The numbers deck 3's conv-arithmetic, conv-layer, pooling and shift demos put on slides hold."""

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from demo_helpers import demo_runner, finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "03_convolutional_networks"
CASES = {  # name -> (input size, kernel, stride, padding, pads, output size, frames)
    "no_padding_no_strides": (7, 3, 1, "VALID", [[0, 0], [0, 0]], 5, 25),
    "same_padding_no_strides": (5, 3, 1, "SAME", [[1, 1], [1, 1]], 5, 25),
    "padding_strides": (5, 3, 2, "SAME", [[1, 1], [1, 1]], 3, 9),
}


load, run = demo_runner(DEMOS)


def digests(out_dir: Path, prefix: str = "") -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out_dir.glob(f"{prefix}*")) if p.is_file()}


@pytest.fixture(scope="module")
def conv_arithmetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv_arithmetic")
    return out, run("conv_arithmetic", out)


@pytest.fixture(scope="module")
def conv_layers(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv_layers")
    return out, run("conv_layers", out)


@pytest.fixture(scope="module")
def pooling(tmp_path_factory):
    out = tmp_path_factory.mktemp("pooling")
    return out, run("pooling", out)


@pytest.fixture(scope="module")
def shift_equivariance(tmp_path_factory):
    out = tmp_path_factory.mktemp("shift_equivariance")
    return out, run("shift_equivariance", out)


def test_every_number_is_finite(conv_arithmetic, conv_layers, pooling, shift_equivariance):
    for _, results in (conv_arithmetic, conv_layers, pooling, shift_equivariance):
        assert finite(results)


@pytest.mark.parametrize("name", CASES)
def test_animation_frames(conv_arithmetic, name):
    out, r = conv_arithmetic
    frames = CASES[name][-1]
    assert r[name]["frames"] == frames
    assert [(out / f"{name}_{k}.png").is_file() for k in range(frames + 1)] == [True] * frames + [False]
    gif = Image.open(out / f"{name}.gif")
    assert gif.n_frames == frames
    assert gif.info["duration"] == 1000 and gif.info["loop"] == 0  # 1 s per frame, looping
    assert gif.size == Image.open(out / f"{name}_0.png").size


@pytest.mark.parametrize("name", CASES)
def test_output_shapes_follow_the_relationships(conv_arithmetic, name):
    i, k, s, padding, pads, o, _ = CASES[name]
    r = conv_arithmetic[1][name]
    assert (r["input_size"], r["kernel_size"], r["stride"], r["padding"]) == (i, k, s, padding)
    assert r["pads"] == pads
    assert r["output_size"] == o and r["output_shape"] == [o, o, 1]
    p = pads[0][0]
    assert o == (i + 2 * p - k) // s + 1  # Rel. 6
    if padding == "VALID":
        assert o == i - k + 1  # Rel. 1
    elif s == 1:
        assert o == i  # Rel. 3: half (same) padding
    else:
        assert o == math.ceil(i / s)  # 'SAME' keeps ⌈i/s⌉


def test_odd_case_pads_at_the_end(conv_arithmetic):
    odd = conv_arithmetic[1]["odd"]
    assert (odd["input_size"], odd["stride"], odd["padding"]) == (6, 2, "SAME")
    assert odd["pads"] == [[0, 1], [0, 1]]
    assert odd["output_size"] == 3 == (6 + 0 + 1 - 3) // 2 + 1


def test_footprints_are_the_kernel_windows(conv_arithmetic):
    r = conv_arithmetic[1]
    assert r["footprint_error"] == 0
    assert all(r[name]["footprint_error"] == 0 for name in CASES)


@pytest.mark.parametrize("config", [(5, 3, 2, "SAME"), (6, 3, 2, "SAME"), (8, 5, 3, "SAME")])
def test_gradient_footprint_is_the_window_at_r_s_c_s(config):
    """Frame (r, c)'s footprint is the k×k window at (r·s, c·s) of the padded input: the
    demo's `footprints` against the formula, here written independently in NumPy."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    demo = load("conv_arithmetic")
    i, k, s, padding = config
    pads = lax.padtype_to_pads((i, i), (k, k), (s, s), padding)
    x = jnp.pad(jnp.ones((1, i, i, 1)), ((0, 0), *pads, (0, 0)))
    footprints = jax.jit(demo["footprints"], static_argnums=2)
    masks = np.asarray(footprints(x, jnp.full((k, k, 1, 1), 2.0), s))
    n = x.shape[1]
    o = (n - k) // s + 1
    assert masks.shape == (o * o, n, n)
    for index, mask in enumerate(masks):  # top row first, left to right
        r, c = divmod(index, o)
        window = np.zeros((n, n), dtype=bool)
        window[r * s:r * s + k, c * s:c * s + k] = True
        np.testing.assert_array_equal(mask, window)


@pytest.mark.parametrize("name", CASES)
def test_conv_arithmetic_summaries(conv_arithmetic, name):
    out, r = conv_arithmetic
    o = CASES[name][5]
    assert r[name]["params"] == 10  # 3·3·1·1 + 1
    text = (out / f"{name}_summary.txt").read_text(encoding="utf-8")
    assert f"(None, {o}, {o}, 1)" in text and "Total params: 10\n" in text


def test_conv_layers(conv_layers):
    out, r = conv_layers
    assert r["shapes"] == [[30, 30, 15], [14, 14, 16], [12, 12, 32]]
    assert r["layer_params"] == [420, 2176, 4640]
    assert r["total_params"] == r["trainable_params"] == 7236
    for (kh, kw, cin, cout), params in zip(r["kernel_shapes"], r["layer_params"]):
        assert (kh * kw * cin + 1) * cout == params
    text = (out / "summary.txt").read_text(encoding="utf-8")
    assert "(None, 14, 14, 16)" in text and "Total params: 7,236" in text
    assert r["activation_shape"] == [3, 3, 1] and r["activation_params"] == 10
    assert (out / "conv_layers.svg").stat().st_size > 0


def test_pooling(pooling):
    out, r = pooling
    array = np.array(r["input"])
    blocks = array.reshape(2, 2, 2, 2).max(axis=(1, 3))  # the 2×2 maxima, by NumPy
    assert r["pooled"] == blocks.tolist() == [[6, 8], [3, 4]]
    assert r["pooled_shape"] == [2, 2, 1]
    assert r["summary_shapes"] == [[8, 8, 1], [4, 4, 1]]
    assert r["summary_params"] == [10, 0] and r["total_params"] == 10
    assert r["big_map"] == 98
    assert r["valid_size"] == (98 - 3) // 3 + 1 == 32 and r["valid_shape"] == [32, 32]
    assert r["same_size"] == math.ceil(98 / 3) == 33 and r["same_shape"] == [33, 33]
    assert r["no_strides_size"] == 7
    assert (r["relu_grad_at_minus_1"], r["relu_grad_at_1"]) == (0.0, 1.0)
    for name in ("pooling.svg", "relu.svg", "summary.txt", "pool_shapes.txt"):
        assert (out / name).stat().st_size > 0


def test_shift_equivariance(shift_equivariance):
    out, r = shift_equivariance
    assert r["digit"] == 7
    assert r["max_abs_difference"] <= 1e-6
    assert r["max_abs_difference_interior"] <= 1e-6
    assert r["global_max_difference"] <= 1e-6
    assert r["global_max"] == pytest.approx(r["global_max_shifted"], abs=1e-6)
    assert r["global_max"] > 0
    assert r["peak_moved_by"] == r["shift"]
    assert any(r["shift"])
    assert (out / "shift.svg").stat().st_size > 0


def test_outputs_are_byte_identical_on_rerun(conv_arithmetic, pooling, tmp_path):
    out, _ = conv_arithmetic
    run("conv_arithmetic", tmp_path / "a", cases=("padding_strides",))
    assert digests(tmp_path / "a") == digests(out, "padding_strides")
    run("pooling", tmp_path / "p")
    assert digests(tmp_path / "p") == digests(pooling[0])
