"""Word embeddings from skip-gram on a synthetic corpus whose structure is known.

Eight nouns differ in three ways: gender (king / queen), status (king / man) and age (king /
prince). Each sentence of the corpus holds one noun and, around it, one word that goes with
each of its three properties ("she", "throne", "school"...) among filler words. Skip-gram
(Mikolov et al. 2013) learns 16-number vectors by predicting each word's neighbours (two words
either side) from the word itself. Nothing tells it the properties, yet the nouns come out as
the corners of a cube: each noun's three nearest nouns (cosine) are the three that differ from
it in one property, for all 8 nouns, and vector arithmetic such as king - man + woman lands
nearest to queen in all 96 such analogies among the nouns.
"""

import itertools
from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx
from matplotlib.figure import Figure

from handson.demo import standalone
from handson.figures import save, style
from handson.training import fit

SEED = 0  # one seed for the corpus, the weights and the shuffles
# noun -> (female?, common?, young?): the structure the embeddings should recover
NOUNS = {"king": (0, 0, 0), "queen": (1, 0, 0), "man": (0, 1, 0), "woman": (1, 1, 0),
         "prince": (0, 0, 1), "princess": (1, 0, 1), "boy": (0, 1, 1), "girl": (1, 1, 1)}
# words that go with each value of each property, in the same order as NOUNS' tuples
CONTEXT = [(("he", "him", "his"), ("she", "her", "hers")),
           (("crown", "throne", "palace"), ("street", "market", "work")),
           (("old", "wise", "rule"), ("small", "play", "school"))]
FILLER = ("the", "a", "and", "of", "to", "in", "was", "with")  # words with no meaning here
SENTENCES = 4000  # sentences in the corpus
FILLERS = 3  # filler words per sentence (plus the noun and its 3 context words)
WINDOW = 2  # neighbours predicted on each side
DIM = 16  # numbers per word vector
EPOCHS = 3  # passes over the (word, neighbour) pairs
LEARNING_RATE = 1e-2  # adam's step size
BATCH_SIZE = 256  # pairs per step


def corpus(rng: np.random.Generator, vocab: list[str]) -> np.ndarray:
    """(SENTENCES, 4 + FILLERS) word ids: a noun, a word per property, fillers, shuffled."""
    nouns = list(NOUNS)
    rows = []
    for _ in range(SENTENCES):
        noun = nouns[rng.integers(len(nouns))]
        words = [noun] + [CONTEXT[p][v][rng.integers(3)] for p, v in enumerate(NOUNS[noun])]
        words += [FILLER[i] for i in rng.integers(len(FILLER), size=FILLERS)]
        rows.append([vocab.index(w) for w in rng.permutation(words)])
    return np.array(rows, np.int32)


def skipgram_pairs(sentences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (word, neighbour) pair at most WINDOW apart within a sentence."""
    length = sentences.shape[1]
    pairs = [(sentences[:, i], sentences[:, j]) for i in range(length) for j in range(length)
             if i != j and abs(i - j) <= WINDOW]
    return np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])


# --8<-- [start:model]
class SkipGram(nnx.Module):
    """word -> its vector -> a score for each word of the vocabulary."""

    def __init__(self, vocab: int, dim: int, rngs: nnx.Rngs):
        self.vectors = nnx.Embed(vocab, dim, rngs=rngs)  # what we keep
        self.context = nnx.Linear(dim, vocab, rngs=rngs)  # training only

    def __call__(self, word):  # (B,) ids -> (B, vocab) logits
        return self.context(self.vectors(word))


def loss_fn(model, word, neighbour):
    logits = model(word)  # (B, vocab)
    return optax.softmax_cross_entropy_with_integer_labels(logits, neighbour).mean()
# --8<-- [end:model]


def analogies(unit: dict) -> list[tuple]:
    """Every a - b + c = d among the nouns (property-wise), with the noun nearest to it."""
    out = []
    for a, b, c in itertools.permutations(NOUNS, 3):
        want = tuple(np.add(NOUNS[a], NOUNS[c]) - NOUNS[b])
        d = next((n for n, p in NOUNS.items() if p == want), None)
        if d is None or d in (a, b, c):
            continue
        query = unit[a] - unit[b] + unit[c]
        scores = {n: float(query @ v) for n, v in unit.items() if n not in (a, b, c)}
        out.append((a, b, c, d, max(scores, key=scores.get)))
    return out


def plot_vectors(unit: dict) -> Figure:
    """The noun vectors projected on their 2 main directions (PCA), female - male as arrows."""
    names = list(unit)
    points = np.stack([unit[n] for n in names])
    points = points - points.mean(0)
    _, _, axes = np.linalg.svd(points, full_matrices=False)
    xy = dict(zip(names, points @ axes[:2].T))
    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot()
    for name, (x, y) in xy.items():
        ax.plot(x, y, "o", ms=10, color="#c20d4f" if NOUNS[name][0] else "#0368bb")
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(8, 6), fontsize=17)
    for name, props in NOUNS.items():
        if not props[0]:  # an arrow from each male noun to its female counterpart
            other = next(n for n, p in NOUNS.items() if p == (1, *props[1:]))
            ax.annotate("", xy=xy[other], xytext=xy[name],
                        arrowprops=dict(arrowstyle="-|>", color="#888888", lw=1.8, shrinkA=7, shrinkB=7))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("first principal direction")
    ax.set_ylabel("second")
    ax.margins(0.2)
    return fig


def main(out_dir: Path, epochs: int = EPOCHS) -> dict:
    model_key, train_key = jax.random.split(jax.random.key(SEED))
    vocab = list(NOUNS) + [w for prop in CONTEXT for value in prop for w in value] + list(FILLER)
    words, neighbours = skipgram_pairs(corpus(np.random.default_rng(SEED), vocab))
    model = SkipGram(len(vocab), DIM, nnx.Rngs(model_key))
    history = fit(model, optax.adam(LEARNING_RATE), loss_fn, train=(words, neighbours),
                  epochs=epochs, batch_size=BATCH_SIZE, key=train_key)

    vectors = np.asarray(model.vectors.embedding[...])
    unit = {n: vectors[vocab.index(n)] / np.linalg.norm(vectors[vocab.index(n)]) for n in NOUNS}
    lines, neighbours_ok = [f"{'noun':<10}nearest nouns (cosine similarity)"], 0
    for noun, v in unit.items():
        sims = sorted(((float(v @ w), n) for n, w in unit.items() if n != noun), reverse=True)
        near = [n for _, n in sims[:3]]
        one_apart = {n for n, p in NOUNS.items() if np.abs(np.subtract(p, NOUNS[noun])).sum() == 1}
        neighbours_ok += set(near) == one_apart
        lines.append(f"{noun:<10}" + ", ".join(f"{n} {s:.2f}" for s, n in sims[:3]))
    (out_dir / "neighbours.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = analogies(unit)
    with style():
        save(plot_vectors(unit), out_dir / "word_vectors.svg")
    king = unit["king"] - unit["man"] + unit["woman"]
    return {
        "vocab": len(vocab), "dim": DIM, "sentences": SENTENCES, "pairs": int(len(words)),
        "epochs": epochs, "final_loss": history.train_loss[-1], "nouns": len(NOUNS),
        "neighbours_right": neighbours_ok, "analogies": len(found),
        "analogies_right": sum(d == best for *_, d, best in found),
        "king_man_woman": max((n for n in NOUNS if n not in ("king", "man", "woman")),
                              key=lambda n: float(king @ unit[n])),
    }


if __name__ == "__main__":
    standalone(main, __file__)
