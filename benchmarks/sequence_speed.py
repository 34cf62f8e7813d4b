"""Deck 6's sequence models for benchmarks/train_speed.py: data and one trainer per framework.

Two models, the same sizes and data in the three frameworks (train_speed.py runs them beside
the MLP and the CNN, interleaved, and reports tokens/s):
  lstm       the character LSTM of demos/06_architectures/char_lstm.py: embedding 16, one LSTM
             layer of 64 cells, next-character logits over 17 characters; windows of 64
             characters of the demo's synthetic bracket language, 1,024 windows, batch 32
  attention  the Transformer of demos/06_architectures/transformer_reversal.py: token and
             position embeddings (32), one block (2-head self-attention, MLP 32-128-32, two
             LayerNorms, residuals), a last LayerNorm, logits for each of 12 positions; 4,000
             random sequences of 12 digits to reverse, batch 64
  ours   handson.sequences.CharLSTM / Transformer trained by handson.training.fit; the LSTM
         data-parallel over every XLA host device (fit's `devices=`: train_speed.py starts one
         per core), the Transformer on one device (split, its short steps lose more in the
         all-reduce than they gain)
  keras  Embedding + LSTM(return_sequences=True) + Dense / a functional model with
         keras.layers.MultiHeadAttention; compile(adam) + fit
  torch  nn.Embedding + nn.LSTM(batch_first) + nn.Linear / nn.MultiheadAttention(batch_first);
         a plain loop over torch.randperm slices
Every framework counts the tokens it trains on (targets per epoch); ours drops the last
incomplete batch. Adam 3e-3 (the demos' rate) everywhere.
"""

import runpy
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEED = 0  # the data, the models, the shuffles
LEARNING_RATE = 3e-3  # adam, as in the demos
SIZES = {  # model -> sizes shared by the three frameworks
    "lstm": {"vocab": 17, "embed": 16, "hidden": 64, "length": 64, "n": 1024, "batch": 32},
    "attention": {"vocab": 10, "dim": 32, "heads": 2, "length": 12, "n": 4000, "batch": 64},
}
TITLES = {
    "lstm": "character LSTM (embed 16, LSTM 64, 17 characters), windows of 64",
    "attention": "Transformer block (dim 32, 2 heads, MLP 128), 12 positions",
}
MODELS = tuple(SIZES)


def make_data() -> dict:
    """Arrays for the .npz of train_speed.py: x_<model>, y_<model> (int32)."""
    from handson.sequences import reversal_data

    lstm = SIZES["lstm"]
    demo = runpy.run_path(str(ROOT / "demos" / "06_architectures" / "char_lstm.py"), run_name="bench")
    text = demo["language"](np.random.default_rng(SEED), lstm["n"] * lstm["length"] + 1)[0]
    vocab = sorted(set(text) | set("ABCabcdefghij ()\""))
    assert len(vocab) == lstm["vocab"], vocab
    x_lstm, y_lstm = demo["windows"](np.array([vocab.index(c) for c in text], np.int32), lstm["length"])
    att = SIZES["attention"]
    x_att, y_att = reversal_data(np.random.default_rng(SEED), att["n"], att["length"], att["vocab"])
    return {"x_lstm": x_lstm, "y_lstm": y_lstm, "x_attention": x_att, "y_attention": y_att}


def load(data, model: str) -> tuple[np.ndarray, np.ndarray]:
    return data[f"x_{model}"], data[f"y_{model}"]


# ---------------------------------------------------------------------------- ours
DATA_PARALLEL = {"lstm": True, "attention": False}  # model -> ours splits its batches over the devices


def train_ours(model: str, x, y, epochs: int, one_device: bool = False) -> dict:
    """`one_device`: the LSTM on one device too (fit's default), an information row."""
    import jax
    import optax
    from flax import nnx

    from handson.sequences import CharLSTM, Transformer, token_loss
    from handson.training import fit

    s = SIZES[model]
    start = time.perf_counter()
    rngs = nnx.Rngs(SEED)
    net = (CharLSTM(s["vocab"], s["embed"], s["hidden"], rngs) if model == "lstm"
           else Transformer(s["vocab"], s["length"], s["dim"], s["heads"], rngs))
    ends = []
    devices = jax.devices() if DATA_PARALLEL[model] and not one_device else None
    history = fit(net, optax.adam(LEARNING_RATE), token_loss, train=(x, y), epochs=epochs,
                  batch_size=s["batch"], key=jax.random.key(SEED), devices=devices,
                  on_epoch=lambda epoch, logs: ends.append(time.perf_counter()))
    return {"start": start, "ends": ends, "images": len(x) // s["batch"] * s["batch"] * x.shape[1],
            "loss": history.train_loss[-1]}


# ---------------------------------------------------------------------------- keras
def keras_model(model: str):
    import keras
    from keras import layers

    s = SIZES[model]
    if model == "lstm":
        return keras.Sequential([keras.Input((s["length"],), dtype="int32"),
                                 layers.Embedding(s["vocab"], s["embed"]),
                                 layers.LSTM(s["hidden"], return_sequences=True),
                                 layers.Dense(s["vocab"])])

    class TokenAndPosition(layers.Layer):
        def __init__(self):
            super().__init__()
            self.token = layers.Embedding(s["vocab"], s["dim"])
            self.position = layers.Embedding(s["length"], s["dim"])

        def call(self, x):
            return self.token(x) + self.position(keras.ops.arange(s["length"]))

    tokens = keras.Input((s["length"],), dtype="int32")
    h = TokenAndPosition()(tokens)
    a = layers.LayerNormalization(epsilon=1e-6)(h)
    h = h + layers.MultiHeadAttention(s["heads"], s["dim"] // s["heads"])(a, a)
    m = layers.LayerNormalization(epsilon=1e-6)(h)
    h = h + layers.Dense(s["dim"])(layers.Dense(4 * s["dim"], activation="relu")(m))
    logits = layers.Dense(s["vocab"])(layers.LayerNormalization(epsilon=1e-6)(h))
    return keras.Model(tokens, logits)


def keras_epoch_clock(ends: list):
    """A Keras callback that appends the time each epoch ends to `ends` (train_speed's models too)."""
    import keras

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = float(logs["loss"])  # waits for the epoch's last step
            ends.append(time.perf_counter())

    return EpochEnd()


def train_keras(model: str, x, y, epochs: int) -> dict:
    import keras

    ends = []
    start = time.perf_counter()
    keras.utils.set_random_seed(SEED)
    net = keras_model(model)
    net.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = net.fit(x, y, batch_size=SIZES[model]["batch"], epochs=epochs, shuffle=True,
                      verbose=0, callbacks=[keras_epoch_clock(ends)])
    return {"start": start, "ends": ends, "images": x.size, "loss": history.history["loss"][-1]}


# ---------------------------------------------------------------------------- torch
def torch_model(model: str):
    import torch
    from torch import nn

    s = SIZES[model]
    if model == "lstm":
        class CharLSTM(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(s["vocab"], s["embed"])
                self.lstm = nn.LSTM(s["embed"], s["hidden"], batch_first=True)
                self.out = nn.Linear(s["hidden"], s["vocab"])

            def forward(self, x):
                return self.out(self.lstm(self.embed(x))[0])
        return CharLSTM()

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            d = s["dim"]
            self.embed, self.position = nn.Embedding(s["vocab"], d), nn.Embedding(s["length"], d)
            self.norm1, self.norm2, self.norm = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
            self.attention = nn.MultiheadAttention(d, s["heads"], batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.ReLU(), nn.Linear(4 * d, d))
            self.out = nn.Linear(d, s["vocab"])
            self.register_buffer("positions", torch.arange(s["length"]))

        def forward(self, x):
            h = self.embed(x) + self.position(self.positions)
            a = self.norm1(h)
            h = h + self.attention(a, a, a, need_weights=False)[0]
            h = h + self.mlp(self.norm2(h))
            return self.out(self.norm(h))
    return Transformer()


def torch_epochs(net, x, y, batch: int, epochs: int, learning_rate: float, loss_of) -> tuple[list, float]:
    """A plain PyTorch loop (Adam, shuffled slices of pre-made tensors), train_speed's models too:
    the time each epoch ends, and the last epoch's mean loss. `loss_of(outputs, targets)`."""
    import torch

    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate)
    ends, loss = [], float("nan")
    for _ in range(epochs):
        order, total = torch.randperm(len(x)), 0.0
        for i in range(0, len(x), batch):
            rows = order[i:i + batch]
            optimizer.zero_grad()
            batch_loss = loss_of(net(x[rows]), y[rows])
            batch_loss.backward()
            optimizer.step()
            total += batch_loss.item()
        loss = total / -(-len(x) // batch)
        ends.append(time.perf_counter())
    return ends, loss


def train_torch(model: str, x, y, epochs: int) -> dict:
    import torch
    from torch import nn

    start = time.perf_counter()
    torch.manual_seed(SEED)
    net = torch_model(model)
    batch, vocab = SIZES[model]["batch"], SIZES[model]["vocab"]
    cross_entropy = nn.CrossEntropyLoss()
    x, y = torch.from_numpy(x).long(), torch.from_numpy(y).long()
    ends, loss = torch_epochs(net, x, y, batch, epochs, LEARNING_RATE,
                              lambda logits, target: cross_entropy(logits.reshape(-1, vocab), target.reshape(-1)))
    return {"start": start, "ends": ends, "images": x.numel(), "loss": loss}
