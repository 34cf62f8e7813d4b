"""The numbers deck 1 ("Why deep learning now") prints, checked on the published results.

Each test reads what the slides show (`published.results`) and fails if a claim on a slide is
false. Helper functions of the demos (the fit, the peak estimate) are checked against
independent computations; two cheap deterministic demos are rerun byte for byte.
"""

import hashlib
import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from published import checksums, entry, outputs, results

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "01_introduction"


def module(name: str) -> dict:
    """A demo's globals (constants and helpers), without running its main."""
    return runpy.run_path(str(DEMOS / f"{name}.py"), run_name="__demo__")


def test_imagenet_depth_matches_its_sources():
    r = results("imagenet_depth")
    systems = r["systems"]
    # the slide: 16.4% with 8 layers (2012), 3.57% with 152 layers (2015), human 5.1%
    row = lambda name: (systems[name]["top5_error"], systems[name]["layers"], systems[name]["year"])
    assert row("AlexNet") == (16.4, 8, 2012)
    assert row("ResNet") == (3.57, 152, 2015)
    assert (systems["VGG"]["layers"], systems["GoogLeNet"]["layers"]) == (19, 22)
    assert r["human_top5_error"] == 5.1
    # "below a trained human's 5.1%": ResNet is the first winner under it
    assert systems["ResNet"]["top5_error"] < r["human_top5_error"] < systems["GoogLeNet"]["top5_error"]
    assert r["first_below_human"] == "ResNet"
    # "the error fell" year after year, and the notes' fold changes
    by_year = sorted(systems.values(), key=lambda s: (s["year"], -s["top5_error"]))
    errors = [s["top5_error"] for s in by_year]
    assert errors == sorted(errors, reverse=True)
    assert r["error_ratio_alexnet_resnet"] == pytest.approx(16.4 / 3.57)
    assert r["depth_ratio_resnet_alexnet"] == 19
    # the grey bars are the systems that are not deep networks
    assert {n for n, s in systems.items() if s["layers"] == 0} == {"NEC-UIUC", "XRCE"}
    assert (outputs("imagenet_depth") / "imagenet_depth.svg").stat().st_size > 0


def test_history_perceptron_solves_the_blobs_not_xor():
    r = results("history_thumbnails")
    assert r["linear_accuracy"] == 1.0  # "separates the blobs (100%)"
    # XOR: at most 3 of 4 equal blobs on the right side of any line
    assert r["xor_best_accuracy"] <= 0.75
    assert r["xor_accuracy"] <= r["xor_best_accuracy"]
    assert r["epochs"] == 20
    assert r["points_linear"] == 40 and r["points_xor"] == 80
    assert r["digit_labels"] == [d for d in range(10) for _ in range(2)]  # real digits, 0 to 9
    for name in ("perceptron.svg", "toy_problems.svg", "digits.svg"):
        assert (outputs("history_thumbnails") / name).stat().st_size > 0


def test_perceptron_rule_learns_an_and_gate():
    """The demo's perceptron (not its main) on a separable 4-point problem."""
    perceptron = module("history_thumbnails")["perceptron"]
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float32)
    y = np.array([-1, -1, -1, 1], dtype=np.float32)
    w, accuracy = perceptron(x, y, epochs=10)
    assert float(accuracy[-1]) == 1.0
    assert np.all(np.sign(x @ np.asarray(w)) == y)


def test_compute_trend_fit_and_interval():
    r = results("compute_trend")
    # the slide: a doubling time with its 95% interval, next to the post's 3.43 months
    assert r["confidence"] == 0.95
    assert r["doubling_months_low"] < r["doubling_months"] < r["doubling_months_high"]
    assert r["published_months"] == 3.43
    assert r["published_in_interval"] == (r["doubling_months_low"] <= 3.43 <= r["doubling_months_high"])
    # an independent float64 fit of the same points
    points = module("compute_trend")["POINTS"]
    assert len(points) == r["points"] == 15
    years = np.array([p[1] for p in points])
    log2 = np.log2([p[2] for p in points])
    slope, intercept = np.polyfit(years, log2, 1)
    residuals = log2 - (intercept + slope * years)
    se = np.sqrt(residuals @ residuals / (len(points) - 2) / ((years - years.mean()) ** 2).sum())
    half = stats.t.ppf(0.975, len(points) - 2) * se
    assert r["doubling_months"] == pytest.approx(12 / slope, rel=1e-4)
    assert r["doubling_months_low"] == pytest.approx(12 / (slope + half), rel=1e-4)
    assert r["doubling_months_high"] == pytest.approx(12 / (slope - half), rel=1e-4)
    assert r["growth_per_year"] == pytest.approx(2**slope, rel=1e-4)
    # "AlexNet to AlphaGo Zero: a 300,000x increase"
    assert 2.5e5 < r["alphago_zero_over_alexnet"] < 4e5
    assert (outputs("compute_trend") / "compute_trend.svg").stat().st_size > 0


def test_tensor_core_gaps_against_float64():
    r = results("tensor_core")
    a, b, c = (np.array(r[k], dtype=np.float64) for k in "abc")
    d32, d16 = np.array(r["d"], dtype=np.float64), np.array(r["d_fp16"], dtype=np.float64)
    assert a.shape == b.shape == c.shape == (4, 4) == (r["size"], r["size"])
    # A and B are float16 values, C float32, D float32, the fp16 result float16
    assert np.array_equal(a.astype(np.float16), a) and np.array_equal(b.astype(np.float16), b)
    assert np.array_equal(c.astype(np.float32), c) and np.array_equal(d16.astype(np.float16), d16)
    reference = a @ b + c
    scale = np.abs(a) @ np.abs(b) + np.abs(c)
    u16, u32 = 2.0**-11, 2.0**-24
    gap32, gap16 = np.abs(d32 - reference), np.abs(d16 - reference)
    # the slide's two gaps, recomputed from the published matrices
    assert r["fp32_max_gap"] == pytest.approx(gap32.max(), rel=1e-6)
    assert r["fp16_max_gap"] == pytest.approx(gap16.max(), rel=1e-6)
    # non-zero, and inside the rounding bounds gamma_n * (|A||B| + |C|)
    assert gap16.max() > 0 and r["fp16_fp32_max_gap"] > 0
    assert np.all(gap16 <= 6 * u16 / (1 - 6 * u16) * scale)
    assert np.all(gap32 <= 5 * u32 / (1 - 5 * u32) * scale)
    assert r["fp16_within_bound"] and r["fp32_within_bound"]
    assert 0 < r["fp16_gap_over_bound"] < 1
    assert r["fp16_fp32_max_gap"] <= r["fp16_bound"] + r["fp32_bound"]
    assert r["fp16_eps"] == 2.0**-10 and r["fp32_eps"] == 2.0**-23
    # "fp32 accumulation ... an fp16 result N times further off"
    assert r["fp32_max_gap"] < r["fp16_max_gap"]
    assert r["gap_ratio"] == pytest.approx(r["fp16_max_gap"] / r["fp32_max_gap"])
    assert r["gap_ratio"] > 100


def test_matmul_throughput_below_peak():
    r = results("matmul_throughput")
    assert r["dtypes"] and "float32" in r["dtypes"]  # the slide quotes the float32 best
    assert set(r["gflops"]) == set(r["dtypes"]) and not set(r["dtypes"]) & set(r["unsupported"])
    for dtype, by_size in r["gflops"].items():
        assert sorted(int(n) for n in by_size) == r["sizes"]
        for n, value in by_size.items():
            assert value > 0, (dtype, n)
            if dtype in r["peak_gflops"]:  # "the fraction of the peak": below it
                assert value < r["peak_gflops"][dtype], (dtype, n, value)
        best = r["best"][dtype]
        assert best["gflops"] == max(by_size.values()) == by_size[str(best["size"])]
        if dtype in r["peak_gflops"]:
            assert best["fraction_of_peak"] == pytest.approx(best["gflops"] / r["peak_gflops"][dtype])
            assert 0 < best["fraction_of_peak"] < 1
            assert best["share_of_peak"] == f"{best['fraction_of_peak']:.0%} of the peak"
    # the slide's "this build ran on" and the manifest agree on the device
    assert r["device_name"]
    assert entry("matmul_throughput")["device"].startswith(r["platform"])
    if r["platform"] == "cpu" and r["peak_gflops"]:
        assert r["peak_how"].startswith("estimate:")
    text = (outputs("matmul_throughput") / "throughput.txt").read_text()
    assert [int(line.split()[0]) for line in text.splitlines()[1:-1]] == r["sizes"]
    assert module("matmul_throughput")["DETERMINISTIC"] is False  # timings: no byte rerun test


@pytest.mark.parametrize("vendor, family, flags, per_cycle", [
    ("AuthenticAMD", 25, "fma avx avx2 avx512f avx512_bf16", 32),  # Zen 4: 512-bit ops on 256-bit units
    ("GenuineIntel", 6, "fma avx avx2 avx512f", 64),
    ("GenuineIntel", 6, "fma avx avx2", 32),
    ("GenuineIntel", 6, "avx", 16),
])
def test_cpu_peak_estimate(vendor, family, flags, per_cycle):
    cpu_peak = module("matmul_throughput")["cpu_peak"]
    info = {"vendor_id": vendor, "cpu family": str(family), "flags": flags, "cpu MHz": "2000.000"}
    peaks, how = cpu_peak(info, 2)
    assert peaks["float32"] == pytest.approx(2 * 2.0 * per_cycle)  # cores × GHz × FLOP/cycle
    assert peaks["bfloat16"] == peaks["float32"] * (2 if "avx512_bf16" in flags else 1)
    assert f"× {per_cycle} float32" in how and how.startswith("estimate:")


def test_cpu_peak_unknown_without_flags_or_matrix_units():
    cpu_peak = module("matmul_throughput")["cpu_peak"]
    assert cpu_peak({}, 4)[0] == {}
    assert cpu_peak({"flags": "neon asimd", "cpu MHz": "2000"}, 4)[0] == {}
    peaks, _ = cpu_peak({"flags": "fma avx2 avx512f amx_bf16", "cpu MHz": "2000"}, 4)
    assert set(peaks) == {"float32"}


def test_gpu_peaks_by_device_kind():
    device_peak = module("matmul_throughput")["device_peak"]
    gpu = lambda kind: SimpleNamespace(platform="gpu", device_kind=kind)
    assert device_peak(gpu("NVIDIA H100 PCIe"))[0]["bfloat16"] == pytest.approx(756_000)
    assert device_peak(gpu("NVIDIA H100 80GB HBM3"))[0]["bfloat16"] == pytest.approx(989_400)
    assert device_peak(gpu("NVIDIA H200"))[0]["float16"] == pytest.approx(989_400)
    assert "bfloat16" not in device_peak(gpu("Tesla V100-SXM2-16GB"))[0]
    assert device_peak(gpu("Some future GPU"))[0] == {}


def test_dilated_conv_stack_receptive_field_is_16():
    r = results("dilated_conv_stack")
    assert r["dilations"] == [1, 2, 4, 8] and r["kernel_size"] == 2
    # the gradient's non-zero pattern: 16 inputs, the formula 1 + sum d (k - 1)
    assert r["receptive_field"] == 16 == r["formula"]
    assert r["formula"] == 1 + sum(d * (r["kernel_size"] - 1) for d in r["dilations"])
    assert r["seen_per_layer"] == [16, 8, 4, 2, 1]  # doubles at every layer
    assert r["contiguous"]
    assert r["last_seen_step"] == r["steps"] - 1 and r["first_seen_step"] == r["steps"] - 16
    out = outputs("dilated_conv_stack")
    assert r["frames"] == 5
    assert all((out / f"dilated_conv_stack_{i}.svg").stat().st_size > 0 for i in range(5))
    with Image.open(out / "dilated_conv_stack.gif") as gif:
        assert gif.n_frames == 5


@pytest.mark.parametrize("name", ["tensor_core", "dilated_conv_stack"])
def test_deterministic_demos_rerun_byte_for_byte(name, tmp_path):
    published = checksums(name)
    module(name)["main"](tmp_path)
    rerun = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert rerun == published
