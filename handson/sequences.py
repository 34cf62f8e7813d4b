"""Sequence models of deck 6 (architectures), shared by its demos and benchmarks/train_speed.py.

They train with `handson.training.fit` like every other model of the course: token ids in,
logits out, `(B, T)` integer targets. Recurrences run as one `jax.lax.scan` over time
inside fit's compiled step.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

BOS = 0  # token 0 starts the decoder; the sequences to reverse use tokens 1..vocab-1


def run_cell(cell: nnx.Module, xs: jax.Array, carry=None):
    """Apply an NNX recurrent cell along axis 1 of `xs` (B, T, D) -> (final carry, every carry).

    Every carry, not only every output: the LSTM's memory cells are part of its carry.
    """
    if carry is None:
        carry = cell.initialize_carry(xs[:, 0].shape, rngs=nnx.Rngs(0))  # zeros

    def step(carry, x_t):
        carry, _ = cell(carry, x_t)
        return carry, carry

    carry, carries = jax.lax.scan(step, carry, xs.swapaxes(0, 1))
    return carry, jax.tree.map(lambda c: c.swapaxes(0, 1), carries)


def token_loss(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean cross-entropy over every (sequence, position) of `model(x)` against `y` (B, T)."""
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


# ---------------------------------------------------------------------------- character LSTM
# --8<-- [start:char_lstm]
class CharLSTM(nnx.Module):
    """Characters -> embedding -> one LSTM layer -> next-character logits."""

    def __init__(self, vocab: int, embed: int, hidden: int, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab, embed, rngs=rngs)
        self.cell = nnx.OptimizedLSTMCell(embed, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, vocab, rngs=rngs)

    def memory(self, x):  # (B, T) ids -> cells c (B, T, H), outputs h (B, T, H)
        _, (c, h) = run_cell(self.cell, self.embed(x))
        return c, h

    def __call__(self, x):  # (B, T) -> (B, T, vocab)
        return self.out(self.memory(x)[1])
# --8<-- [end:char_lstm]


# ---------------------------------------------------------------------------- sequence to sequence
def reversal_data(rng: np.random.Generator, n: int, length: int, vocab: int) -> tuple:
    """n random sequences of tokens 1..vocab-1 and the same sequences reversed (int32)."""
    x = rng.integers(1, vocab, size=(n, length)).astype(np.int32)
    return x, x[:, ::-1].copy()


class Seq2Seq(nnx.Module):
    """Encoder-decoder for sequences of equal length: a bidirectional LSTM reads the input, an
    LSTM writes the output one token at a time, with or without attention over the encoder.

    `model(x, y)` trains with teacher forcing (the decoder reads the true previous token);
    `model(x)` decodes greedily (it reads its own previous prediction), as at test time.
    """

    def __init__(self, vocab: int, embed: int, hidden: int, attention: bool, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab, embed, rngs=rngs)
        self.forward_cell = nnx.OptimizedLSTMCell(embed, hidden, rngs=rngs)  # reads left to right
        self.backward_cell = nnx.OptimizedLSTMCell(embed, hidden, rngs=rngs)  # right to left
        self.bridge = nnx.Linear(2 * hidden, 2 * hidden, rngs=rngs)  # encoder end -> decoder (c, h)
        self.decoder = nnx.OptimizedLSTMCell(embed + 2 * hidden, hidden, rngs=rngs)
        self.query = nnx.Linear(hidden, 2 * hidden, use_bias=False, rngs=rngs)
        self.out = nnx.Linear(hidden + 2 * hidden, vocab, rngs=rngs)
        # 1.0: the decoder reads its attention context; 0.0: it gets zeros instead. A number,
        # not a Python flag, so both variants are one compiled program (compiled once).
        self.attention = nnx.Variable(jnp.asarray(float(attention)))

    def encode(self, x):  # (B, S) -> states (B, S, 2H), decoder's first carry
        e = self.embed(x)

        def step(carries, e_pair):  # both directions in one loop
            (fwd, bwd), (e_f, e_b) = carries, e_pair
            fwd, _ = self.forward_cell(fwd, e_f)
            bwd, _ = self.backward_cell(bwd, e_b)
            return (fwd, bwd), (fwd[1], bwd[1])

        zeros = self.forward_cell.initialize_carry(e[:, 0].shape, rngs=nnx.Rngs(0))
        time_major = e.swapaxes(0, 1)
        ((_, h_f), (_, h_b)), (fwd, bwd) = jax.lax.scan(step, (zeros, zeros), (time_major, time_major[::-1]))
        states = jnp.concatenate([fwd, bwd[::-1]], -1).swapaxes(0, 1)  # state t: left of t and right of t
        c, h = jnp.split(jnp.tanh(self.bridge(jnp.concatenate([h_f, h_b], -1))), 2, -1)
        return states, (c, h)

    # --8<-- [start:attend]
    def attend(self, h, states):  # decoder state (B, H), encoder states (B, S, 2H)
        # how well each input position matches what the decoder looks for
        scores = jnp.einsum("bd,bsd->bs", self.query(h), states)  # (B, S)
        weights = jax.nn.softmax(scores, axis=-1)  # positive, sum to 1
        context = jnp.einsum("bs,bsd->bd", weights, states)  # weighted mean
        return context, weights
    # --8<-- [end:attend]

    def decode(self, states, carry, y=None):  # -> logits (B, T, vocab), weights (B, T, S)
        batch, length = states.shape[:2]

        def step(carry, y_prev):
            (c, h), token, context = carry
            token = token if y_prev is None else y_prev  # greedy, or teacher forcing
            (c, h), _ = self.decoder((c, h), jnp.concatenate([self.embed(token), context], -1))
            context, weights = self.attend(h, states)
            # without attention everything the decoder knows came through its first carry
            context, weights = self.attention[...] * context, self.attention[...] * weights
            logits = self.out(jnp.concatenate([h, context], -1))
            return ((c, h), jnp.argmax(logits, -1), context), (logits, weights)

        start = (carry, jnp.full((batch,), BOS), jnp.zeros((batch, states.shape[-1])))
        if y is None:
            _, (logits, weights) = jax.lax.scan(lambda s, _: step(s, None), start, None, length)
        else:  # the previous true token: BOS, then y shifted right
            y_prev = jnp.concatenate([jnp.full((batch, 1), BOS), y[:, :-1]], 1)
            _, (logits, weights) = jax.lax.scan(step, start, y_prev.T)
        return logits.swapaxes(0, 1), weights.swapaxes(0, 1)

    def __call__(self, x, y=None):
        states, carry = self.encode(x)
        return self.decode(states, carry, y)[0]


def teacher_forced_loss(model: Seq2Seq, x: jax.Array, y: jax.Array) -> jax.Array:
    """Cross-entropy of the next token when the decoder reads the true previous tokens."""
    return optax.softmax_cross_entropy_with_integer_labels(model(x, y), y).mean()


def plot_alignment(x, weights, xlabel: str, ylabel: str):
    """Attention weights (outputs x inputs) as a heatmap, the tokens on the axes (reversal)."""
    from matplotlib.figure import Figure  # only the demos draw: the benchmarks skip the import

    fig = Figure(figsize=(6.2, 5.6))
    ax = fig.add_subplot()
    ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(x)), [str(t) for t in x])
    ax.set_yticks(range(len(x)), [str(t) for t in x[::-1]])  # the outputs: x reversed
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(length=0, labelsize=16)
    ax.grid(False)
    return fig


# ---------------------------------------------------------------------------- transformer
# --8<-- [start:transformer]
class TransformerBlock(nnx.Module):
    """Self-attention, then an MLP on each position; both add to their input."""

    def __init__(self, dim: int, heads: int, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(dim, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(heads, dim, decode=False,
                                                rngs=rngs)
        self.norm2 = nnx.LayerNorm(dim, rngs=rngs)
        self.mlp = nnx.Sequential(nnx.Linear(dim, 4 * dim, rngs=rngs), nnx.relu,
                                  nnx.Linear(4 * dim, dim, rngs=rngs))

    def __call__(self, x, sow_weights=False):  # (B, T, dim) -> (B, T, dim)
        # every position reads from all the others ...
        x = x + self.attention(self.norm1(x), sow_weights=sow_weights)
        return x + self.mlp(self.norm2(x))  # ... then each one alone
# --8<-- [end:transformer]


class Transformer(nnx.Module):
    """Token and position embeddings -> TransformerBlock -> logits for every position."""

    def __init__(self, vocab: int, length: int, dim: int, heads: int, rngs: nnx.Rngs):
        self.embed = nnx.Embed(vocab, dim, rngs=rngs)
        self.position = nnx.Embed(length, dim, rngs=rngs)
        self.block = TransformerBlock(dim, heads, rngs)
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.out = nnx.Linear(dim, vocab, rngs=rngs)

    def __call__(self, x, sow_weights=False):  # (B, T) -> (B, T, vocab)
        h = self.embed(x) + self.position(jnp.arange(x.shape[1]))
        return self.out(self.norm(self.block(h, sow_weights)))
