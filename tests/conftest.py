"""Shared fixtures: every engine that starts on this machine, created once per test session."""

import pytest

import nnlib as nn
from nnlib.engines import ENGINES

_started = {}


def engine(name):
    """The engine ``name``, started once; skips the test with the reason where it cannot start."""
    if name not in _started:
        try:
            _started[name] = ENGINES[name]()
        except nn.EngineUnavailable as reason:
            _started[name] = reason
    if isinstance(_started[name], nn.EngineUnavailable):
        pytest.skip(str(_started[name]))
    return _started[name]


@pytest.fixture(params=list(ENGINES))
def any_engine(request):
    return engine(request.param)


@pytest.fixture(params=["native_float", "opencl_float", "cuda_float"])
def float_engine(request):
    return engine(request.param)
