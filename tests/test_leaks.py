"""No leaks: creating, training and releasing networks over and over keeps memory flat.

Resident memory (RSS) covers host memory and, on PoCL, the OpenCL device's memory too; on CUDA
the memory pool's bytes in use are checked as well.
"""

import ctypes
import gc

import numpy as np
import psutil
import pytest

import nnlib as nn

CYCLES = 1000


try:   # glibc keeps freed memory for reuse; handing it back first makes RSS count live memory
    _release_freed_memory = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):
    _release_freed_memory = lambda pad: None


def rss():
    gc.collect()
    _release_freed_memory(0)
    return psutil.Process().memory_info().rss


def cycle(eng, x, y, seed):
    """One life of a network: build, initialize, train a few epochs, predict, release."""
    layers = [nn.fully_connected(16, nn.tanh), nn.fully_connected(4, nn.sigmoid)]
    with nn.inference_network(eng, 8, layers) as net:
        nn.glorot(net, seed=seed)
        with nn.training_network(net, x) as training:
            nn.sgd(training, y, nn.quadratic_cost, [(3, 0.5), (2, 0.1)])
        return eng.to_numpy(net(x))


def test_a_thousand_networks_leave_memory_flat(any_engine):
    eng = any_engine
    rng = np.random.default_rng(0)
    x, y = eng.matrix(rng.uniform(0, 1, (8, 32))), eng.matrix(rng.uniform(0.2, 0.8, (4, 32)))
    for seed in range(100):                       # warm up: kernels, caches, allocator pools
        cycle(eng, x, y, seed)
    eng.synchronize()
    before = rss()
    pool = _cuda_pool_bytes(eng)
    for seed in range(CYCLES):
        cycle(eng, x, y, seed)
    eng.synchronize()
    growth = (rss() - before) / 2**20
    assert growth < 2.0, f"{growth:.1f} MB more after {CYCLES} networks on {eng.name}"
    if pool is not None:
        assert _cuda_pool_bytes(eng) <= pool


def _cuda_pool_bytes(eng):
    if eng.name != "cuda_float":
        return None
    import cupy
    return cupy.get_default_memory_pool().used_bytes()


def test_opencl_blas_calls_do_not_leak_events():
    from conftest import engine
    eng = engine("opencl_float")
    x, y = eng.matrix(np.ones(100)), eng.matrix(np.ones(100))
    for _ in range(2000):
        eng.axpy(1e-9, x, y)
    eng.synchronize()
    before = rss()
    for _ in range(20000):
        eng.axpy(1e-9, x, y)
    eng.synchronize()
    # pyclblast 1.4 leaked ~300 bytes per call (6 MB here) before the engine released its events
    assert (rss() - before) / 20000 < 20


def test_reading_a_matrix_back_keeps_no_copies_alive():
    from conftest import engine
    eng = engine("opencl_float")
    x = eng.matrix(np.ones((700, 1000)))     # 2.8 MB
    eng.to_numpy(x)
    before = rss()
    for _ in range(30):
        eng.to_numpy(x)
        eng.all_finite(x)
    assert (rss() - before) / 2**20 < 6     # pyopencl's Array.get kept up to 12 copies (~30 MB)
