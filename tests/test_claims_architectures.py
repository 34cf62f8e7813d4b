"""The claims deck 6 (slides/06_architectures.md) makes, checked on the published results.

Each test reads what the slides show (tests/published.py) and fails if a sentence on a slide
would be false; nothing is rerun here.
"""

import math

import numpy as np
import pytest

from published import outputs, results


def files(name: str, *expected: str) -> None:
    out = outputs(name)
    for file in expected:
        assert (out / file).stat().st_size > 0, f"{name}: {file} missing or empty"


def test_mel_filters():
    r = results("mel_filters")
    files("mel_filters", "mel_filters.svg", "log_mel.svg")
    assert (r["n_mels"], r["n_fft"], r["frame_ms"], r["hop_ms"]) == (40, 512, 25, 10)
    assert r["n_frames"] == (r["sample_rate"] - 400) // 160 + 1  # 1 s of 25 ms frames, 10 ms apart
    # "equally spaced on the mel scale": the filter edges are, converted back to mel
    mel = 2595 * np.log10(1 + np.array(r["edges_hz"]) / 700)
    assert len(mel) == r["n_mels"] + 2
    assert np.allclose(np.diff(mel), np.diff(mel)[0], rtol=1e-6)
    assert mel[-1] == pytest.approx(2595 * np.log10(1 + 8000 / 700))
    # "narrow at low frequency, wide at high"; the lowest covers only a few FFT bins
    assert r["highest_width_hz"] > 10 * r["lowest_width_hz"]
    assert r["lowest_width_hz"] / r["bin_hz"] < 4


def test_vanishing_gradients_through_time():
    r = results("rnn_gradients")
    files("rnn_gradients", "gradient_by_lag.svg", "unrolled.svg")
    rnn, gru = r["rnn"], r["gru"]
    assert r["distractors"] == r["lag"] - 1
    assert rnn["val_acc"] < 0.35  # "vanilla RNN ... (chance: 25%)"
    assert gru["val_acc"] > 0.97  # the GRU solves it
    for cell in (rnn, gru):
        assert len(cell["grad_init"]) == len(cell["grad_trained"]) == r["lag"]
        assert cell["grad_init_first"] == cell["grad_init"][-1]
        assert cell["grad_trained_first"] == cell["grad_trained"][-1]
        # "both cells start with a gradient that shrinks geometrically with the lag"
        assert cell["grad_init"][-1] < 1e-2 * cell["grad_init"][0]
    # after training, the gradient from the symbol: the GRU's is large, the RNN's is not
    assert gru["grad_trained_first"] > 50 * rnn["grad_trained_first"]
    assert gru["grad_trained_first"] > 1e3 * gru["grad_init_first"]  # "rises"
    assert gru["grad_trained_first"] > 0.05


def test_gru_equations_match_flax():
    r = results("gru_check")
    assert r["max_abs_diff"] < 1e-5
    assert r["compared"] == r["batch"] * r["steps"] * r["hidden"]
    assert r["params"] == 3 * (r["features"] * r["hidden"] + r["hidden"] + r["hidden"] ** 2)
    text = (outputs("gru_check") / "gru_check.txt").read_text()
    assert f"{r['max_abs_diff']:.1e}" in text


def test_lstm_cell_drawing():
    r = results("lstm_cell")
    files("lstm_cell", "lstm_cell.svg")
    assert r["per_gate"] == (r["inputs"] + r["hidden"]) * r["hidden"] + r["hidden"]
    assert r["params"] == 4 * r["per_gate"]


def test_char_lstm_tracks_depth_and_quotes():
    r = results("char_lstm")
    files("char_lstm", "depth_cell.svg", "quote_cell.svg")
    assert abs(r["depth_r"]) > 0.9  # the slide's correlation
    assert abs(r["depth_r"]) >= r["depth_r_second"]  # the chosen cell is the best one
    assert abs(r["quote_r"]) > 0.8
    assert r["depth_cell"] != r["quote_cell"]  # "another cell"
    assert 0 <= r["depth_cell"] < r["hidden"] and 0 <= r["quote_cell"] < r["hidden"]
    # "predicts almost as well as possible": within 0.1 nats of the generator's entropy
    assert r["entropy"] < r["val_loss"] < r["entropy"] + 0.1
    assert r["val_loss"] < r["first_val_loss"]


def test_attention_beats_no_attention_on_reversal():
    r = results("reversal_attention")
    files("reversal_attention", "alignment.svg", "accuracy.svg", "bidirectional.svg",
          "encoder_decoder.svg")
    att, plain = r["attention"], r["plain"]
    assert att["params"] == plain["params"]  # "the same parameters"
    assert att["val_acc"] > 0.97 and att["sequences_right"] > 0.9
    assert att["val_acc"] > plain["val_acc"] + 0.3
    assert plain["sequences_right"] < 0.2
    assert att["acc_by_epoch"][2] > 0.9  # "easy: ... after 3 epochs"
    assert len(att["acc_by_epoch"]) == len(plain["acc_by_epoch"]) == r["epochs"]
    assert max(plain["acc_by_epoch"]) < min(att["acc_by_epoch"][2:])
    # without attention, the first digits written come out better than the rest
    assert plain["acc_by_position"][0] > np.mean(plain["acc_by_position"][1:]) + 0.1
    # the alignment's mass lies on the anti-diagonal
    assert r["antidiagonal_mass"] > 0.9
    assert r["argmax_on_antidiagonal"] > 0.95
    assert r["example_output"] == r["example_input"][::-1]


def test_transformer_on_the_same_task():
    r, rnn = results("transformer_reversal"), results("reversal_attention")
    files("transformer_reversal", "attention_map.svg")
    assert (r["length"], r["n_train"], r["n_val"]) == (rnn["length"], rnn["n_train"], rnn["n_val"])
    assert r["val_acc"] > 0.99
    assert r["val_acc"] >= rnn["attention"]["val_acc"]  # at least as good
    assert r["epochs"] < rnn["epochs"]  # in fewer epochs
    assert r["antidiagonal_mass"] > 0.7
    assert r["argmax_on_antidiagonal"] > 0.95


def test_skipgram_recovers_the_structure():
    r = results("skipgram")
    files("skipgram", "word_vectors.svg", "neighbours.txt")
    assert r["neighbours_right"] == r["nouns"] == 8
    assert r["analogies"] > 0 and r["analogies_right"] == r["analogies"]
    assert r["king_man_woman"] == "queen"


def test_transfer_gap_sign_and_spread():
    r = results("transfer_digits")
    files("transfer_digits", "transfer.svg")
    assert (r["per_class"], r["few_shot_images"], r["draws"]) == (10, 50, 5)
    assert r["pretrain_val_acc"] > 0.95
    scratch, conv, dense = r["scratch"], r["conv"], r["dense"]
    for variant in (scratch, conv, dense):
        assert len(variant["acc"]) == r["draws"]
        assert variant["mean"] == pytest.approx(np.mean(variant["acc"]))
        assert variant["std"] == pytest.approx(np.std(variant["acc"]))
        assert variant["std"] < 0.05  # the spread the slide reports is small ...
    # ... next to the gaps: transfer loses on every draw, the deeper frozen layer more
    assert scratch["mean"] > conv["mean"] > dense["mean"]
    assert conv["gap_max"] < 0 and dense["gap_max"] < 0
    assert conv["gap_min"] <= conv["gap_mean"] <= conv["gap_max"]
    assert dense["gap_mean"] < conv["gap_mean"]
    assert -conv["gap_mean"] > 2 * scratch["std"]


def test_scaling_out():
    r = results("scaling_out")
    files("scaling_out", "throughput.svg")
    assert r["device_counts"] == [1, 2, 4, 8], "run make figures with the demo's ENV (8 devices)"
    assert r["shard_rows"] == [r["global_batch"] // n for n in r["device_counts"]]
    assert r["shards"] == r["device_counts"]
    assert r["all_reduces"][0] == 0 and min(r["all_reduces"][1:]) >= 1
    assert r["diff_max"] < 1e-5  # the sharded step equals the one-device step
    assert r["diff_first_step"][0] == r["diff_final"][0] == 0
    assert r["speedup_largest"] == pytest.approx(r["images_per_s"][-1] / r["images_per_s"][0])
    if r["platform"] == "cpu":  # simulated devices share the cores: no speed-up
        assert r["speedup_largest"] < 1.2
    assert np.ptp(r["final_loss"]) < 1e-5  # the same training, whatever the device count


def test_q_learning():
    r = results("q_learning")
    files("q_learning", "q_learning.svg")
    assert r["greedy_reaches_goal"]
    assert r["greedy_moves"] == r["shortest_moves"] == 6
    assert 1 <= r["first_success"] <= 100
    assert r["mean_return_last_100"] > r["mean_return_first_100"]
    assert 0 < r["mean_return_last_100"] < 1  # exploration still falls into holes
    assert math.isclose(r["gamma"], 0.9) and math.isclose(r["epsilon"], 0.2)
