"""The article's running example (2 -> 4 tanh -> 1 sigmoid), set up exactly as the article does."""

import numpy as np

import nnlib as nn

# Printed by the article (Dragan Djuric, "Deep Learning from Scratch to GPU - 12", April 3, 2019).
DRAFT_COSTS = [0.002098702784638695, 0.03938786120157389, 0.017940293857535927, 6.11451947087874e-8]
FIXED_COSTS = [0.002098702784638695, 0.0017663558073730684, 3.046310691223221e-4, 6.079136854164445e-12]
EPOCHS = (1, 20, 200, 2000)


def article_network(eng):
    net = nn.inference_network(eng, 2, [nn.fully_connected(4, nn.tanh), nn.fully_connected(1, nn.sigmoid)])
    hidden, last = net.layers
    eng.transfer(np.reshape([0.3, 0.1, 0.9, 0.0, 0.6, 2.0, 3.7, 1.0], (4, 2), order="F"), hidden.weights)
    eng.transfer([0.7, 0.2, 1.1, 2.0], hidden.bias)
    eng.transfer([[0.75, 0.15, 0.22, 0.33]], last.weights)
    eng.transfer([0.3], last.bias)
    return net


def article_data(eng):
    return eng.matrix([[0.3, 0.3], [0.9, 0.9]]), eng.matrix([[0.5, 0.5]])


def run_article(eng, draft=False):
    """Untrained output, the four costs, trained output and the inputs afterwards."""
    x, y = article_data(eng)
    with article_network(eng) as inference:
        untrained = eng.to_numpy(inference(x))
        with nn.training_network(inference, x) as training:
            if draft:
                training.layers[0].first = False
            costs = [nn.sgd(training, y, nn.quadratic_cost, epochs, 0.05) for epochs in EPOCHS]
        return untrained, costs, eng.to_numpy(inference(x)), eng.to_numpy(x)
