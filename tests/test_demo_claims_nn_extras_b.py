"""The claims of deck 2's optimizer_paths, backprop_animation and minibatch demos hold."""

import runpy
from pathlib import Path

import pytest
from PIL import Image

from demo_helpers import finite

DEMOS = Path(__file__).resolve().parent.parent / "demos" / "02_neural_networks"


def run(name: str, out_dir: Path, **overrides) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    return runpy.run_path(str(DEMOS / f"{name}.py"), run_name="__demo__")["main"](out_dir, **overrides)


def test_optimizer_paths(tmp_path):
    r = run("optimizer_paths", tmp_path)
    assert (tmp_path / "optimizer_paths.svg").stat().st_size > 0
    assert (tmp_path / "optimizer_losses.svg").stat().st_size > 0
    assert finite(r)
    hits = r["steps_to_threshold"]
    # every optimizer gets below the threshold within the budget; Adam first, plain GD last
    assert all(r["reached"].values())
    assert hits["adam"] < hits["momentum"] < hits["gd"] < r["steps"]
    assert hits["gd"] > 2 * hits["momentum"]  # momentum is much faster at the same learning rate
    assert r["at_step"] == 200
    assert r["loss_at_step"]["gd"] > r["threshold"] > max(r["loss_at_step"]["momentum"],
                                                          r["loss_at_step"]["adam"])
    assert all(loss < r["threshold"] for loss in r["final_loss"].values())
    # GD is stable: its learning rate is below 2 / the largest curvature
    assert r["learning_rate"] < 2 / max(r["curvatures"])
    assert r["start_loss"] > 10


def test_backprop_animation(tmp_path):
    r = run("backprop_animation", tmp_path)
    assert finite(r)
    # 4 forward + 4 backward frames: numbered SVGs and a GIF at one second per frame
    assert r["frames"] == 8
    assert sorted(p.name for p in tmp_path.glob("backprop_*.svg")) == [f"backprop_{i}.svg" for i in range(8)]
    with Image.open(tmp_path / "backprop.gif") as gif:
        assert gif.n_frames == 8
        assert gif.info["duration"] == 1000
    # the cotangents from the vjp chain give jax.grad's parameter gradients, as does the δ recursion
    assert r["max_abs_diff"] < 1e-6
    assert r["max_abs_diff_hand"] < 1e-6
    # ½ squared error: L = ½(q − y)² and the output cotangent is q − y
    assert r["loss"] == pytest.approx(0.5 * (r["output"] - r["target"]) ** 2, rel=1e-5)
    norms = r["cotangent_norms"]
    assert norms["output"] == pytest.approx(abs(r["output"] - r["target"]), rel=1e-5)
    # the cotangents shrink from the output down to the input
    assert norms["output"] > norms["hidden2"] > norms["hidden1"] > norms["input"] > 0
    assert set(r["kernel_grad_norms"]) == {"W1", "W2", "W3"}
    text = (tmp_path / "backprop.txt").read_text()
    assert "jax.grad" in text and "dL/dW1" in text


def test_minibatch(tmp_path):
    r = run("minibatch", tmp_path)
    assert (tmp_path / "minibatch.svg").stat().st_size > 0
    assert finite(r)
    runs = r["runs"]
    assert r["n_train"] == 1258
    assert [runs[f"batch_{b}"]["steps_per_epoch"] for b in r["batch_sizes"]] == [157, 39, 4]
    for b in r["batch_sizes"]:
        assert runs[f"batch_{b}"]["updates"] == runs[f"batch_{b}"]["steps_per_epoch"] * r["epochs"]
    # at equal epochs: the smaller the batch, the lower the validation loss; 256 is far behind
    small, mid, big = (runs[f"batch_{b}"] for b in (8, 32, 256))
    assert small["final_val_loss"] < mid["final_val_loss"] < big["final_val_loss"]
    assert big["final_val_loss"] > 2 * mid["final_val_loss"]
    assert small["final_val_acc"] > 0.95 and big["final_val_acc"] < small["final_val_acc"]
    # at equal updates the curves nearly coincide (within 10%)
    at = [runs[f"batch_{b}"]["val_loss_at_common_updates"] for b in r["batch_sizes"]]
    assert r["common_updates"] == big["updates"]
    assert max(at) / min(at) < 1.1
