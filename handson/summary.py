"""Keras-style model summaries for Flax NNX: `print(summary(model, input_shape=(3,)))`.

Output shapes come from `nnx.eval_shape` / `jax.eval_shape` on a batch of 1, printed as `None`
like Keras: no FLOPs, no data, no random draws, and the layers are left untouched. Parameters
are counted like Keras: `nnx.Param` is trainable, `nnx.BatchStat` (batch norm's running mean and
variance) non-trainable, and the random-number state that `nnx.Dropout(rngs=...)` holds does
not count. Plain functions in the layer list (`nnx.relu`, `partial(nnx.max_pool, ...)`, a
`flatten`) get a row with 0 parameters, as Keras's `Activation`, `MaxPool2D`, `Flatten` do.
An abstract model, `nnx.eval_shape(lambda: make_model(nnx.Rngs(0)))`, works too: its weights
are never computed, which is instant even for large models.
"""

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

WIDTHS = (25, 20, 7)  # columns "Layer (type)", "Output Shape", "Param #": 52 characters


class Row(NamedTuple):
    name: str  # e.g. "linear_1"
    type: str  # class name of a module, function name of a function
    shape: tuple  # output shape, batch as None: (None, 4)
    params: int  # trainable + non-trainable


@dataclasses.dataclass(frozen=True)
class Summary:
    rows: list[Row]
    total: int
    trainable: int
    non_trainable: int
    text: str  # the table, ending with a newline

    def __str__(self) -> str:
        return self.text

    @property
    def lines(self) -> list[str]:
        """The text's lines, newlines kept: `"".join(s.lines[:k])` is a prefix of the table."""
        return self.text.splitlines(keepends=True)

    @property
    def row_lines(self) -> list[int]:
        """1-based line number of each row in `text` (for `--8<-- "summary.txt:1:N"` includes)."""
        return [4 + 2 * i for i in range(len(self.rows))]

    def partial(self, k: int) -> str:
        """The table up to row k and the rule under it; `partial(len(rows))` is the whole text."""
        return self.text if k >= len(self.rows) else "".join(self.lines[:self.row_lines[k - 1] + 1])

    def write(self, path: Path, reveal: bool = False) -> list[Path]:
        """Write the text to `path`; with `reveal`, also `<stem>_1<suffix>`... one row more each."""
        path.write_text(self.text)
        paths = [path]
        for k in range(1, len(self.rows) + 1) if reveal else ():
            paths.append(path.with_name(f"{path.stem}_{k}{path.suffix}"))
            paths[-1].write_text(self.partial(k))
        return paths


def layer_type(layer) -> str:
    """Class name of a module (`Linear`), name of a function (`max_pool` for a partial of it)."""
    if isinstance(layer, nnx.Module):
        return type(layer).__name__
    while isinstance(layer, functools.partial):
        layer = layer.func
    return getattr(layer, "__name__", type(layer).__name__).strip("<>")


def snake_case(name: str) -> str:
    """`BatchNorm` -> `batch_norm`, `LSTMCell` -> `lstm_cell`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def count(layer, kind) -> int:
    if not isinstance(layer, nnx.Module):
        return 0
    return sum(leaf.size for leaf in jax.tree.leaves(nnx.state(layer, kind)))


def summary(layers: nnx.Sequential | Sequence[nnx.Module | Callable], input_shape: Sequence[int],
            names: Sequence[str] | None = None, dtype=jnp.float32, widths=WIDTHS) -> Summary:
    """Summarise `layers` applied in order to inputs of `input_shape` (batch excluded)."""
    layers = list(layers.layers if isinstance(layers, nnx.Sequential) else layers)
    if names is None:  # Keras 2.2 style: linear_1, linear_2, conv_1, ... numbered per type
        seen: dict[str, int] = {}
        names = []
        for layer in layers:
            kind = snake_case(layer_type(layer))
            seen[kind] = seen.get(kind, 0) + 1
            names.append(f"{kind}_{seen[kind]}")
    if len(names) != len(layers):
        raise ValueError(f"{len(names)} names for {len(layers)} layers")

    x = jax.ShapeDtypeStruct((1, *input_shape), dtype)
    rows, trainable, non_trainable = [], 0, 0
    for name, layer in zip(names, layers):
        if isinstance(layer, nnx.Module):
            x = nnx.eval_shape(lambda layer, x: layer(x), layer, x)
        else:
            x = jax.eval_shape(layer, x)
        shapes = [(None, *leaf.shape[1:]) for leaf in jax.tree.leaves(x)]
        p, s = count(layer, nnx.Param), count(layer, nnx.BatchStat)
        shape = shapes[0] if len(shapes) == 1 else tuple(shapes)  # a tuple of shapes for pytrees
        rows.append(Row(name, layer_type(layer), shape, p + s))
        trainable, non_trainable = trainable + p, non_trainable + s

    def line(name, shape, params):  # like Keras: a cell is cut to leave one space before the next
        return (name[:widths[0] - 1].ljust(widths[0]) + shape[:widths[1] - 1].ljust(widths[1])
                + params.rjust(widths[2])).rstrip() + "\n"

    width = sum(widths)
    text = "_" * width + "\n" + line("Layer (type)", "Output Shape", "Param #") + "=" * width + "\n"
    cells = [(f"{row.name} ({row.type})", str(row.shape), str(row.params)) for row in rows]
    text += ("_" * width + "\n").join(line(*row) for row in cells)
    text += "=" * width + "\n"
    text += f"Total params: {trainable + non_trainable:,}\n"
    text += f"Trainable params: {trainable:,}\nNon-trainable params: {non_trainable:,}\n"
    return Summary(rows, trainable + non_trainable, trainable, non_trainable, text)
