"""Chapter 4, Training: the memory a training network needs, and one gradient step with the
package's training layer."""

import numpy as np

import nnlib as nn

from . import expect, expect_close, question

CHAPTER = "04_training"

ARTICLE_SIZES, ARTICLE_BATCH = [10_000, 5000, 1000, 10], 10_000   # the check's network


def floats(sizes, n):
    """The float32 numbers of training ``sizes`` on ``n`` examples: z, output and v of every
    layer, its weights and bias, and the input batch (the vector of ones not counted)."""
    pairs = list(zip(sizes, sizes[1:]))
    return sum(2 * out * inp + 2 * out * n + out for inp, out in pairs) + sizes[0] * n


def built_floats(sizes, n):
    """The same count, read from a training network that nnlib builds (small sizes only)."""
    eng = nn.native_float()
    with nn.inference_network(eng, sizes[0], [nn.fully_connected(w, nn.tanh)
                                              for w in sizes[1:]]) as inference:
        x = eng.zeros((sizes[0], n))
        with nn.training_network(inference, x) as training:
            return x.size + sum(layer.weights.size + layer.bias.size + layer.z.size
                                + layer.output.size + layer.v.size for layer in training.layers)


def mistakes(sizes, n, ones=False):
    """{message: the GB that a plausible mistake returns}, as the visible check names them
    (``ones``: with the vector of ones counted)."""
    pairs = list(zip(sizes, sizes[1:]))
    whole = floats(sizes, n) + n * ones
    return {
        "that leaves out the input batch x: in × n more numbers": (whole - sizes[0] * n) * 4e-9,
        "that leaves out the updates v: one out × in matrix per layer":
            (whole - sum(o * i for i, o in pairs)) * 4e-9,
        "every layer has two out × n buffers, z and output":
            (whole - sum(o * n for _, o in pairs)) * 4e-9,
        "that leaves out the biases: one per neuron": (whole - sum(o for _, o in pairs)) * 4e-9,
        "that leaves out the inference network's weights and biases: out × in + out a layer":
            (whole - sum(o * i + o for i, o in pairs)) * 4e-9,
        "a float32 number takes 4 bytes, not 8": whole * 8e-9,
        "a GB here is 10**9 bytes, not 2**30": whole * 4 / 2**30,
    }


@question("ex-ch4-memory")
class MemoryGB:
    """nnlib has no such count; the judge reads it from training networks that nnlib builds
    (the buffers of every layer, the weights and biases, the input batch), the vector of ones
    counted or not, as the old hidden test allowed. Random networks and batches catch an answer
    fitted to the article's network."""

    def inputs(rng):
        cases = [[[int(s) for s in rng.integers(2, 300, size=depth + 1)], int(rng.integers(2, 500))]
                 for depth in (1, 2, int(rng.integers(3, 5)))]
        return {"cases": [[ARTICLE_SIZES, ARTICLE_BATCH]] + cases}

    def observe(memory_gb, cases):
        return [memory_gb(list(sizes), n) for sizes, n in cases]

    def judge(gbs, cases):
        expect(all(gb is not None for gb in gbs), "memory_gb must return the number of GB")
        expect(all(isinstance(gb, (int, float)) and not isinstance(gb, bool) for gb in gbs),
               "memory_gb must return a number of GB")
        for message, _ in mistakes(*cases[0]).items():
            expect(not all(any(np.isclose(gb, mistakes(sizes, n, ones)[message], rtol=1e-6,
                                          atol=0) for ones in (False, True))
                           for gb, (sizes, n) in zip(gbs, cases)), message)
        low, high = floats(*cases[0]) * 4e-9, (floats(*cases[0]) + ARTICLE_BATCH) * 4e-9
        expect(low * (1 - 1e-9) <= gbs[0] <= high * (1 + 1e-9),
               f"the article's network needs about 1.3 GB, got {gbs[0]:.4f}"
               + (": count every number, exactly" if abs(gbs[0] - low) < 0.01 else ""))
        for gb, (sizes, n) in zip(gbs[1:], cases[1:]):
            numbers = built_floats(sizes, n)
            layers = len(sizes) - 1
            expect(numbers * 4e-9 * (1 - 1e-9) <= gb <= (numbers + n) * 4e-9 * (1 + 1e-9),
                   f"wrong for a random network of {layers} layer{'s' * (layers > 1)} and a "
                   "random batch: count z, output and v of every layer, the weights and biases, "
                   "and the input batch")


def article_network(eng, hidden, hidden_bias, last, last_bias):
    """A 2-layer tanh-sigmoid network with these weights (the chapter's article_network, with
    the weights as arguments)."""
    inference = nn.inference_network(eng, hidden.shape[1], [
        nn.fully_connected(hidden.shape[0], nn.tanh), nn.fully_connected(last.shape[0],
                                                                          nn.sigmoid)])
    for layer, weights, bias in zip(inference.layers, (hidden, last), (hidden_bias, last_bias)):
        eng.transfer(weights, layer.weights)
        eng.transfer(bias, layer.bias)
    return inference


def step(x, y, eta, weights, bias_sign=1.0):
    """The new output for ``x``, and the weights and biases, after one step of nnlib's training
    layer (``bias_sign=-1``: the draft's, the article's, bias step)."""
    eng = nn.native_float()
    with article_network(eng, *weights) as net:
        with nn.training_network(net, eng.matrix(x)) as training:
            for layer in training.layers:
                layer.bias_sign = bias_sign
            eng.axpy(-1.0, eng.matrix(y), training.forward())
            training.backward(eta)
        return (eng.to_numpy(net(eng.matrix(x))),
                [eng.to_numpy(p) for layer in net.layers for p in (layer.weights, layer.bias)])


ARTICLE = (np.reshape([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], (4, 2), order="F"),
           np.array([0.7, 0.2, 1.1, 2.0]), np.array([[0.75, 0.15, 0.22, 0.33]]), np.array([0.3]))


@question("ex-ch4-sign")
class GradientStep:
    """nnlib's training_network is the intended answer (the exercise says to use it), so the
    judge's reference is one step of it. The draft layer of the chapter, or its sign by hand,
    moves the bias the other way, which the judge recognises. The check's case (the article's
    network, 0.05) runs, and a random network, batch, target and rate, built in observe with
    plain nnlib calls."""

    def inputs(rng):
        n_in, hidden, out, batch = (int(k) for k in rng.integers([2, 2, 1, 2], [5, 6, 3, 6]))
        weights = [rng.uniform(-1, 1, (hidden, n_in)), rng.uniform(-1, 1, hidden),
                   rng.uniform(-1, 1, (out, hidden)), rng.uniform(-1, 1, out)]
        return {"weights": [w.astype(np.float32) for w in weights],
                "x": rng.uniform(-1, 1, (n_in, batch)).astype(np.float32),
                "y": rng.uniform(0.05, 0.95, (out, batch)).astype(np.float32),
                "eta": float(rng.uniform(0.1, 1.0))}

    def observe(gradient_step, weights, x, y, eta):
        def one(weights, x, y, eta):
            eng = nn.native_float()
            hidden, hidden_bias, last, last_bias = weights
            inference = nn.inference_network(eng, x.shape[0], [
                nn.fully_connected(hidden.shape[0], nn.tanh),
                nn.fully_connected(last.shape[0], nn.sigmoid)])
            for layer, w, b in zip(inference.layers, (hidden, last), (hidden_bias, last_bias)):
                eng.transfer(w, layer.weights)
                eng.transfer(b, layer.bias)
            layers = list(inference.layers)
            new = gradient_step(eng, inference, eng.matrix(x), eng.matrix(y), eta)
            return {"new": None if new is None else np.asarray(new, dtype=np.float64),
                    "params": [eng.to_numpy(p) for one in layers for p in (one.weights, one.bias)]}

        article = [np.reshape([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], (4, 2), order="F"),
                   np.array([0.7, 0.2, 1.1, 2.0]), np.array([[0.75, 0.15, 0.22, 0.33]]),
                   np.array([0.3])]
        return [one(article, np.array([[0.3, 0.3], [0.9, 0.9]]), np.array([[0.5, 0.5]]), 0.05),
                one(weights, x, y, eta)]

    def judge(seen, weights, x, y, eta):
        cases = [(ARTICLE, np.array([[0.3, 0.3], [0.9, 0.9]]), np.array([[0.5, 0.5]]), 0.05),
                 (weights, x, y, eta)]
        for (w, xs, ys, rate), got in zip(cases, seen):
            expect(got["new"] is not None, "gradient_step must return the new output")
            new, params = step(xs, ys, rate, w)
            _, draft_params = step(xs, ys, rate, w, bias_sign=-1.0)
            bias = np.asarray(got["params"][3])
            expect(not np.allclose(bias, draft_params[3], rtol=1e-5, atol=1e-7)
                   or np.allclose(bias, params[3], rtol=1e-5, atol=1e-7),
                   "the output bias moved the draft's way (the article's sign): use "
                   "nn.training_network")
            z = w[2] @ np.tanh(w[0] @ xs - w[1][:, None]) - w[3][:, None]
            expect(not np.allclose(got["new"], 1 / (1 + np.exp(-z)), rtol=1e-5, atol=1e-7),
                   "that is the output before the step: return the output for x after it")
            expect_close(got["new"], new, "the new output is not that of one gradient step of "
                         "the quadratic cost (write a - y into the output, then backward)",
                         rtol=1e-5, atol=2e-6)
            for got_p, p in zip(got["params"], params):
                expect_close(got_p, p, "the weights and biases are not those of one gradient "
                             "step of the quadratic cost", rtol=1e-5, atol=2e-6)
