"""Deck 5's second half (gradient flow and clipping, residual nets, learning-rate schedules and
sweep, initialisation, input normalisation, weight decay), checked on the published results.

Nothing is retrained: `results(name)` reads slides/_generated/manifest.json and fails with
"run make figures" when a record is missing or stale.
"""

import numpy as np
import pytest

from published import results


def rises(curve: list[float]) -> float:
    """Total upward movement of a curve (0 for a curve that never goes up)."""
    return float(np.clip(np.diff(curve), 0, None).sum())


def test_vanishing_gradients():
    r = results("gradient_flow")
    for net in ("sigmoid", "relu", "residual"):
        assert len(r[f"{net}_norms"]) == r["layers"] == r["depth"] + 2
    sigmoid = np.array(r["sigmoid_norms"])
    # sigmoid: shrinks at every layer on the way back, by many orders of magnitude
    assert np.all(np.diff(sigmoid) > 0)
    assert r["sigmoid_first_over_last"] < 1e-10
    assert 3 < r["sigmoid_shrink_per_layer"] < 6  # sigma' <= 1/4, times the weights
    # ReLU with He init keeps every layer within a small factor; the residual net does no better
    assert r["relu_max_over_min"] < 3
    assert r["relu_max_over_min"] <= r["residual_max_over_min"] < 10


def test_clipping_caveat_and_effect():
    r = results("gradient_flow")
    # the caveat on the slide: a cap far below the typical norm, biting in every epoch
    assert r["clip_mean_grad_norm"] > 10 * r["max_norm"]
    assert r["clip_min_epoch_grad_norm"] > 4 * r["max_norm"]
    # notes: without clipping the loss jumps back up; with it, it falls further and smoothly
    assert r["noclip_largest_jump"] > 5 * r["clip_largest_jump"]
    assert r["clip_final_train_loss"] < 0.5 * r["noclip_final_train_loss"]


def test_residual_two_differences():
    """Notes: swapped initialisations explode (residual) or vanish (plain) before any training."""
    std = results("residual")["init_std"]
    assert 0.1 < std["plain"] < 10 and 0.1 < std["residual"] < 10
    assert std["residual_he_init"] > 1e4
    assert std["plain_small_init"] < 1e-6


def test_residual_trained():
    r = results("residual")
    plain, res = r["plain"], r["residual"]
    assert res["first_val_loss"] < 0.6 * plain["first_val_loss"]  # much faster from the start
    assert res["best_val_loss"] < 0.7 * plain["best_val_loss"]
    assert res["best_epoch"] < r["epochs"] and res["final_val_loss"] > res["best_val_loss"]  # overfits
    assert res["final_train_loss"] < 1e-2
    # the plain net: lowest at its last epoch, bumpily, still behind in accuracy
    assert plain["best_epoch"] == r["epochs"] and rises(plain["val_loss"]) > 0.1
    assert plain["final_val_acc"] < res["final_val_acc"]


def test_lr_schedules():
    r = results("lr_schedules")
    peak, decay, steps = r["peak"], r["keras_decay"], r["steps"]

    def keras(t: int) -> float:  # the slide's formula, in float64
        return peak / (1 + decay * t)

    # "divided by 10 after keras_tenth_step steps": the first step at which it is a tenth
    tenth = r["keras_tenth_step"]
    assert keras(tenth) == pytest.approx(peak / 10, rel=1e-6) and keras(tenth - 1) > peak / 10
    assert r["lr_at_100"]["keras_decay"] == pytest.approx(keras(100), rel=1e-6)
    # "keras_final_lr after 1,000 steps": the rate of the last drawn step (t = 999), which
    # reads the same as the rate after the 1,000th
    assert r["keras_final_lr"] == r["final_lr"]["keras_decay"] == pytest.approx(keras(steps - 1), rel=1e-6)
    assert f"{r['keras_final_lr']:.0e}" == f"{keras(steps):.0e}"
    assert r["final_lr"]["constant"] == pytest.approx(peak)
    assert r["lr_at_100"]["warmup_cosine"] == pytest.approx(peak) and r["final_lr"]["warmup_cosine"] < 1e-6


def test_lr_sweep_answer():
    r = results("lr_schedules")
    rates, final = r["learning_rates"], np.array(r["final_val_loss"])
    best = rates.index(r["best_lr"])
    assert rates == sorted(rates) and 0 < best < len(rates) - 1  # neither end wins
    assert int(np.argmin(final)) == best  # the bold row
    assert final[0] > 3 * final[best]  # too small: slow
    curves = r["val_loss"]
    assert rises(curves[-1]) > 3 * rises(curves[best])  # too large: noisy
    assert final[-1] > 2 * final[best]
    # notes: the schedule ends near the constant rate, on a flatter curve
    assert r["schedule_final_val_loss"] == pytest.approx(final[best], rel=0.15)
    assert rises(r["schedule_val_loss"]) < rises(curves[best])


def test_initialisation():
    r = results("initialisation")
    width, std = r["width"], r["kernel_std"]
    assert std["lecun_normal"] == pytest.approx((1 / width) ** 0.5, rel=0.03)
    assert std["glorot_uniform"] == pytest.approx((2 / (2 * width)) ** 0.5, rel=0.03)
    assert std["he_normal"] == pytest.approx((2 / width) ** 0.5, rel=0.03)
    # ReLU halves the signal's power at each layer unless the variance is 2 / fan_in
    assert 0.5 < r["final_std"]["he_normal"] < 1.5
    for name in ("lecun_normal", "glorot_uniform"):
        assert r["final_std"][name] < 0.05
        ratios = np.array(r["stds"][name][1:]) / np.array(r["stds"][name][:-1])
        assert np.allclose(ratios, 2 ** -0.5, rtol=0.15)


def test_input_normalisation():
    r = results("input_normalisation")
    wine, digits = r["wine"], r["digits"]
    assert wine["largest_std_feature"] == "proline" and 100 < wine["largest_std"] < 1000
    assert wine["raw"]["first_val_loss"] > 10  # "huge"
    assert wine["raw"]["final_val_loss"] > 5 * wine["standardised"]["final_val_loss"]
    assert wine["standardised"]["final_val_acc"] > wine["raw"]["final_val_acc"] + 0.1
    ratio = digits["raw"]["final_val_loss"] / digits["standardised"]["final_val_loss"]
    assert 0.67 < ratio < 1.5  # digits: one scale for every pixel, little change


def test_weight_decay():
    r = results("weight_decay")
    off, on = r["no_decay"], r["decay"]
    assert on["weight_norm"] < 0.8 * off["weight_norm"]  # smaller weights
    assert off["final_train_loss"] < 0.01 and off["final_val_loss"] > 1.05 * off["best_val_loss"]
    # a slower creep up of the validation loss, but about the same lowest value
    assert on["final_val_loss"] - on["best_val_loss"] < off["final_val_loss"] - off["best_val_loss"]
    assert on["best_val_loss"] == pytest.approx(off["best_val_loss"], rel=0.1)
