"""Chapter 6, the micro benchmark: the FLOPs of an epoch, the rate against the batch size, and a
leak that the memory meter must see."""

import numpy as np

import nnlib as nn
from nnlib.bench import epoch_flops

from . import expect, expect_close, question

CHAPTER = "06_benchmark"

R9_SIZE = (2000, [5000, 1000, 10], 8000)   # the notebook's R9_SIZE
SMALL = (1000, [500, 100, 10], 1000)       # the notebook's SMALL: scaled(0.1) of the article's
BATCHES = [8, 32, 125, 500, 2000]          # the exercise's batch sizes


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@question("ex-ch6-count")
class R9Flops:
    """Two numbers the exercise asks for, no inputs. nnlib.bench.epoch_flops computes them, and
    the exercise lets the student compare with it; the judge cannot tell a count by hand from a
    call of it, and need not: the check names it. The judge's reference is epoch_flops."""

    def observe(r9_flops, first_layer_share):
        def read(value):
            if value is ...:
                return "..."
            return value if isinstance(value, (int, float, np.number)) else type(value).__name__
        return [read(r9_flops), read(first_layer_share)]

    def judge(seen):
        flops, share = seen
        expect("..." not in seen, "replace ... with your answers")
        expect(number(flops), f"r9_flops must be a number, not {flops}")
        expect(number(share), f"first_layer_share must be a number, not {share}")
        in_dim, widths, batch = R9_SIZE
        weights = sum(o * i for i, o in zip([in_dim, *widths], widths))
        expect(not np.isclose(flops, 4 * batch * weights + 2 * batch * weights),
               "the first layer passes no error down (there is nothing below it): no W^T delta "
               "for it")
        expect(not np.isclose(flops, 2 * batch * weights),
               "each layer does more than its forward product: the weight gradient (and, but for "
               "the first, W^T delta) cost as much again")
        expect(np.isclose(flops, epoch_flops(*R9_SIZE), rtol=1e-9, atol=0),
               "that is not the count of epoch_flops(*R9_SIZE): 2 m n k for every product")
        first = epoch_flops(in_dim, widths[:1], batch) / epoch_flops(*R9_SIZE)
        expect(not np.isclose(share, 100 * first, rtol=0.01),
               "the share is a fraction of the whole, between 0 and 1, not a percentage")
        expect(0 < share < 1, "the share is a fraction of the whole, between 0 and 1")
        expect(np.isclose(share, first, rtol=1e-6),
               "the first layer does two products (forward, weight gradient): "
               "epoch_flops(2000, [5000], 8000) of them" + (
                   "; give the fraction itself, not rounded" if np.isclose(share, first, rtol=0.01)
                   else ""))


@question("ex-ch6-batch")
class BatchRates:
    """A measurement: nothing in the grader can time the student's machine, and nothing may
    assume its speed. The judge checks what the student's own numbers imply: five positive
    times, and each rate equal to the FLOPs of its batch (epoch_flops, nnlib's count) over its
    own time. Whether the batch of 2000 took longer than the batch of 8 (about 85 times as long
    on one core here), or ran at a higher rate, depends on the machine's load (a busy machine
    once slowed a batch of 8 a hundredfold), so it is left to the check and the written answer.
    The observation reads SMALL too, since a changed SMALL changes the FLOPs."""

    def observe(batch_seconds, batch_rates, SMALL):
        def read(values):
            if values is ...:
                return "..."
            try:
                return [float(v) for v in values]
            except (TypeError, ValueError):
                return type(values).__name__
        return {"seconds": read(batch_seconds), "rates": read(batch_rates),
                "small": [SMALL[0], list(SMALL[1]), SMALL[2]]}

    def judge(seen):
        seconds, rates = seen["seconds"], seen["rates"]
        expect("..." not in (seconds, rates), "replace ... with your measurements")
        expect(isinstance(seconds, list) and isinstance(rates, list),
               "batch_seconds and batch_rates must be lists of numbers")
        expect(len(seconds) == len(rates) == len(BATCHES), "one time and one rate per batch")
        expect(all(np.isfinite(seconds)) and all(np.isfinite(rates))
               and min(seconds) > 0 and min(rates) > 0, "times and rates are positive")
        expect(seen["small"] == [SMALL[0], SMALL[1], SMALL[2]],
               "SMALL is not the chapter's scaled-down network: run the chapter's cells as "
               "they are")
        flops = [epoch_flops(*SMALL[:2], batch) for batch in BATCHES]
        expect(not np.allclose(rates, [flops[-1] / s / 1e9 for s in seconds], rtol=0.01),
               "every rate uses the FLOPs of a batch of 2000: a batch of b does "
               "epoch_flops(..., b)")
        expect(not np.allclose(rates, [f / s for f, s in zip(flops, seconds)], rtol=0.01),
               "the rates are in FLOP/s: divide by 1e9 for GFLOP/s")
        expect_close(rates, [f / s / 1e9 for f, s in zip(flops, seconds)],
                     "GFLOP/s = an epoch's FLOPs / its seconds / 1e9: your rates do not follow "
                     "from your times", rtol=0.01, atol=0)


def leak_network(eng, seed, in_dim, widths, batch):
    """The network, input and targets that LeakyCost's observation trains: random weights and
    input from ``seed`` (the same in observe), targets 0.33, the benchmark's activations."""
    rng = np.random.default_rng(seed)
    layers = [nn.fully_connected(w, f) for w, f in zip(widths, (nn.tanh, nn.sigmoid, nn.sigmoid))]
    inference = nn.inference_network(eng, in_dim, layers)
    for layer in inference.layers:
        eng.transfer(rng.uniform(-0.1, 0.1, layer.weights.shape), layer.weights)
        eng.transfer(rng.uniform(-0.1, 0.1, layer.bias.shape), layer.bias)
    x = eng.matrix(rng.uniform(-1, 1, (in_dim, batch)))
    return inference, x, eng.fill(eng.zeros((widths[-1], batch)), 0.33)


def expected_z(seed, in_dim, widths, batch, layer, epochs):
    """The corner of ``layer``'s z at each epoch's cost derivative, trained with nnlib."""
    class Corners(nn.Cost):
        def __init__(self):
            self.corners = []

        def derivative(self, eng, y, a):
            self.corners.append(np.array(training.layers[layer].z[:3, :4]))   # NumPy's
            return nn.quadratic_cost.derivative(eng, y, a)

        def value(self, eng, difference):
            return nn.quadratic_cost.value(eng, difference)

    eng = nn.native_float()
    inference, x, y = leak_network(eng, seed, in_dim, widths, batch)
    with inference, nn.training_network(inference, x) as training:
        corners = Corners()
        nn.sgd(training, y, corners, epochs, 0.05)
    return np.array(corners.corners)


@question("ex-ch6-leak")
class Leak:
    """nnlib has no leak to borrow: the answer is a subclass of the chapter's MeteredCost, which
    the observation uses through it by design. The network is built in observe, small, with a
    random width, batch and layer to leak (one z of 0.6 to 1.6 MB, a few ms an epoch), from a
    seed the judge shares. The judge checks that the student's own meter readings grow by one z
    an epoch, and that ``kept`` holds copies of that layer's z, epoch by epoch (their corners,
    recomputed with nnlib)."""

    def inputs(rng):
        layer = int(rng.integers(0, 2))
        wide, narrow = int(rng.integers(300, 500)), int(rng.integers(10, 30))
        return {"seed": int(rng.integers(2**31)), "in_dim": int(rng.integers(5, 20)),
                "widths": [wide, narrow, 10] if layer == 0 else [narrow, wide, 10],
                "batch": int(rng.integers(500, 800)), "layer": layer, "epochs": 10}

    def observe(LeakyCost, seed, in_dim, widths, batch, layer, epochs):
        eng = nn.native_float()
        rng = np.random.default_rng(seed)
        layers = [nn.fully_connected(w, f) for w, f in zip(widths, (nn.tanh, nn.sigmoid,
                                                                    nn.sigmoid))]
        inference = nn.inference_network(eng, in_dim, layers)
        for one in inference.layers:
            eng.transfer(rng.uniform(-0.1, 0.1, one.weights.shape), one.weights)
            eng.transfer(rng.uniform(-0.1, 0.1, one.bias.shape), one.bias)
        x = eng.matrix(rng.uniform(-1, 1, (in_dim, batch)))
        y = eng.fill(eng.zeros((widths[-1], batch)), 0.33)
        training = nn.training_network(inference, x)
        z = training.layers[layer].z
        leaky = LeakyCost(training.layers[layer])
        nn.sgd(training, y, leaky, epochs, 0.05)
        kept = [np.asarray(k) for k in getattr(leaky, "kept", [])]
        seen = {"readings": [int(r) for r in getattr(leaky, "readings", [])], "kept": len(kept),
                "shapes": [list(k.shape) for k in kept],
                "corners": [k[:3, :4] for k in kept if k.ndim == 2],
                "shared": [bool(np.shares_memory(k, z)) for k in kept]}
        training.release()
        inference.release()
        return seen

    def judge(seen, seed, in_dim, widths, batch, layer, epochs):
        readings = seen["readings"]
        expect(len(readings) == epochs, "LeakyCost must still meter: call MeteredCost's "
                                        "derivative")
        expect(seen["kept"] == epochs, "keep one copy of z in self.kept every epoch: "
                                       "in derivative, which sgd calls once an epoch")
        z_bytes = widths[layer] * batch * 4
        growth = (readings[-1] - readings[1]) / (len(readings) - 2)
        expect(growth > 0.2 * z_bytes and not any(seen["shared"]),
               "the memory did not grow: a reference to the same buffer costs nothing; copy z to "
               "the host")
        expect(all(shape == [widths[layer], batch] for shape in seen["shapes"]),
               "self.kept must hold copies of the layer's z, as big as z")
        expect_close(seen["corners"], expected_z(seed, in_dim, widths, batch, layer, epochs),
                     "self.kept must hold a copy of the layer's z of every epoch, in order",
                     rtol=1e-4, atol=1e-6)
        expect(0.8 * z_bytes < growth < 1.2 * z_bytes,
               f"{growth / 1e6:.2f} MB more per epoch, not one z of {z_bytes / 1e6:.1f} MB")
