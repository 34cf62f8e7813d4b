"""The architecture zoo (deck 6's `zoo` slide): every size it draws is that of a model a deck trains.

Checked two ways, on the published results (tests/published.py): against the numbers the training
demos themselves published, and against the models' classes built abstractly here
(`nnx.eval_shape`, no weights). The zoo loads the MLP and the CNN from other decks' folders, an
import the runner's cache does not follow: if one of those models changes, these tests fail
until the zoo is rerun (`python -m handson figures architecture_zoo --force`).
"""

import jax
import numpy as np
from flax import nnx

from demo_helpers import demo_runner
from handson.paths import DEMOS
from handson.sequences import CharLSTM, Seq2Seq, Transformer
from published import outputs, results

RERUN = "the zoo is out of date: python -m handson figures architecture_zoo --force"


def n_params(model: nnx.Module) -> int:
    return int(sum(np.prod(p.shape) for p in jax.tree.leaves(nnx.state(model, nnx.Param))))


def demo(deck: str, name: str) -> dict:
    return demo_runner(DEMOS / deck)[0](name)


def zoo() -> dict:
    return results("architecture_zoo")


def test_one_figure_with_five_models():
    assert zoo()["models"] == 5
    assert (outputs("architecture_zoo") / "zoo.svg").stat().st_size > 0


def test_mlp_is_deck_2s_digits_mlp():
    z, trained = zoo()["mlp"], results("train_digits")
    model = nnx.eval_shape(lambda: demo("02_neural_networks", "train_digits")["mlp"](nnx.Rngs(0)))
    assert z["params"] == trained["params"] == n_params(model), RERUN
    assert z["sizes"] == trained["layers"], RERUN
    assert z["labels"] == [str(s) for s in z["sizes"]]


def test_cnn_is_the_exercise_cnn():
    z, exercise = zoo()["cnn"], results("exercise_cnn")
    module = demo("03_convolutional_networks", "exercise_cnn")
    model = nnx.eval_shape(lambda: module["cnn"](nnx.Rngs(0)))
    assert z["params"] == exercise["total"] == n_params(model), RERUN
    assert z["volumes"] == exercise["volumes"] == [list(v) for v in module["volumes"](model)], RERUN
    assert z["labels"] == exercise["labels"]  # the same sizes, written the same way


def test_lstm_is_the_character_lstm():
    z, trained = zoo()["lstm"], results("char_lstm")
    c = demo("06_architectures", "char_lstm")
    assert (z["vocab"], z["hidden"]) == (trained["vocab"], trained["hidden"])
    model = nnx.eval_shape(lambda: CharLSTM(trained["vocab"], c["EMBED"], c["HIDDEN"], nnx.Rngs(0)))
    assert z["params"] == n_params(model)
    assert z["embed"] == c["EMBED"]
    assert z["labels"] == [str(z["vocab"]), str(z["embed"]), str(z["hidden"]), str(z["vocab"])]


def test_encoder_decoder_is_the_reversal_model_with_attention():
    z, trained = zoo()["seq2seq"], results("reversal_attention")
    r = demo("06_architectures", "reversal_attention")
    assert z["params"] == trained["attention"]["params"]
    assert z["params"] == n_params(nnx.eval_shape(
        lambda: Seq2Seq(r["VOCAB"], r["EMBED"], r["HIDDEN"], True, nnx.Rngs(0))))
    assert z["hidden"] == z["encoder"] == trained["hidden"]  # 64 units each way, 64 in the decoder
    assert z["context"] == 2 * trained["hidden"]  # the attention reads both directions' states
    assert z["labels"] == [str(z["vocab"]), str(z["embed"]), f"2×{z['encoder']}", str(z["context"]),
                           str(z["hidden"]), str(z["vocab"])]


def test_transformer_is_the_reversal_transformer():
    z, trained = zoo()["transformer"], results("transformer_reversal")
    t = demo("06_architectures", "transformer_reversal")
    assert z["params"] == trained["params"]
    assert z["params"] == n_params(nnx.eval_shape(
        lambda: Transformer(t["VOCAB"], t["LENGTH"], t["DIM"], t["HEADS"], nnx.Rngs(0))))
    assert (z["dim"], z["heads"]) == (trained["dim"], trained["heads"])
    assert z["heads"] * z["head_dim"] == z["dim"]
    assert z["mlp"] == 4 * z["dim"]  # the block's MLP widens by 4, as in handson/sequences.py
    assert z["labels"][2] == f"{z['heads']}×{z['head_dim']}"
