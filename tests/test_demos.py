"""Every demo in a tiny configuration: it has a caption, writes files, returns finite numbers.

Claims at full budget live in the per-deck `test_demo_claims_*.py` files.
"""

import ast
import math

import pytest

from handson.cache import discover
from handson.paths import DEMOS

from demo_helpers import load_demo

# Keyword overrides that make a demo fast; demos not listed run at their (cheap) defaults.
TINY = {
    "train_digits": {"epochs": 2},
    "train_cnn": {"epochs": 2},
    "conv_arithmetic": {"cases": ("padding_strides",)},
    "decision_regions": {"epochs": 2, "hidden_units": (2,)},
    "playground": {"frames": 1, "epochs_per_frame": 2},
    "losses": {"points": 21},
    "optimizer_paths": {"steps": 20},
    "minibatch": {"epochs": 2},
    "xor": {"epochs": 2},
    "softmax_likelihood": {"epochs": 2},
    "loss_slice": {"epochs": 1},
    "training_curves": {"epochs": 2},
    "overfitting": {"epochs": 2},
    "overfit_batch": {"steps": 3},
    "model_complexity": {"max_degree": 3},
    "learning_curve": {"sizes": (75, 150), "seeds": 1, "max_rounds": 2},
    "augmentation": {"sizes": (50,), "repeats": 1, "epochs": 1},
    "dropout": {"epochs": 2},
    "batch_norm": {"batch": 16},
    "gradient_flow": {"epochs": 2},
    "residual": {"epochs": 2},
    "lr_schedules": {"epochs": 2},
    "initialisation": {"samples": 100},
    "input_normalisation": {"epochs": 2},
    "weight_decay": {"epochs": 2},
    "matmul_throughput": {"sizes": (32, 64), "repeats": 1},
    "rnn_gradients": {"epochs": 1},
    "char_lstm": {"epochs": 1, "train_chars": 4096},
    "reversal_attention": {"epochs": 1, "n_train": 256},
    "transformer_reversal": {"epochs": 1, "n_train": 256},
    "skipgram": {"epochs": 1},
    "transfer_digits": {"draws": 1, "pretrain_epochs": 1, "few_shot_epochs": 2},
    "scaling_out": {"device_counts": (1,), "steps": 3},  # one CPU device in the test process
    "q_learning": {"episodes": 20},
}
DEMO_LIST = discover(DEMOS)


def numbers(value, where="results"):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from numbers(item, f"{where}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, value


def test_demo_names_are_unique_and_tiny_configs_exist():
    names = [demo.name for demo in DEMO_LIST]
    assert len(names) == len(set(names))
    assert set(TINY) <= set(names), set(TINY) - set(names)


@pytest.mark.parametrize("demo", DEMO_LIST, ids=lambda d: d.id)
def test_demo_contract(demo, tmp_path):
    tree = ast.parse(demo.path.read_text())
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[0].strip(), "the module docstring's first line is the caption"
    assert not [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)], \
        "no module-level work"
    module = load_demo(demo.path)
    results = module["main"](tmp_path, **TINY.get(demo.name, {}))
    assert isinstance(results, dict) and results
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written, "the demo wrote no file"
    bad = [(where, v) for where, v in numbers(results) if not math.isfinite(v)]
    assert not bad, bad
    for path in written:
        assert path.stat().st_size > 0, path
        if path.suffix == ".svg":
            assert b"<svg" in path.read_bytes()[:2000]
