"""Dropout in a conv net: Conv → Dropout → Conv → Dropout on a 9×9×1 input, and its summary.

Two 'VALID' 3×3 convolutions (1 → 2 → 4 channels), each followed by `nnx.Dropout(0.25)`:
9×9×1 → 7×7×2 → 5×5×4. The convolutions have 3·3·1·2 + 2 = 20 and 3·3·2·4 + 4 = 76
parameters, the dropout layers none: 96 in all, as in Keras. Each dropout layer holds the
random-number state it draws its masks from (a key and a counter); that state is not a
parameter and is not counted.
"""

from pathlib import Path

import jax
from flax import nnx

from handson.demo import standalone
from handson.summary import summary

SEED = 0  # seed of the (abstract) weights and of the dropout masks' random stream
INPUT_SHAPE = (9, 9, 1)  # height, width, channels of one input
RATE = 0.25  # share of the activations dropout sets to zero during training


# --8<-- [start:model]
def convnet(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(
        nnx.Conv(1, 2, (3, 3), padding="VALID", rngs=rngs),  # -> 7×7×2
        nnx.Dropout(RATE, rngs=rngs),  # zeroes 25% while training
        nnx.Conv(2, 4, (3, 3), padding="VALID", rngs=rngs),  # -> 5×5×4
        nnx.Dropout(RATE, rngs=rngs),
    )
# --8<-- [end:model]


def main(out_dir: Path) -> dict:
    # An abstract model: shapes and counts without computing any weight.
    model = nnx.eval_shape(lambda: convnet(nnx.Rngs(SEED)))
    table = summary(model, input_shape=INPUT_SHAPE)
    table.write(out_dir / "summary.txt")
    rng_values = sum(leaf.size for leaf in jax.tree.leaves(nnx.state(model, nnx.RngState)))
    return {
        "rows": [row.name for row in table.rows],
        "shapes": [list(row.shape[1:]) for row in table.rows],
        "params": [row.params for row in table.rows],
        "total": table.total,
        "trainable": table.trainable,
        "non_trainable": table.non_trainable,
        "rng_state_values": rng_values,  # keys and counters held by the dropout layers
        "rate": RATE,
    }


if __name__ == "__main__":
    standalone(main, __file__)
