"""A zoo of the networks this course trains, each drawn from its own model's sizes.

One row per architecture, its layers left to right as columns of cells, after F. van Veen's
"Neural Network Zoo" (Asimov Institute, 2016): the digits MLP of deck 2 (64 → 64 → 10, 4,810
parameters), the exercise CNN of deck 3 (32×32×1 → three convolutions and pools → 10,
47,645), the character LSTM of deck 6 (17 characters → 16 → LSTM 64 → 17, 22,113), deck 6's
encoder-decoder with attention (a bidirectional LSTM of 2 × 64 reads the digits, a 64-unit LSTM
writes them back while attending over the 128-number encoder states; 121,770) and its
Transformer (32 dimensions, 2 heads of 16, an MLP of 128; 13,802). The number of cells drawn
grows with the logarithm of the layer's size; the size printed under each column, and every
parameter count, is read from the model the deck trains, built with `nnx.eval_shape` (no
weights) and pushed through `jax.eval_shape` (no data).
"""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.patches import Arc, Circle, FancyArrowPatch
from matplotlib.textpath import TextPath

import char_lstm  # deck 6's demos, beside this file: the constants they train with
import reversal_attention
import transformer_reversal
from handson.demo import standalone
from handson.figures import save, style
from handson.sequences import CharLSTM, Seq2Seq, Transformer

SEED = 0  # seed of the abstract models (eval_shape draws no weight)
# The other decks' demo files this one loads (the runner's cache follows them: docs/CONTRACTS.md)
USES = ("02_neural_networks/train_digits.py", "03_convolutional_networks/exercise_cnn.py")
VOCAB_SAMPLE = 4096  # characters of the LSTM's language read to find its alphabet
COLORS = {"input": "#e0a800", "embed": "#8a8a8a", "dense": "#0b794b", "conv": "#6c4ab6",
          "pool": "#b7a6e3", "recurrent": "#0368bb", "attention": "#2aa198",
          "output": "#c20d4f"}  # one colour per kind of cell (the legend's order)
LEGEND = {"input": "input", "embed": "embedding", "dense": "dense", "conv": "convolution",
          "pool": "pool", "recurrent": "LSTM", "attention": "attention", "output": "output"}
WIDTH = 11.6  # figure width (inches; one data unit is one inch)
ROW, LINE = 0.9, 0.27  # height of a row without its sizes, and of one line of them
NAME_WIDTH = 2.8  # left margin for the row names
LEGEND_HEIGHT = 0.55  # the legend's line at the bottom
RADIUS = 0.075  # drawn radius of a cell
PITCH = 0.2  # vertical distance between the cells of a column


def deck_demo(deck: str, name: str):
    """A demo module of another deck, loaded from its file (`02_neural_networks` is no Python
    package name). Each one is listed in USES, so the runner reruns the zoo when it changes."""
    assert f"{deck}/{name}.py" in USES, f"add {deck}/{name}.py to USES"
    path = Path(__file__).resolve().parents[1] / deck / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"zoo_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def n_params(model: nnx.Module) -> int:
    return int(sum(np.prod(p.shape) for p in jax.tree.leaves(nnx.state(model, nnx.Param))))


def output_shape(model: nnx.Module, shape: tuple, dtype=jnp.int32) -> tuple:
    """The shape of model(x) for one example of `shape`, batch dimension left out."""
    x = jax.ShapeDtypeStruct((1, *shape), dtype)
    return nnx.eval_shape(lambda m, x: m(x), model, x).shape[1:]


# ---------------------------------------------------------------------------- the five models
def mlp_row() -> dict:
    train_digits = deck_demo("02_neural_networks", "train_digits")
    model = nnx.eval_shape(lambda: train_digits.mlp(nnx.Rngs(SEED)))
    linears = [layer for layer in model.layers if isinstance(layer, nnx.Linear)]
    sizes = [linears[0].kernel.shape[0]] + [layer.kernel.shape[1] for layer in linears]
    assert output_shape(model, (sizes[0],), jnp.float32) == (sizes[-1],)
    kinds = ["input"] + ["dense"] * (len(sizes) - 2) + ["output"]
    return {"name": "MLP", "params": n_params(model), "sizes": sizes,
            "columns": [(k, str(s), s) for k, s in zip(kinds, sizes)]}


def cnn_row() -> dict:
    exercise_cnn = deck_demo("03_convolutional_networks", "exercise_cnn")
    model = nnx.eval_shape(lambda: exercise_cnn.cnn(nnx.Rngs(SEED)))
    volumes = exercise_cnn.volumes(model)  # (h, w, c) after each conv and pool, then (10,)
    kinds = ["input"] + ["conv", "pool"] * ((len(volumes) - 2) // 2) + ["output"]
    columns = [(kind, "{}×{}\n×{}".format(*v) if len(v) == 3 else str(v[0]), v[-1])
               for kind, v in zip(kinds, volumes)]
    return {"name": "CNN", "params": n_params(model), "volumes": [list(v) for v in volumes],
            "columns": columns}


def lstm_row() -> dict:
    text = char_lstm.language(np.random.default_rng(char_lstm.SEED), VOCAB_SAMPLE)[0]
    vocab = len(set(text))  # the first characters of the text char_lstm trains on
    model = nnx.eval_shape(lambda: CharLSTM(vocab, char_lstm.EMBED, char_lstm.HIDDEN,
                                            nnx.Rngs(SEED)))
    embed = model.embed.embedding.shape[1]
    hidden = model.out.kernel.shape[0]
    assert output_shape(model, (char_lstm.WINDOW,)) == (char_lstm.WINDOW, vocab)
    return {"name": "LSTM", "params": n_params(model), "vocab": vocab, "embed": embed,
            "hidden": hidden,
            "columns": [("input", str(vocab), vocab), ("embed", str(embed), embed),
                        ("recurrent", str(hidden), hidden), ("output", str(vocab), vocab)]}


def seq2seq_row() -> dict:
    r = reversal_attention
    model = nnx.eval_shape(lambda: Seq2Seq(r.VOCAB, r.EMBED, r.HIDDEN, True, nnx.Rngs(SEED)))
    vocab, embed = model.embed.embedding.shape
    encoder = model.forward_cell.hidden_features  # per direction
    hidden, context = model.query.kernel.shape  # decoder state -> a query over the states
    assert output_shape(model, (r.LENGTH,)) == (r.LENGTH, vocab)
    return {"name": "Encoder-\ndecoder", "params": n_params(model), "vocab": vocab,
            "embed": embed, "encoder": encoder, "context": context, "hidden": hidden,
            "columns": [("input", str(vocab), vocab), ("embed", str(embed), embed),
                        ("recurrent", f"2×{encoder}", context),
                        ("attention", str(context), context),
                        ("recurrent", str(hidden), hidden), ("output", str(vocab), vocab)]}


def transformer_row() -> dict:
    t = transformer_reversal
    model = nnx.eval_shape(lambda: Transformer(t.VOCAB, t.LENGTH, t.DIM, t.HEADS,
                                               nnx.Rngs(SEED)))
    vocab, dim = model.embed.embedding.shape
    attention = model.block.attention
    mlp = model.block.mlp.layers[0].kernel.shape[1]
    assert output_shape(model, (t.LENGTH,)) == (t.LENGTH, vocab)
    heads = f"{attention.num_heads}×{attention.head_dim}"
    return {"name": "Transformer", "params": n_params(model), "vocab": vocab, "dim": dim,
            "heads": attention.num_heads, "head_dim": attention.head_dim, "mlp": mlp,
            "columns": [("input", str(vocab), vocab), ("embed", str(dim), dim),
                        ("attention", heads, dim), ("dense", str(mlp), mlp),
                        ("dense", str(dim), dim), ("output", str(vocab), vocab)],
            "skips": [(1, 2), (2, 4)]}  # x + attention(x), then + mlp(x): around each part


# ---------------------------------------------------------------------------- drawing
def cells(size: int) -> int:
    """How many cells stand for a layer of `size` units: 1 for 1, 4 from about 100 on."""
    return int(min(4, 1 + round(np.log2(size) / 2.5)))


def headroom(row: dict) -> float:
    return 0.2 if row.get("skips") else 0.0  # for the arcs of the skip connections


def row_height(row: dict) -> float:
    lines = max(label.count("\n") + 1 for _, label, _ in row["columns"])
    return headroom(row) + ROW + LINE * lines


def connect(ax, xs: list[float], ys: list[np.ndarray], kinds: list[str]) -> None:
    """Lines between neighbouring columns: all to all, or only nearby cells (conv and pool)."""
    for k in range(1, len(xs)):
        left, right = ys[k - 1], ys[k]
        for a, ya in enumerate(left):
            for b, yb in enumerate(right):
                offset = a / max(len(left) - 1, 1) - b / max(len(right) - 1, 1)  # in [-1, 1]
                if kinds[k] not in ("conv", "pool") or abs(offset) < 0.5:
                    ax.plot([xs[k - 1], xs[k]], [ya, yb], color="#c8c8c8", lw=1, zorder=1)


def draw_row(ax, row: dict, top: float, step: float) -> None:
    """A model's name and parameter count, then its layers as columns of cells, sizes below."""
    centre = top - headroom(row) - 0.4  # the cells' middle
    ax.text(0.1, centre + 0.12, row["name"], ha="left", va="center", fontsize=18, linespacing=1.0)
    ax.text(0.1, centre - 0.38, f"{row['params']:,} parameters", ha="left", va="center",
            fontsize=16, color="#555555")
    kinds = [kind for kind, _, _ in row["columns"]]
    xs = [NAME_WIDTH + k * step for k in range(len(kinds))]
    ys = [centre + PITCH * (np.arange(cells(size)) - (cells(size) - 1) / 2)
          for _, _, size in row["columns"]]
    connect(ax, xs, ys, kinds)
    for a, b in row.get("skips", []):  # residual connections: an arc over the part skipped
        ax.add_patch(FancyArrowPatch((xs[a], ys[a][-1] + RADIUS), (xs[b], ys[b][-1] + RADIUS),
                                     connectionstyle="arc3,rad=-0.22", arrowstyle="-|>",
                                     mutation_scale=12, color="#555555", lw=1.5, zorder=2))
    below = min(column[0] for column in ys) - RADIUS - 0.06  # the sizes, on one line
    for (kind, label, _), x, column in zip(row["columns"], xs, ys):
        for y in column:
            ax.add_patch(Circle((x, y), RADIUS, fc=COLORS[kind], ec="white", lw=1, zorder=3))
            if kind == "recurrent":  # a loop back into the cell: its state
                ax.add_patch(Arc((x + RADIUS, y + RADIUS), 1.6 * RADIUS, 1.6 * RADIUS,
                                 theta1=-90, theta2=180, color=COLORS[kind], lw=1.4, zorder=2))
        ax.text(x, below, label, ha="center", va="top", fontsize=16, linespacing=1.0)


def draw(rows: list[dict]) -> Figure:
    height = sum(row_height(row) for row in rows) + LEGEND_HEIGHT
    fig = Figure(figsize=(WIDTH, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(0, height)
    ax.axis("off")
    # one step between columns for every row: the longest (the CNN) fills the width
    step = (WIDTH - NAME_WIDTH - 0.45) / (max(len(row["columns"]) for row in rows) - 1)
    top = height
    for row in rows:
        draw_row(ax, row, top, step)
        top -= row_height(row)
    x = 0.2
    for kind, text in LEGEND.items():  # one line, each entry as long as its text
        ax.add_patch(Circle((x, 0.27), RADIUS, fc=COLORS[kind], ec="white", zorder=3))
        ax.text(x + 0.13, 0.27, text, ha="left", va="center", fontsize=16)
        x += 0.13 + TextPath((0, 0), text, size=16).get_extents().width / 72 + 0.3
    return fig


def main(out_dir: Path) -> dict:
    rows = [mlp_row(), cnn_row(), lstm_row(), seq2seq_row(), transformer_row()]
    with style():
        save(draw(rows), out_dir / "zoo.svg")
    keys = ["mlp", "cnn", "lstm", "seq2seq", "transformer"]
    drop = ("name", "columns", "skips")
    results = {key: {k: v for k, v in row.items() if k not in drop} for key, row in zip(keys, rows)}
    for key, row in zip(keys, rows):
        results[key]["labels"] = [label.replace("\n", "") for _, label, _ in row["columns"]]
    return {"models": len(rows), **results}


if __name__ == "__main__":
    standalone(main, __file__)
