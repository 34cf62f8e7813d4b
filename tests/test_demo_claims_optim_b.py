"""The claims deck 5's second half puts on slides: gradient flow and clipping, residual nets,
learning-rate schedules and sweep, initialisation, input normalisation, weight decay."""

import runpy
from pathlib import Path

import numpy as np
import pytest

from demo_helpers import finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "05_common_optimizations"


def run(name: str, out_dir: Path, **overrides) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    return runpy.run_path(str(DEMOS / f"{name}.py"), run_name="__demo__")["main"](out_dir, **overrides)


def demo(name: str, **overrides):
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory):
        out = tmp_path_factory.mktemp(name)
        result = run(name, out, **overrides)
        assert finite(result)
        return out, result
    return fixture


gradient_flow = demo("gradient_flow")
residual = demo("residual")
lr_schedules = demo("lr_schedules")
initialisation = demo("initialisation")
input_normalisation = demo("input_normalisation")
weight_decay = demo("weight_decay")


def test_gradient_flow(gradient_flow):
    out, r = gradient_flow
    assert (out / "gradient_flow.svg").stat().st_size > 0
    assert (out / "clipping.svg").stat().st_size > 0
    for net in ("sigmoid", "relu", "residual"):
        assert len(r[f"{net}_norms"]) == r["layers"] == r["depth"] + 2
    sigmoid = np.array(r["sigmoid_norms"])
    # sigmoid: vanishing, monotonically, by many orders of magnitude (measured 3.5e-14)
    assert np.all(np.diff(sigmoid) > 0)
    assert r["sigmoid_first_over_last"] < 1e-10
    assert r["sigmoid_first_over_last"] == pytest.approx(sigmoid[0] / sigmoid[-1])
    assert 3 < r["sigmoid_shrink_per_layer"] < 6  # sigmoid' <= 1/4
    # ReLU (He) and residual: every layer within one order of magnitude (measured 2.0 and 5.9)
    assert r["relu_max_over_min"] < 10
    assert r["residual_max_over_min"] < 10
    assert min(r["residual_norms"]) > 1e3 * max(sigmoid[:5])


def test_clipping(gradient_flow):
    _, r = gradient_flow
    assert r["epochs"] == 20
    # without clipping the loss jumps back up (measured +1.19) and ends high; clipped it falls
    assert r["noclip_largest_jump"] > 5 * r["clip_largest_jump"]
    assert r["clip_final_train_loss"] < 0.5 * r["noclip_final_train_loss"]
    assert r["clip_final_val_acc"] > 0.85 > 0.5 > r["noclip_final_val_acc"]
    assert r["clip_mean_grad_norm"] > 1  # the cap (1.0) is active on most steps


def test_residual(residual):
    out, r = residual
    assert (out / "residual.svg").stat().st_size > 0
    assert (out / "residual_block.svg").stat().st_size > 0
    assert r["depth"] == 30 and r["epochs"] == 20
    plain, res = r["plain"], r["residual"]
    assert res["first_val_loss"] < 0.6 * plain["first_val_loss"]  # faster from the start
    assert res["best_val_loss"] < 0.7 * plain["best_val_loss"]
    assert res["best_epoch"] < plain["best_epoch"]
    assert res["best_val_acc"] > plain["best_val_acc"]
    assert res["final_train_loss"] < plain["final_train_loss"]


def test_lr_schedules(lr_schedules):
    out, r = lr_schedules
    assert (out / "lr_schedules.svg").stat().st_size > 0
    assert (out / "lr_sweep.svg").stat().st_size > 0
    peak, decay = r["peak"], r["keras_decay"]
    # Keras's decay: lr / (1 + decay * t) -> divided by 10 at t = 9 / decay = 90
    assert r["keras_tenth_step"] == round(9 / decay)
    assert r["final_lr"]["keras_decay"] == pytest.approx(peak / (1 + decay * (r["steps"] - 1)), rel=1e-5)
    assert r["final_lr"]["constant"] == pytest.approx(peak)
    assert r["final_lr"]["step"] == pytest.approx(peak / 100)
    assert r["lr_at_100"]["warmup_cosine"] == pytest.approx(peak)  # end of the warmup
    assert r["final_lr"]["warmup_cosine"] < 1e-6
    assert r["lr_at_100"]["exponential"] == pytest.approx(peak * 0.5 ** 0.5, rel=1e-5)


def test_lr_sweep(lr_schedules):
    _, r = lr_schedules
    assert r["learning_rates"] == [1e-4, 1e-3, 1e-2, 1e-1]
    final = dict(zip(r["learning_rates"], r["final_val_loss"]))
    best = dict(zip(r["learning_rates"], r["best_val_loss"]))
    assert r["best_lr"] == 1e-2 == min(best, key=best.get)
    assert final[1e-4] > 3 * final[1e-2]  # too small: far from done
    assert final[1e-1] > 2 * final[1e-2]  # too large: jumps around
    assert best[1e-1] > best[1e-2]
    # warmup + cosine at the best peak: about the same loss as the constant rate (0.130 vs 0.135)
    assert r["schedule_peak"] == r["best_lr"]
    assert r["schedule_final_val_loss"] == pytest.approx(final[1e-2], rel=0.15)


def test_initialisation(initialisation):
    out, r = initialisation
    assert (out / "init.svg").stat().st_size > 0
    width = r["width"]
    std = r["kernel_std"]
    assert std["lecun_normal"] == pytest.approx((1 / width) ** 0.5, rel=0.03)
    assert std["glorot_uniform"] == pytest.approx((2 / (2 * width)) ** 0.5, rel=0.03)
    assert std["he_normal"] == pytest.approx((2 / width) ** 0.5, rel=0.03)
    assert r["kernel_max_abs"]["glorot_uniform"] <= (6 / (2 * width)) ** 0.5
    # ReLU halves the signal's power each layer unless the variance is 2 / fan_in
    assert len(r["stds"]["he_normal"]) == r["layers"]
    assert 0.5 < r["final_std"]["he_normal"] < 1.5
    for name in ("lecun_normal", "glorot_uniform"):
        assert r["final_std"][name] < 0.05
        ratios = np.array(r["stds"][name][1:]) / np.array(r["stds"][name][:-1])
        assert np.allclose(ratios, 2 ** -0.5, rtol=0.15)


def test_input_normalisation(input_normalisation):
    out, r = input_normalisation
    assert (out / "normalisation.svg").stat().st_size > 0
    wine, digits = r["wine"], r["digits"]
    assert wine["largest_std_feature"] == "proline" and wine["std_ratio"] > 1000
    assert wine["raw"]["first_val_loss"] > 10
    assert wine["standardised"]["final_val_loss"] < 0.2
    assert wine["raw"]["final_val_loss"] > 5 * wine["standardised"]["final_val_loss"]
    assert wine["standardised"]["final_val_acc"] > wine["raw"]["final_val_acc"] + 0.1
    # digits: one scale for every pixel, standardising changes little
    ratio = digits["raw"]["final_val_loss"] / digits["standardised"]["final_val_loss"]
    assert 0.67 < ratio < 1.5


def test_weight_decay(weight_decay):
    out, r = weight_decay
    assert (out / "weight_decay.svg").stat().st_size > 0
    assert r["n_train"] == 150 and r["params"] == 85_002
    off, on = r["no_decay"], r["decay"]
    assert on["weight_norm"] < 0.8 * off["weight_norm"]
    assert on["hidden_kernel_std"] < off["hidden_kernel_std"]
    assert off["final_train_loss"] < 0.01  # it overfits: train loss near 0
    assert off["final_val_loss"] > off["best_val_loss"] * 1.05  # the creep back up
    assert on["final_val_loss"] < off["final_val_loss"]
    assert on["best_val_loss"] == pytest.approx(off["best_val_loss"], rel=0.1)
