"""Draw the landing page's overview of nnlib: the engines at the bottom, then the engine
interface, the layers and networks, training, and what goes beyond the article on top; the
kernels of chapter 12 inside the engines, below them, and what is checked along the bottom. Its
tiers and chapters are those of the landing page's list (book/intro.md).

The figure is drawn narrow and tall, with large text, so that it stays legible on a phone: 516
pixels wide, it is shrunk to about 340 there (390 pixels across), and its smallest text, 12.5
points at 100 dots per inch, is then still about 11 pixels high. tests/test_browser.py does not
measure pictures: look at it at 390 pixels when it changes.

    .venv/bin/python tools/figures/intro_overview.py    # writes _static/intro-overview.png
"""

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "_static" / "intro-overview.png"

WIDTH = 10.0          # data units across; the figure is 6.4 inches wide
TITLE, DETAIL = 14, 12.5        # font sizes, in points
LINE = 0.42           # height of a line of detail text, in data units

# (x, width, colour, title, detail): one box per part, from the top tier down; boxes that share
# a tier are listed together
TIERS = [
    [(0.0, WIDTH, "#e5f5e0", "Beyond the article  (chapters 9–11)",
      "every derivative checked by finite differences\n"
      "Glorot initialization · handwritten digits")],
    [(0.0, WIDTH, "#c7e9c0", "Training  (chapters 4, 5, 8)",
      "training network: forward and backward pass\n"
      "quadratic cost · gradient descent with a schedule")],
    [(0.0, WIDTH, "#fdd0a2", "Layers and networks  (chapter 3)",
      "sigmoid and tanh · fully connected layers\n"
      "one inference network for every engine")],
    [(0.0, WIDTH, "#dadaeb", "The engine interface  (chapter 2)",
      "matrices on a device · gemm, gemv, ger, axpy")],
    [(0.0, 3.2, "#c6dbef", "NumPy", "float32, float64\non the CPU"),
     (3.4, 3.2, "#c6dbef", "OpenCL", "CLBlast; a GPU,\nor PoCL on a CPU"),
     (6.8, 3.2, "#c6dbef", "CUDA", "CuPy, cuBLAS\nNVIDIA GPUs")],
    [(0.0, WIDTH, "#9ecae1", "Inside the engine  (chapter 12)",
      "our own matrix products, in OpenCL C and CUDA C")],
]
CHECKED = ("Checked: the article's numbers, reproduced (chapters 3, 5);\n"
           "its benchmark, on every engine (chapters 6, 7);\n"
           "every chapter, re-run as a test")
GAP = 0.25


def box_height(detail):
    return 0.75 + LINE * (detail.count("\n") + 1)


def draw(path=OUT):
    heights = [max(box_height(detail) for *_, detail in tier) for tier in TIERS]
    total = sum(heights) + GAP * len(heights) + box_height(CHECKED) - 0.2
    fig, ax = plt.subplots(figsize=(6.4, 6.4 * total / WIDTH))
    y = total
    for tier, height in zip(TIERS, heights):
        y -= height
        for x, width, colour, title, detail in tier:
            ax.add_patch(FancyBboxPatch((x, y), width, height, facecolor=colour, edgecolor="0.35",
                                        boxstyle="round,pad=0,rounding_size=0.1", lw=1))
            ax.text(x + width / 2, y + height - 0.15, title, ha="center", va="top",
                    fontsize=TITLE, fontweight="bold")
            ax.text(x + width / 2, y + height - 0.72, detail, ha="center", va="top",
                    fontsize=DETAIL, linespacing=1.3)
        y -= GAP
    # what is checked, along the bottom, without a box: it concerns every tier
    ax.text(WIDTH / 2, y - 0.05, CHECKED, ha="center", va="top", fontsize=DETAIL,
            linespacing=1.3, color="0.2")
    ax.set_xlim(-0.05, WIDTH + 0.05)
    ax.set_ylim(y - box_height(CHECKED) + 0.2, total + 0.05)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    # A palette of 64 colours keeps the file small; the figure has a handful of flat colours
    Image.open(buffer).convert("RGB").quantize(64).save(path, optimize=True)
    return path


if __name__ == "__main__":
    print("wrote", draw().relative_to(ROOT))
