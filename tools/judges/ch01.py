"""Chapter 1, Introduction: the parameters of a network, counted, and a network drawn."""

import re
from collections import Counter

import numpy as np

import nnlib as nn

from . import expect, question

CHAPTER = "01_introduction"

ARTICLE = [2, 4, 1]                      # the chapter's network
BENCHMARK = [10_000, 5000, 1000, 10]     # the benchmark's network, 55 016 010 parameters


def built_count(sizes):
    """The weights and biases of a network of layer ``sizes`` built with nnlib, as the old
    hidden test counted them."""
    layers = [nn.fully_connected(width, nn.tanh) for width in sizes[1:]]
    with nn.inference_network(nn.native_float(), sizes[0], layers) as net:
        return sum(layer.weights.size + layer.bias.size for layer in net.layers)


@question("ex-ch1-count")
class ParameterCount:
    """nnlib has no parameter_count; a network built with it holds the answer in its layers'
    sizes, which is what the judge counts (an answer that builds networks to count them is right,
    if slow). Random networks of one to five layers catch a count fitted to the two in the
    check."""

    def inputs(rng):
        networks = [[int(n) for n in rng.integers(1, 60, size=depth + 1)]
                    for depth in (1, rng.integers(2, 4), 5)]
        return {"networks": [ARTICLE, BENCHMARK] + networks}

    def observe(parameter_count, networks):
        return [parameter_count(list(sizes)) for sizes in networks]

    def judge(counts, networks):
        expect(isinstance(counts, list) and len(counts) == len(networks)
               and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in counts),
               "parameter_count must return a number (of weights and biases)")
        weights = [sum(a * b for a, b in zip(s, s[1:])) for s in networks]
        expect(counts != weights, "that is the weights alone: every neuron has a bias too")
        expect(counts != [w + sum(s) for w, s in zip(weights, networks)],
               "the inputs have no biases: only the neurons of the layers do")
        expect(counts[0] == built_count(ARTICLE),
               f"the 2-4-1 network has 17 parameters, got {counts[0]}")
        expect(counts[1] == 55_016_010,
               f"the benchmark network has 55 016 010 parameters, got {counts[1]}")
        for sizes, count in zip(networks[2:], counts[2:]):
            layers = len(sizes) - 1
            expect(count == built_count(sizes),
                   f"the count is wrong for a random network of {layers} "
                   f"layer{'s' * (layers > 1)} (a weight for every input of every neuron, "
                   "a bias for every neuron)")


SIZES = [8, 100, 50, 200, 10]   # the network of exercise 3.2
CIRCLES = [1, 10, 5, 20, 1]     # one circle for every ten neurons, at least one


@question("ex-ch1-draw")
class Drawing:
    """A figure, not a computation: nnlib has nothing to draw with; the chapter's draw_network
    is the intended tool. The observation reads the Axes' plain facts (circle centres per
    column, line end points, label texts and places); the judge checks the columns, that each
    circle joins each circle of the next column once, and that each label holds its column's
    real size."""

    def observe(drawing):
        import matplotlib.axes

        if drawing is ...:
            return {"ellipsis": True}
        if not isinstance(drawing, matplotlib.axes.Axes):
            return {"type": type(drawing).__name__}
        texts = [[float(t.xy[0]) if hasattr(t, "xy") else float(t.get_position()[0]),
                  str(t.get_text())] for t in drawing.texts]
        return {"columns": [np.asarray(c.get_offsets(), dtype=float) for c in drawing.collections],
                "lines": [[[float(v) for v in line.get_xdata()],
                           [float(v) for v in line.get_ydata()]] for line in drawing.lines],
                "texts": texts}

    def judge(seen):
        expect("ellipsis" not in seen, "replace ... with the Axes you drew the network on")
        expect("type" not in seen, f"drawing is a {seen.get('type')}, not the Axes you drew on "
                                   "(fig, drawing = plt.subplots())")
        columns = [np.reshape(c, (-1, 2)) for c in seen["columns"]]
        counts = [len(c) for c in columns]
        expect(counts, "drawing is empty: draw on it with draw_network(sizes, labels, drawing)")
        expect(counts[0] != 8 and counts[-1] != 10,
               "one circle for every ten neurons: 8 inputs, or 10 outputs, make one circle; "
               f"got {counts}")
        expect(counts == CIRCLES,
               f"the columns should have 1, 10, 5, 20, 1 circles: got {counts}")
        lines = seen["lines"]
        joins = sum(a * b for a, b in zip(CIRCLES, CIRCLES[1:]))
        expect(len(lines) == joins, f"{len(lines)} lines: every circle joins every circle of "
                                    "the next column, once")
        centres = [{(round(x, 6), round(y, 6)) for x, y in c} for c in columns]
        expect(all(len(c) == n for c, n in zip(centres, CIRCLES)),
               "two circles of a column sit on the same spot")
        ends = Counter()
        for xs, ys in lines:
            expect(len(xs) == len(ys) == 2, "every line joins two circles: two points each")
            ends[tuple((round(x, 6), round(y, 6)) for x, y in zip(xs, ys))] += 1
        for left, right in zip(centres, centres[1:]):
            for a in left:
                for b in right:
                    expect(ends[a, b] + ends[b, a] == 1,
                           "every circle joins every circle of the next column, once")
        labels = {}
        for x, text in seen["texts"]:
            labels.setdefault(round(x), []).append(text)
        for column, (size, centre) in enumerate(zip(SIZES, centres)):
            x = round(next(iter(centre))[0])
            expect(any(re.search(rf"(?<!\d){size}(?!\d)", text) for text in labels.get(x, [])),
                   f"the label of column {column + 1} must give its real number of neurons")
