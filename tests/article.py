"""The article's running example (2 -> 4 tanh -> 1 sigmoid), set up exactly as the article does."""

import numpy as np

import nnlib as nn

# Printed by the article (Dragan Djuric, "Deep Learning from Scratch to GPU - 12", April 3, 2019).
DRAFT_COSTS = [0.002098702784638695, 0.03938786120157389, 0.017940293857535927, 6.11451947087874e-8]
FIXED_COSTS = [0.002098702784638695, 0.0017663558073730684, 3.046310691223221e-4,
               6.079136854164445e-12]
EPOCHS = (1, 20, 200, 2000)


def article_network(eng):
    net = nn.inference_network(eng, 2, [nn.fully_connected(4, nn.tanh),
                                        nn.fully_connected(1, nn.sigmoid)])
    hidden, last = net.layers
    hidden_weights = np.reshape([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], (4, 2), order="F")
    eng.transfer(hidden_weights, hidden.weights)
    eng.transfer([0.7, 0.2, 1.1, 2.0], hidden.bias)
    eng.transfer([[0.75, 0.15, 0.22, 0.33]], last.weights)
    eng.transfer([0.3], last.bias)
    return net


def article_data(eng):
    return eng.matrix([[0.3, 0.3], [0.9, 0.9]]), eng.matrix([[0.5, 0.5]])


def run_article(eng, draft=False, article_bias=True):
    """Untrained output, the four costs, trained output and the inputs afterwards.

    ``draft`` replays chapter 4's draft (no ``first`` flag); ``article_bias`` the article's sign of
    the bias step (the package's sign is the gradient's, see chapter 9)."""
    x, y = article_data(eng)
    with article_network(eng) as inference:
        untrained = eng.to_numpy(inference(x))
        with nn.training_network(inference, x) as training:
            if draft:
                training.layers[0].first = False
            if article_bias:
                for layer in training.layers:
                    layer.bias_sign = -1.0
            costs = [nn.sgd(training, y, nn.quadratic_cost, epochs, 0.05) for epochs in EPOCHS]
        return untrained, costs, eng.to_numpy(inference(x)), eng.to_numpy(x)


def reference_costs(bias_sign=1.0, epochs=EPOCHS, eta=0.05):
    """The article's example trained by plain float64 NumPy, written independently of nnlib."""
    x = np.array([[0.3, 0.3], [0.9, 0.9]])
    y = np.array([[0.5, 0.5]])
    w1 = np.reshape([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], (4, 2), order="F")
    b1 = np.array([[0.7], [0.2], [1.1], [2.0]])
    w2 = np.array([[0.75, 0.15, 0.22, 0.33]])
    b2 = np.array([[0.3]])
    sigmoid = lambda z: 1 / (1 + np.exp(-z))
    costs, n = [], x.shape[1]
    for count in epochs:
        for _ in range(count):
            z1 = w1 @ x - b1
            a1 = np.tanh(z1)
            z2 = w2 @ a1 - b2
            a2 = sigmoid(z2)
            d2 = (a2 - y) * a2 * (1 - a2)
            d1 = (w2.T @ d2) * (1 - a1 ** 2)
            w2 -= eta / n * d2 @ a1.T
            b2 += bias_sign * eta / n * d2.sum(axis=1, keepdims=True)
            w1 -= eta / n * d1 @ x.T
            b1 += bias_sign * eta / n * d1.sum(axis=1, keepdims=True)
        costs.append(float(((a2 - y) ** 2).sum() / (2 * y.size)))
    return costs
