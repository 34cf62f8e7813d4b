"""Tensor-core arithmetic D = A·B + C on 4×4 matrices: fp16 inputs, fp32 accumulation.

A and B are random float16 matrices, C is float32, and
`jnp.matmul(A, B, preferred_element_type=jnp.float32) + C` gives D in float32, the mixed
precision a tensor core uses. Against a float64 reference computed from the same inputs,
fp32 accumulation is off by at most 9e-8; keeping the result in float16 is off by up to
5e-4, about 5,000 times more, yet inside the float16 rounding bound
gamma_6 * (|A||B| + |C|), gamma_n = n*u / (1 - n*u), u = 2^-11 (Higham's bound for a dot
product of 4 terms plus C), at 17% of it.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from handson.demo import standalone
from handson.figures import save, style

SEED = 0  # one seed: A, B and C are drawn from it
N = 4  # a tensor core multiplies 4×4 tiles
CELL = (0.62, 0.34)  # inches per matrix cell (width, height): a value at 14 pt fits
GAP = 0.55  # inches between a matrix and the operator next to it
FP16_U = 2.0**-11  # unit roundoff of float16 (half its machine epsilon, 2^-10)
FP32_U = 2.0**-24  # unit roundoff of float32
COLORS = {"A": "#dbe9f6", "B": "#dbe9f6", "C": "#f6dde6", "D": "#dcefe4"}  # fp16 blue, fp32 red/green


# --8<-- [start:mixed]
@jax.jit
def mixed(a16, b16, c32):
    """Tensor-core style: fp16 products summed in fp32, plus C in fp32."""
    return jnp.matmul(a16, b16, preferred_element_type=jnp.float32) + c32


@jax.jit
def half(a16, b16, c32):
    """Everything in fp16: the products' sum and C are rounded to 16 bits."""
    return jnp.matmul(a16, b16, preferred_element_type=jnp.float16) + c32.astype(jnp.float16)
# --8<-- [end:mixed]


def gamma(n: int, u: float) -> float:
    """Higham's constant: n roundings of relative size u compound to at most n·u/(1 − n·u)."""
    return n * u / (1 - n * u)


def draw(ax, x0: float, y0: float, name: str, values: np.ndarray, dtype: str) -> float:
    """One matrix with its values, top-left at (x0, y0) in inches; returns its right edge."""
    w, h = CELL
    for (r, c), v in np.ndenumerate(values):
        ax.add_patch(Rectangle((x0 + c * w, y0 - (r + 1) * h), w, h, facecolor=COLORS[name],
                               edgecolor="#333333", lw=1))
        ax.text(x0 + (c + 0.5) * w, y0 - (r + 0.5) * h, f"{v:.2f}", ha="center", va="center", fontsize=14)
    ax.text(x0 + N * w / 2, y0 + 0.08, f"{name} ({dtype})", ha="center", va="bottom", fontsize=16)
    return x0 + N * w


def main(out_dir: Path) -> dict:
    key_a, key_b, key_c = jax.random.split(jax.random.key(SEED), 3)
    a = jax.random.uniform(key_a, (N, N)).astype(jnp.float16)
    b = jax.random.uniform(key_b, (N, N)).astype(jnp.float16)
    c = jax.random.uniform(key_c, (N, N), dtype=jnp.float32)
    d32, d16 = mixed(a, b, c), half(a, b, c)
    a64, b64, c64 = (np.asarray(m, dtype=np.float64) for m in (a, b, c))
    reference = a64 @ b64 + c64  # exact to ~1e-16 for these inputs
    scale = np.abs(a64) @ np.abs(b64) + np.abs(c64)  # what rounding errors are relative to
    gap32 = np.abs(np.asarray(d32, np.float64) - reference)
    gap16 = np.abs(np.asarray(d16, np.float64) - reference)
    bound32 = gamma(N + 1, FP32_U) * scale  # N − 1 additions, + C, (+ products: exact in fp32)
    bound16 = gamma(N + 2, FP16_U) * scale  # products, N − 1 additions, + C, C rounded

    w, h = CELL
    width = 2 * N * w + 2 * GAP + 0.4
    height = 2 * (N * h + 0.5) + 0.3
    with style():
        fig = Figure(figsize=(width + 0.6, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(-0.6, width)
        ax.set_ylim(0, height)
        ax.set_axis_off()
        top, bottom = height - 0.45, height - 0.45 - N * h - 0.6
        right = draw(ax, 0.0, top, "A", np.asarray(a, np.float32), "fp16")
        ax.text(right + GAP, top - N * h / 2, "×", ha="center", va="center", fontsize=24)
        draw(ax, right + 2 * GAP, top, "B", np.asarray(b, np.float32), "fp16")
        ax.text(-0.3, bottom - N * h / 2, "+", ha="center", va="center", fontsize=24)
        right = draw(ax, 0.0, bottom, "C", np.asarray(c), "fp32")
        ax.text(right + GAP, bottom - N * h / 2, "=", ha="center", va="center", fontsize=24)
        draw(ax, right + 2 * GAP, bottom, "D", np.asarray(d32), "fp32")
    save(fig, out_dir / "tensor_core.svg")

    return {
        "size": N,
        "fp32_max_gap": float(gap32.max()),
        "fp16_max_gap": float(gap16.max()),
        "fp16_fp32_max_gap": float(np.abs(np.asarray(d16, np.float64) - np.asarray(d32, np.float64)).max()),
        "gap_ratio": float(gap16.max() / gap32.max()),
        "fp32_bound": float(bound32.max()),
        "fp16_bound": float(bound16.max()),
        "fp32_within_bound": bool((gap32 <= bound32).all()),
        "fp16_within_bound": bool((gap16 <= bound16).all()),
        "fp16_gap_over_bound": float((gap16 / bound16).max()),
        "fp16_eps": float(jnp.finfo(jnp.float16).eps),
        "fp32_eps": float(jnp.finfo(jnp.float32).eps),
        "d_max": float(np.abs(reference).max()),
        "a": np.asarray(a, np.float32).tolist(),
        "b": np.asarray(b, np.float32).tolist(),
        "c": np.asarray(c).tolist(),
        "d": np.asarray(d32).tolist(),
        "d_fp16": np.asarray(d16, np.float32).tolist(),
    }


if __name__ == "__main__":
    standalone(main, __file__)
