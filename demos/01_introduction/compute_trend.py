"""Training compute of landmark networks, 2012-2017, with the doubling time fitted here.

Fifteen points read off the chart of OpenAI's "AI and Compute" (Amodei & Hernandez, 2018;
the post gives no table, so each is approximate: about ±10% in value, ±0.05 year). A
least-squares line through log2(petaflop/s-days) against the year gives the doubling time,
12 / slope months, and a 95% confidence interval from the slope's t interval (13 degrees of
freedom). The post's own fit, on its full set of points, says 3.43 months. AlphaGo Zero used
about 3.2e5 times AlexNet's compute ("300,000x").
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from handson.demo import standalone
from handson.figures import save, style

# (system, year, petaflop/s-days), read off the published chart (B2 in CONTENT.md)
POINTS = [
    ("AlexNet", 2012.4, 0.0058), ("Dropout", 2012.5, 0.0022),
    ("Visualizing ConvNets", 2013.9, 0.0062), ("DQN", 2014.0, 0.00002),
    ("VGG", 2014.7, 0.10), ("Seq2Seq", 2014.7, 0.10), ("GoogleNet", 2014.7, 0.018),
    ("DeepSpeech2", 2015.9, 0.24), ("ResNets", 2015.9, 0.12),
    ("Neural Machine Translation", 2016.7, 79.0), ("Xception", 2016.8, 5.2),
    ("Neural Architecture Search", 2016.8, 32.0), ("TI7 Dota 1v1", 2017.6, 7.0),
    ("AlphaZero", 2017.9, 420.0), ("AlphaGo Zero", 2017.8, 1860.0),
]
PUBLISHED_MONTHS = 3.43  # the post's "doubling time for line of best fit" (May 2018 version)
MOORE_MONTHS = 24.0  # Moore's law as the current version of the post states it: 2 years
CONFIDENCE = 0.95  # two-sided confidence level of the interval
# points named on the chart
LABELLED = ("AlexNet", "DQN", "VGG", "ResNets", "Neural Machine Translation", "AlphaGo Zero")
# label offsets in points, where the default (right of the point) would collide
OFFSETS = {"AlexNet": (0, 14), "Neural Machine Translation": (-8, 0), "AlphaGo Zero": (-8, 0)}
FIGSIZE = (8.6, 4.6)  # inches: a full-width figure under a title and one line of text


# --8<-- [start:fit]
@jax.jit
def fit_log2(years, pfs_days):
    """Least squares of log2(compute) on the year: slope (doublings per year), intercept, SE."""
    y = jnp.log2(pfs_days)
    x = years - years.mean()  # centred: slope and intercept uncorrelated
    slope = (x * y).sum() / (x * x).sum()
    intercept = y.mean() - slope * years.mean()
    residuals = y - (intercept + slope * years)
    dof = years.size - 2
    slope_se = jnp.sqrt((residuals**2).sum() / dof / (x * x).sum())
    return slope, intercept, slope_se
# --8<-- [end:fit]


def main(out_dir: Path, confidence: float = CONFIDENCE) -> dict:
    names = [p[0] for p in POINTS]
    years = jnp.array([p[1] for p in POINTS], dtype=jnp.float32)
    compute = jnp.array([p[2] for p in POINTS], dtype=jnp.float32)
    slope, intercept, slope_se = (float(v) for v in fit_log2(years, compute))
    dof = len(POINTS) - 2
    half = float(stats.t.ppf(0.5 + confidence / 2, dof)) * slope_se
    months = 12.0 / slope
    low, high = 12.0 / (slope + half), 12.0 / (slope - half)
    ratio = POINTS[names.index("AlphaGo Zero")][2] / POINTS[names.index("AlexNet")][2]

    with style():
        fig = Figure(figsize=FIGSIZE)
        ax = fig.add_subplot()
        x = np.asarray(years)
        ax.scatter(x, np.asarray(compute), s=60, color="#0368bb", zorder=3)
        for name, year, value in POINTS:
            if name in LABELLED:
                side = OFFSETS.get(name, (8, 0))
                ax.annotate(name.replace("Neural Machine Translation", "NMT"), (year, value),
                            xytext=side, textcoords="offset points", fontsize=14, va="center",
                            ha="right" if side[0] < 0 else "left" if side[0] > 0 else "center")
        span = np.array([2012.0, 2018.2])
        ax.plot(span, 2.0 ** (intercept + slope * span), color="#c20d4f",
                label=f"fit: doubling every {months:.1f} months")
        alexnet = POINTS[0]
        moore = alexnet[2] * 2.0 ** ((span - alexnet[1]) * 12 / MOORE_MONTHS)
        ax.plot(span, moore, color="#444444", ls="--", label="2-year doubling (Moore)")
        ax.set_yscale("log")
        ax.set_xlabel("year")
        ax.set_ylabel("petaflop/s-days")
        ax.set_xlim(*span)
        ax.legend(loc="upper left", fontsize=14)
        fig.tight_layout()
    save(fig, out_dir / "compute_trend.svg")

    return {
        "points": len(POINTS),
        "doubling_months": months,
        "doubling_months_low": low,
        "doubling_months_high": high,
        "confidence": confidence,
        "slope_doublings_per_year": slope,
        "slope_se": slope_se,
        "published_months": PUBLISHED_MONTHS,
        "published_in_interval": bool(low <= PUBLISHED_MONTHS <= high),
        "alphago_zero_over_alexnet": ratio,
        "growth_per_year": 2.0 ** slope,
    }


if __name__ == "__main__":
    standalone(main, __file__)
