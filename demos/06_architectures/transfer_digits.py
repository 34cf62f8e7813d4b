"""Transfer learning, measured: do features learned on digits 0-4 help to learn 5-9 from 50 images?

A small CNN (two 3x3 conv layers, a 64-unit dense layer) first learns digits 0-4 from their
634 training images (99% held out). Then the task changes to 5-9, with only 10 labelled
images per class. From scratch: train the whole CNN on those 50 images. Transfer: freeze the
pretrained layers and train only a new 5-way output layer, either on the conv layers' 128
outputs or on the dense layer's 64. Five draws of the 50 images (and of the new weights),
scored on the 272 held-out 5-9 digits, after the same 1,000 adam steps. On these digits
transfer loses, on every draw: from scratch 95% on average, frozen conv features 90%, frozen
dense features 80%.
The deeper the frozen layer, the more it is specific to 0-4 (as Yosinski et al. 2014 found at
a much larger scale); 50 images are enough to train this small CNN from scratch.
"""

from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from handson.data import digits
from handson.demo import standalone
from handson.figures import save, style
from handson.training import accuracy, fit

SEED = 0  # seed of the split, the pretraining and the first draw
PER_CLASS = 10  # labelled images per new class
DRAWS = 5  # draws of the labelled images (and of the new weights)
PRETRAIN_EPOCHS = 15  # passes over digits 0-4
FEW_SHOT_EPOCHS = 20  # epochs on the 50 labelled images: 1,000 steps, enough for all three
COPIES = 10  # an epoch holds 10 shuffled copies of them (fewer, longer epochs: less overhead)
LEARNING_RATE = 1e-3  # adam, pretraining
FEW_SHOT_LEARNING_RATE = 3e-3  # adam, on the 50 images
BATCH_SIZE = 32  # images per step when pretraining
FEW_SHOT_BATCH = 10  # images per step on the 50 images
FEATURES = 64  # size of the representation passed to the output layer


def pool(x):  # 2x2 max pooling, stride 2
    return nnx.max_pool(x, (2, 2), strides=(2, 2))


# --8<-- [start:model]
class Body(nnx.Module):  # 8x8 digit -> FEATURES numbers: the transferred part
    def __init__(self, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 16, (3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
        self.dense = nnx.Linear(2 * 2 * 32, FEATURES, rngs=rngs)

    def convolutions(self, x):  # (B, 8, 8, 1) -> (B, 128)
        x = pool(nnx.relu(self.conv1(x)))  # (B, 4, 4, 16)
        x = pool(nnx.relu(self.conv2(x)))  # (B, 2, 2, 32)
        return x.reshape(len(x), -1)

    def __call__(self, x):  # (B, 8, 8, 1) -> (B, FEATURES)
        return nnx.relu(self.dense(self.convolutions(x)))
# --8<-- [end:model]


class Classifier(nnx.Module):
    def __init__(self, body: Body, classes: int, rngs: nnx.Rngs):
        self.body, self.head = body, nnx.Linear(FEATURES, classes, rngs=rngs)

    def __call__(self, x):
        return self.head(self.body(x))


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def score(model, x, y):
    return accuracy(model(x), y)


def few_shot(x, y, rng: np.random.Generator):
    """PER_CLASS random images of each class."""
    pick = np.concatenate([rng.choice(np.flatnonzero(y == c), PER_CLASS, replace=False)
                           for c in np.unique(y)])
    return x[pick], y[pick]


def plot_draws(accuracies: dict) -> Figure:
    fig = Figure(figsize=(5.0, 4.0))
    ax = fig.add_subplot()
    for i, accs in enumerate(accuracies.values()):
        ax.plot(np.full(len(accs), i), accs, "o", ms=10, alpha=0.6, color=f"C{i}")
        ax.errorbar(i + 0.2, np.mean(accs), yerr=np.std(accs), fmt="s", ms=11, capsize=8,
                    color=f"C{i}", lw=2.5)
    for draw in zip(*accuracies.values()):
        ax.plot(range(len(draw)), draw, color="grey", lw=1, alpha=0.4)
    ax.set_xticks(range(len(accuracies)), list(accuracies))
    ax.set_xlim(-0.4, len(accuracies) - 0.4)
    ax.set_ylabel("held-out accuracy, 5-9")
    return fig


def main(out_dir: Path, draws: int = DRAWS, pretrain_epochs: int = PRETRAIN_EPOCHS,
         few_shot_epochs: int = FEW_SHOT_EPOCHS) -> dict:
    keys = jax.random.split(jax.random.key(SEED), 2 + 2 * draws)
    (x, y), (x_val, y_val) = digits(SEED, shape=(8, 8, 1))
    old, new, old_val, new_val = y < 5, y >= 5, y_val < 5, y_val >= 5

    # 1. learn digits 0-4 from all their training images
    rngs = nnx.Rngs(keys[0])
    pretrained = Classifier(Body(rngs), 5, rngs)
    pretraining = fit(pretrained, optax.adam(LEARNING_RATE), loss_fn, train=(x[old], y[old]),
                      val=(x_val[old_val], y_val[old_val]), epochs=pretrain_epochs,
                      batch_size=BATCH_SIZE, key=keys[1])

    # --8<-- [start:transfer]
    frozen = {"conv": nnx.jit(lambda body, x: body.convolutions(x)),  # (B, 128)
              "dense": nnx.jit(lambda body, x: body(x))}  # (B, FEATURES)
    accuracies = {"scratch": [], "conv": [], "dense": []}
    for draw in range(draws):
        x_few, y_few = few_shot(x[new], y[new] - 5, np.random.default_rng(SEED + draw))
        model_key, train_key = keys[2 + 2 * draw], keys[3 + 2 * draw]
        for name in accuracies:
            if name == "scratch":  # the whole network, on the 50 images
                rngs = nnx.Rngs(model_key)
                model, train, val = Classifier(Body(rngs), 5, rngs), x_few, x_val[new_val]
            else:  # only a new output layer, on the frozen pretrained features
                train, val = (frozen[name](pretrained.body, a) for a in (x_few, x_val[new_val]))
                model = nnx.Linear(train.shape[1], 5, rngs=nnx.Rngs(model_key))
            copies = (np.concatenate([train] * COPIES), np.concatenate([y_few] * COPIES))
            fit(model, optax.adam(FEW_SHOT_LEARNING_RATE), loss_fn, train=copies,
                epochs=few_shot_epochs, batch_size=FEW_SHOT_BATCH, key=train_key)
            accuracies[name].append(float(score(model, val, y_val[new_val] - 5)))
    # --8<-- [end:transfer]

    labels = {"scratch": "scratch", "conv": "frozen\nconv", "dense": "frozen\nconv +\ndense"}
    with style():
        save(plot_draws({labels[k]: v for k, v in accuracies.items()}), out_dir / "transfer.svg")
    result = {"pretrain_images": int(old.sum()), "pretrain_val_acc": pretraining.val_acc[-1],
              "few_shot_images": PER_CLASS * 5, "per_class": PER_CLASS,
              "val_images": int(new_val.sum()), "draws": draws, "features": FEATURES}
    for name, accs in accuracies.items():
        gaps = np.subtract(accs, accuracies["scratch"])  # transfer minus scratch, per draw
        result[name] = {"acc": accs, "mean": float(np.mean(accs)), "std": float(np.std(accs)),
                        "gap_mean": float(gaps.mean()), "gap_min": float(gaps.min()),
                        "gap_max": float(gaps.max())}
    return result


if __name__ == "__main__":
    standalone(main, __file__)
