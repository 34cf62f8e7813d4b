"""Deck 3's convolution arithmetic, layers, pooling, shift and sliding kernel, as published.

Each test checks what a slide says against an independent computation: the output-size
relations of Dumoulin & Visin, NumPy convolutions and block maxima, the files on disk.
"""

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deck_slides import by_name, check_structure, images, snippets
from demo_helpers import demo_runner, sha
from published import checksums, outputs, results

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "03_convolutional_networks"
DECK = "03_convolutional_networks"
CASES = ("no_padding_no_strides", "same_padding_no_strides", "padding_strides")
SLIDES = {"no_padding_no_strides": "cnn-no-padding", "same_padding_no_strides": "cnn-same-padding",
          "padding_strides": "cnn-strides"}  # the slide of each animation and its summary

load, run = demo_runner(DEMOS)


def test_deck_structure():
    check_structure(DECK, questions=range(3, 5))


@pytest.mark.parametrize("name", CASES)
def test_animations_follow_the_output_size_relations(name):
    r = results("conv_arithmetic")[name]
    i, k, s, (p_before, p_after) = r["input_size"], r["kernel_size"], r["stride"], r["pads"][0]
    o = r["output_size"]
    assert o == (i + p_before + p_after - k) // s + 1  # Rel. 6
    assert r["output_shape"] == [o, o, 1]
    if r["padding"] == "VALID":
        assert (p_before, p_after) == (0, 0) and o == i - k + 1
    else:
        assert o == math.ceil(i / s)
        if s == 1:  # "o = i when p = (k − 1)/2"
            assert p_before == p_after == (k - 1) // 2 and o == i
    assert r["footprint_error"] == 0 and r["params"] == k * k + 1
    out = outputs("conv_arithmetic")
    assert r["frames"] == o * o
    if name == "padding_strides":  # shown frame by frame on a slide: one SVG per output cell
        assert sorted(out.glob(f"{name}_[0-9]*.svg")) == sorted(out / f"{name}_{n}.svg" for n in range(o * o))
    with Image.open(out / f"{name}.gif") as gif:
        assert gif.n_frames == o * o and gif.info["duration"] == 1000
    text = (out / f"{name}_summary.txt").read_text(encoding="utf-8")
    assert f"(None, {o}, {o}, 1)" in text and f"Total params: {k * k + 1}\n" in text
    # the slide includes, whole, the table down to its total: the layer's row and its count
    generated = f"slides/_generated/03_convolutional_networks/conv_arithmetic/{name}_summary_short.txt"
    assert generated in snippets(by_name(DECK)[SLIDES[name]])
    short = (out / f"{name}_summary_short.txt").read_text(encoding="utf-8")
    assert text.startswith(short) and f"(None, {o}, {o}, 1)" in short
    assert short.endswith(f"Total params: {k * k + 1}\n") and "Trainable" not in short


def test_stride_step_slide_shows_every_frame():
    r = results("conv_arithmetic")["padding_strides"]
    shown = [p.name for p in images(by_name(DECK)["cnn-strides-steps"])]
    assert shown == [f"padding_strides_{n}.svg" for n in range(r["frames"])]


def test_stride_two_is_stride_one_subsampled():
    r = results("conv_arithmetic")
    side, s1, s2 = r["side_by_side"], r["same_padding_no_strides"], r["padding_strides"]
    assert (s1["input_size"], s1["kernel_size"], s1["pads"]) == (s2["input_size"], s2["kernel_size"], s2["pads"])
    assert side["frames"] == s1["output_size"] ** 2
    assert side["computed_by_stride_2"] == s2["output_size"] ** 2
    assert side["subsampling_error"] == 0
    with Image.open(outputs("conv_arithmetic") / "strides_side_by_side.gif") as gif:
        assert gif.n_frames == side["frames"]


def test_uneven_padding_only_with_stride_two():
    r = results("conv_arithmetic")
    odd, even = r["odd"], r["even_stride_1"]
    assert odd["input_size"] == even["input_size"] and odd["input_size"] % 2 == 0
    assert (odd["stride"], even["stride"]) == (2, 1)
    (before, after), _ = odd["pads"]
    assert after == before + 1  # the extra row and column go at the end
    assert even["pads"][0][0] == even["pads"][0][1]
    assert odd["output_size"] == math.ceil(odd["input_size"] / odd["stride"])


def test_choose_a_stride_answer():
    e = results("conv_arithmetic")["exercise"]
    i, k = e["input_size"], e["kernel_size"]
    assert e["same"] == [math.ceil(i / s) for s in e["strides"]]
    assert e["valid"] == [(i - k) // s + 1 for s in e["strides"]]
    assert e["same"][e["strides"].index(e["answer"])] == e["target"]
    assert e["same"].count(e["target"]) == 1  # one right answer


def test_footprint_is_the_window_at_r_s_c_s():
    """The demo's gradient footprints against the k×k window at (r·s, c·s), in NumPy."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    demo = load("conv_arithmetic")
    i, k, s = 8, 5, 3
    pads = lax.padtype_to_pads((i, i), (k, k), (s, s), "SAME")
    x = jnp.pad(jnp.ones((1, i, i, 1)), ((0, 0), *pads, (0, 0)))
    masks = np.asarray(jax.jit(demo["footprints"], static_argnums=2)(x, jnp.full((k, k, 1, 1), 2.0), s))
    n = x.shape[1]
    o = (n - k) // s + 1
    assert masks.shape == (o * o, n, n)
    for index, mask in enumerate(masks):
        r, c = divmod(index, o)
        window = np.zeros((n, n), dtype=bool)
        window[r * s:r * s + k, c * s:c * s + k] = True
        np.testing.assert_array_equal(mask, window)


def test_kernel_sliding_over_a_digit():
    r = results("conv_sliding")
    image, kernel = np.array(r["image"]), np.array(r["kernel"])
    k, o = r["kernel_size"], r["output_size"]
    assert o == r["image_size"] - k + 1  # 'VALID'
    windows = np.lib.stride_tricks.sliding_window_view(image, (k, k))  # (o, o, k, k)
    np.testing.assert_array_equal(r["output"], (windows * kernel).sum(axis=(2, 3)))
    assert r["first_cell"] == r["output"][0][0] and r["max_abs_error"] == 0
    out = outputs("conv_sliding")
    with Image.open(out / "conv_sliding.gif") as gif:
        assert gif.n_frames == r["frames"] == o * o
    assert r["key_frames"][-1] == o * o
    shown = [p.name for p in images(by_name(DECK)["cnn-sliding-steps"])]
    assert shown == [f"conv_sliding_{n}.png" for n in range(len(r["key_frames"]))]
    # red (positive) where the digit gets darker from left to right: its left edges
    assert r["max_cell"] > 0 > r["min_cell"]


def test_conv_layers_parameters():
    r = results("conv_layers")
    assert r["layer_params"] == [(kh * kw * cin + 1) * cout for kh, kw, cin, cout in r["kernel_shapes"]]
    assert r["total_params"] == r["trainable_params"] == sum(r["layer_params"]) == 7236
    size = r["input_shape"][0]
    for (kh, _, _, cout), stride, shape in zip(r["kernel_shapes"], r["strides"], r["shapes"]):
        size = (size - kh) // stride + 1  # 'VALID'
        assert shape == [size, size, cout]
    assert "Total params: 7,236" in (outputs("conv_layers") / "summary.txt").read_text()


def test_pooling():
    r = results("pooling")
    array = np.array(r["input"])
    assert r["pooled"] == array.reshape(2, 2, 2, 2).max(axis=(1, 3)).tolist()
    assert r["summary_shapes"] == [[8, 8, 1], [4, 4, 1]] and r["summary_params"][1] == 0
    n, w, s = r["big_map"], r["big_window"], r["big_stride"]
    assert n % w != 0 and w == s  # "not a multiple", "no overlap"
    assert r["valid_size"] == (n - w) // s + 1 and r["same_size"] == math.ceil(n / s)
    assert r["same_size"] == r["valid_size"] + 1
    assert r["no_strides_size"] == 8 - 2 + 1  # Flax strides by 1 by default
    assert (r["relu_grad_at_minus_1"], r["relu_grad_at_1"]) == (0.0, 1.0)


def test_shift_equivariance():
    r = results("shift_equivariance")
    assert r["max_abs_difference"] <= 1e-6 and r["global_max_difference"] <= 1e-6
    assert r["global_max"] == pytest.approx(r["global_max_shifted"], abs=1e-6) and r["global_max"] > 0
    assert r["peak_moved_by"] == r["shift"] and any(r["shift"])
    assert [b - a for a, b in zip(r["peak"], r["peak_shifted"])] == r["shift"]


@pytest.mark.parametrize("name", ["pooling", "exercise_cnn"])
def test_rerun_gives_the_published_bytes(name, tmp_path):
    run(name, tmp_path)
    assert {p.name: sha(p) for p in tmp_path.iterdir()} == checksums(name)
