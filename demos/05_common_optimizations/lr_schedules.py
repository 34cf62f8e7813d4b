"""Learning-rate schedules from optax, and a learning-rate sweep on digits.

First figure: five schedules over 1,000 steps, all starting from (or peaking at) 0.01:
constant; exponential decay (halved every 200 steps); step decay (divided by 10 at steps 400
and 800); linear warmup over 100 steps then cosine decay to 0; and Keras's old
`Adam(lr=0.01, decay=0.1)`, which is lr / (1 + 0.1 t) with t in steps: already down to 0.001 at
step 90, and to 0.0001 at step 1,000. Second figure: the digits MLP (64 -> 64 -> 10) trained
with adam at four learning rates, same init and batches, 30 epochs: 1e-4 is far from done
(validation loss 0.94), 1e-3 is still improving (0.15), 1e-2 is there within a few epochs and
gives the lowest loss (0.126, epoch 21), and 1e-1 is too large: the loss jumps between 0.18 and
0.6 and ends at 0.44. A fifth run peaks at 1e-2 with a 3-epoch warmup and cosine decay: it ends
where the constant 1e-2 does (0.130 vs 0.135), on a flat curve instead of a wobbling one.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for everything random in this demo
STEPS = 1000  # steps drawn in the schedule figure
PEAK = 0.01  # starting (or peak) learning rate of every schedule
KERAS_DECAY = 0.1  # Keras's `decay` argument, as in the original decks' Adam(lr=0.01, decay=0.1)
LEARNING_RATES = (1e-4, 1e-3, 1e-2, 1e-1)  # the sweep
SCHEDULE_PEAK = 1e-2  # peak of the warmup + cosine run added to the sweep
HIDDEN = 64  # hidden units of the digits MLP
BATCH_SIZE = 32  # digits per gradient step
EPOCHS = 30  # passes over the training digits per learning rate
# What a speaker may change live (`make present`, docs/CONTRACTS.md): does 1e-4 catch up with more
# epochs? and the warmup + cosine run with a higher or lower peak (each value compiles once).
KNOBS = {"epochs": {"type": "int", "min": 1, "max": 60, "warm": 1},
         "schedule_peak": {"type": "float", "min": 1e-4, "max": 1.0, "log": True,
                           "label": "schedule's peak rate", "warm_extra": [0.1, 0.001]}}


def schedules() -> dict:
    """name -> optax schedule (a function step -> learning rate)."""
    # --8<-- [start:schedules]
    return {
        "constant": optax.constant_schedule(PEAK),
        "exponential": optax.exponential_decay(
            PEAK, transition_steps=200, decay_rate=0.5),
        "step": optax.piecewise_constant_schedule(
            PEAK, {400: 0.1, 800: 0.1}),  # x0.1 at 400, 800
        "warmup_cosine": optax.warmup_cosine_decay_schedule(
            init_value=0.0, peak_value=PEAK,
            warmup_steps=100, decay_steps=STEPS),
        # Keras Adam(lr=0.01, decay=0.1): lr / (1 + 0.1 t)
        "keras_decay":
            lambda step: PEAK / (1 + KERAS_DECAY * step),
    }
    # --8<-- [end:schedules]


def mlp(rngs: nnx.Rngs) -> nnx.Sequential:
    return nnx.Sequential(nnx.Linear(64, HIDDEN, rngs=rngs), nnx.relu,
                          nnx.Linear(HIDDEN, 10, rngs=rngs))


def loss_fn(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def plot_schedules(curves: dict) -> Figure:
    labels = {"warmup_cosine": "warmup + cosine", "keras_decay": f"Keras decay={KERAS_DECAY:g}"}
    fig = Figure(figsize=(9.4, 3.2))
    ax = fig.add_subplot()
    for name, lr in curves.items():
        ax.plot(np.arange(len(lr)), lr, label=labels.get(name, name))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, -2))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_sweep(runs: dict, scheduled, schedule_peak: float) -> Figure:
    fig = Figure(figsize=(4.6, 4.6))
    ax = fig.add_subplot()
    epochs = np.arange(1, len(scheduled.val_loss) + 1)
    for lr, history in runs.items():
        ax.plot(epochs, history.val_loss, label=f"{lr:g}")
    ax.plot(epochs, scheduled.val_loss, "--", color="C2", lw=2,
            label=f"{schedule_peak:g} + schedule")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation loss")
    ax.legend(loc="upper center", bbox_to_anchor=(0.45, -0.22), ncols=2, title="learning rate")
    return fig


def main(out_dir: Path, epochs: int = EPOCHS, schedule_peak: float = SCHEDULE_PEAK) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))

    # 1. Evaluate every schedule on steps 0..STEPS-1 (one jitted, vectorised call each).
    steps = jnp.arange(STEPS)
    curves = {name: np.asarray(jax.jit(jax.vmap(s))(steps), np.float64)
              for name, s in schedules().items()}

    # 2. The sweep: same model init, same batches, only the learning rate changes.
    train, val = digits(SEED)
    runs = {}
    for lr in LEARNING_RATES:
        # --8<-- [start:sweep]
        model = mlp(nnx.Rngs(model_key))
        runs[lr] = fit(model, optax.adam(lr), loss_fn, train=train, val=val,
                       epochs=epochs, batch_size=BATCH_SIZE, key=train_key)
        # --8<-- [end:sweep]

    # 3. The best constant rate's peak, with warmup then cosine decay over the whole run.
    # --8<-- [start:use]
    total = epochs * (len(train[0]) // BATCH_SIZE)  # steps in the run
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=schedule_peak,
        warmup_steps=total // 10, decay_steps=total)
    tx = optax.adam(learning_rate=schedule)  # a schedule goes where a number would
    # --8<-- [end:use]
    scheduled = fit(mlp(nnx.Rngs(model_key)), tx, loss_fn, train=train, val=val,
                    epochs=epochs, batch_size=BATCH_SIZE, key=train_key)

    with style():
        save(plot_schedules(curves), out_dir / "lr_schedules.svg")
        save(plot_sweep(runs, scheduled, schedule_peak), out_dir / "lr_sweep.svg")

    best_lr = min(runs, key=lambda lr: min(runs[lr].val_loss))
    keras = curves["keras_decay"]
    return {
        "steps": STEPS,
        "peak": PEAK,
        "keras_decay": KERAS_DECAY,
        # first step at which Keras decay has divided the learning rate by 10, and its last value
        "keras_tenth_step": int(np.argmax(keras <= PEAK / 10)),
        "keras_final_lr": float(keras[-1]),
        "final_lr": {name: float(lr[-1]) for name, lr in curves.items()},
        "lr_at_100": {name: float(lr[100]) for name, lr in curves.items()},
        "learning_rates": [float(lr) for lr in LEARNING_RATES],
        "epochs": len(runs[LEARNING_RATES[0]].val_loss),
        "final_val_loss": [h.val_loss[-1] for h in runs.values()],
        "best_val_loss": [min(h.val_loss) for h in runs.values()],
        "best_epoch": [h.best_epoch for h in runs.values()],
        "final_val_acc": [h.val_acc[-1] for h in runs.values()],
        "best_lr": float(best_lr),
        "schedule_peak": schedule_peak,
        "schedule_final_val_loss": scheduled.val_loss[-1],
        "schedule_best_val_loss": min(scheduled.val_loss),
        "schedule_final_val_acc": scheduled.val_acc[-1],
        "val_loss": [h.val_loss for h in runs.values()],  # per learning rate, per epoch
        "schedule_val_loss": scheduled.val_loss,
    }


if __name__ == "__main__":
    standalone(main, __file__)
