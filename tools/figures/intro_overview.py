"""Draw the landing page's overview of nnlib: engines below, layers and networks above them,
training on top, and the checks beside the stack.

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

# (x, y, width, height, colour, title, detail): one box per part of the package, in data units
BOXES = [
    (0.0, 3.2, 7.4, 1.2, "#c7e9c0", "Training  (chapters 4, 5, 8–11)",
     "training_network: forward and backward pass\n"
     "sgd with a schedule · quadratic_cost · gradients checked\n"
     "Glorot initialization · mini-batches of handwritten digits"),
    (0.0, 2.0, 7.4, 1.0, "#fdd0a2", "Layers and networks  (chapter 3)",
     "activations sigmoid and tanh · fully_connected layers\n"
     "inference_network, written once for every engine"),
    (0.0, 1.15, 7.4, 0.65, "#dadaeb", "The engine interface  (chapter 2)",
     "matrices on a device · gemm, gemv, ger, axpy · element-wise"),
    (0.0, 0.0, 2.4, 0.95, "#c6dbef", "NumPy", "float32, float64\non the CPU"),
    (2.5, 0.0, 2.4, 0.95, "#c6dbef", "OpenCL", "CLBlast; a GPU,\nor PoCL on a CPU"),
    (5.0, 0.0, 2.4, 0.95, "#c6dbef", "CUDA", "CuPy, cuBLAS\nNVIDIA GPUs"),
    (7.6, 0.0, 2.1, 4.4, "#f0f0f0", "Checked",
     "the article's\nnumbers\nreproduced\n(chapters 3, 5)\n\n"
     "its benchmark\non every engine\n(chapters 6, 7)\n\n"
     "every chapter\nre-run as a test,\noutputs compared"),
]


def draw(path=OUT):
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for x, y, width, height, colour, title, detail in BOXES:
        ax.add_patch(FancyBboxPatch((x, y), width, height, facecolor=colour, edgecolor="0.35",
                                    boxstyle="round,pad=0,rounding_size=0.08", lw=1))
        top = y + height - (0.2 if height > 2 else 0.08)
        ax.text(x + width / 2, top, title, ha="center", va="top", fontsize=12, fontweight="bold")
        ax.text(x + width / 2, top - 0.3, detail, ha="center", va="top", fontsize=10,
                linespacing=1.35)
    for y in (0.95, 1.8, 3.0):   # each tier is built on the one below it
        ax.plot([3.7, 3.7], [y, y + 0.2], color="0.35", lw=1)
    ax.set_xlim(-0.05, 9.75)
    ax.set_ylim(-0.05, 4.45)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=100, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    # A palette of 64 colours keeps the file small; the figure has a handful of flat colours
    Image.open(buffer).convert("RGB").quantize(64).save(path, optimize=True)
    return path


if __name__ == "__main__":
    print("wrote", draw().relative_to(ROOT))
