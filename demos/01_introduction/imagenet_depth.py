"""ImageNet top-5 error of the ILSVRC winners, 2010-2015, with each network's depth.

Published numbers (Russakovsky et al. 2015 and each system's paper): the error fell from
28.2% (2010, not a deep network) to 16.4% with AlexNet's 8 layers (2012) and 3.57% with
ResNet's 152 layers (2015), below the 5.1% of a trained human annotator. The error shrank
4.6-fold from AlexNet to ResNet while the depth grew 19-fold.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from handson.demo import standalone
from handson.figures import save, style

# (year, system, layers or 0 for a non-deep system, top-5 error in %), sources in the deck
RESULTS = [
    (2010, "NEC-UIUC", 0, 28.2),
    (2011, "XRCE", 0, 25.8),
    (2012, "AlexNet", 8, 16.4),
    (2013, "Clarifai", 8, 11.7),
    (2014, "VGG", 19, 7.3),
    (2014, "GoogLeNet", 22, 6.7),
    (2015, "ResNet", 152, 3.57),
]
HUMAN = 5.1  # top-5 error of a trained human annotator (Russakovsky et al. 2015), %
FIGSIZE = (8.9, 4.4)  # inches: full width under a title
GREY, BLUE, RED = "#999999", "#0368bb", "#c20d4f"  # shallow, deep, human line


def main(out_dir: Path) -> dict:
    errors = np.array([r[3] for r in RESULTS])
    depths = [r[2] for r in RESULTS]
    with style():
        fig = Figure(figsize=FIGSIZE)
        ax = fig.add_subplot()
        x = np.arange(len(RESULTS))
        ax.bar(x, errors, color=[BLUE if d else GREY for d in depths], width=0.7)
        human = ax.axhline(HUMAN, color=RED, ls="--", lw=2)
        for xi, (_, _, layers, error) in zip(x, RESULTS):
            # white box: the human line passes behind the labels it crosses
            ax.text(xi, error + 0.5, f"{error:g}%", ha="center", va="bottom", fontsize=14,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
            if layers:
                ax.text(xi, 0.5, str(layers), ha="center", va="bottom", fontsize=14,
                        color="white", fontweight="bold")
        ax.set_xticks(x, [f"{name}\n{year}" for year, name, _, _ in RESULTS], fontsize=14)
        ax.legend([Patch(color=BLUE), Patch(color=GREY), human],
                  ["deep network (white: layers)", "not a deep network", f"human annotator, {HUMAN:g}%"],
                  loc="upper right", fontsize=14)
        ax.set_ylabel("top-5 error (%)")
        ax.set_ylim(0, 32)
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
    save(fig, out_dir / "imagenet_depth.svg")

    by_name = {name: (year, layers, error) for year, name, layers, error in RESULTS}
    first_below = next(name for _, name, _, error in RESULTS if error < HUMAN)
    return {
        "systems": {name: {"year": year, "layers": layers, "top5_error": error}
                    for name, (year, layers, error) in by_name.items()},
        "human_top5_error": HUMAN,
        "first_below_human": first_below,
        "error_ratio_alexnet_resnet": by_name["AlexNet"][2] / by_name["ResNet"][2],
        "depth_ratio_resnet_alexnet": by_name["ResNet"][1] / by_name["AlexNet"][1],
    }


if __name__ == "__main__":
    standalone(main, __file__)
