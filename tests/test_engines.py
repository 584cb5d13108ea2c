"""Conformance tests: every engine computes what NumPy computes in float64, on the same inputs.

Each test runs once per engine. An engine that cannot start here (no CuPy, no OpenCL device) is
skipped with the reason it gives. Inputs are rounded to the engine's dtype before the float64
reference sees them, so the tolerances measure only the engine's arithmetic.
"""

import sys
import types
from itertools import product

import numpy as np
import pytest

import conftest
from conftest import engine
from nnlib.engines import ENGINES, EngineUnavailable

TOLERANCES = {np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
              np.dtype(np.float64): dict(rtol=1e-12, atol=1e-14)}


@pytest.fixture(params=list(ENGINES))
def eng(request):
    """Each engine, started once per test session (starting PoCL and compiling kernels is slow)."""
    return engine(request.param)


def rand(eng, *shape, seed=0, scale=1.0):
    """Seeded random float64 data that the engine's dtype holds exactly."""
    data = scale * np.random.default_rng(seed).standard_normal(shape)
    return data.astype(eng.dtype).astype(np.float64)


def assert_close(eng, actual, expected):
    """``actual`` (an engine matrix) equals ``expected`` within the engine's precision."""
    np.testing.assert_allclose(eng.to_numpy(actual), expected, **TOLERANCES[eng.dtype])


# ---- creating, moving, checking ------------------------------------------------------------

def test_zeros_matrix_and_to_numpy(eng):
    assert_close(eng, eng.zeros((2, 3)), np.zeros((2, 3)))
    assert_close(eng, eng.zeros(4), np.zeros(4))
    data = rand(eng, 3, 4)
    x = eng.matrix(data)
    host = eng.to_numpy(x)
    assert host.shape == (3, 4) and host.dtype == eng.dtype
    np.testing.assert_array_equal(host, data)
    host[0, 0] = 99.0  # a copy: changing it leaves the engine's matrix alone
    assert eng.to_numpy(x)[0, 0] == data[0, 0]
    assert eng.to_numpy(eng.vector([1, 2, 3])).tolist() == [1.0, 2.0, 3.0]


def test_transfer_copies_and_checks_shape(eng):
    dest = eng.zeros((2, 3))
    assert eng.transfer(np.arange(6).reshape(2, 3), dest) is dest
    np.testing.assert_array_equal(eng.to_numpy(dest), np.arange(6).reshape(2, 3))
    with pytest.raises(ValueError, match="shape"):
        eng.transfer(np.zeros((3, 2)), dest)


def test_matrix_rejects_empty_data(eng):
    for empty in ([], np.zeros((0, 3))):
        with pytest.raises(ValueError, match="empty"):
            eng.matrix(empty)


def test_owns_only_its_own_matrices(eng):
    assert eng.owns(eng.zeros((2, 3))) and eng.owns(eng.zeros(3))
    other_dtype = np.float64 if eng.dtype == np.float32 else np.float32
    foreign = [np.zeros((2, 3), other_dtype), [[0.0, 0.0]]]
    if not eng.name.startswith("native"):
        foreign.append(np.zeros((2, 3), eng.dtype))  # right dtype, wrong device
    for x in foreign:
        assert not eng.owns(x)
        with pytest.raises(TypeError, match=eng.name):
            eng.to_numpy(x)


def test_all_finite(eng):
    x = eng.matrix(rand(eng, 2, 3))
    assert eng.all_finite(x)
    for bad in (np.nan, np.inf, -np.inf):
        eng.transfer([[0, 1, 2], [3, bad, 5]], x)
        assert not eng.all_finite(x)


def test_release_twice_is_harmless(eng):
    x = eng.zeros((2, 2))
    eng.release(x)
    eng.release(x)
    assert_close(eng, eng.matrix([[1.0, 2.0]]), [[1.0, 2.0]])  # the engine works on


# ---- BLAS-like ------------------------------------------------------------------------------

@pytest.mark.parametrize("trans_a, trans_b", list(product([False, True], repeat=2)))
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.5, -0.5), (-2.0, 1.0)])
def test_gemm(eng, trans_a, trans_b, alpha, beta):
    m, n, k = 3, 5, 4  # all different, so a wrong transpose cannot go unnoticed
    a = rand(eng, *((k, m) if trans_a else (m, k)), seed=1)
    b = rand(eng, *((n, k) if trans_b else (k, n)), seed=2)
    c = rand(eng, m, n, seed=3)
    c_dev = eng.matrix(c)
    if beta == 0.0:  # BLAS: beta = 0 ignores c, even a NaN in it
        eng.transfer(np.full((m, n), np.nan), c_dev)
        c = np.zeros((m, n))
    result = eng.gemm(alpha, eng.matrix(a), eng.matrix(b), beta, c_dev,
                      trans_a=trans_a, trans_b=trans_b)
    assert result is c_dev
    assert_close(eng, c_dev, alpha * (a.T if trans_a else a) @ (b.T if trans_b else b) + beta * c)


def test_gemm_large(eng):
    """Big enough (m n k > 384^3) for CLBlast's tiled kernels, not only its direct small-matrix
    ones; ``a`` starts inside a buffer, as a view does."""
    m, n, k = 400, 392, 388
    a, b = rand(eng, m, k, seed=4), rand(eng, n, k, seed=5)
    a_dev = eng.view(eng.zeros(m * k + 3)[3:], (m, k))
    eng.transfer(a, a_dev)
    c = eng.zeros((m, n))
    eng.gemm(0.5, a_dev, eng.matrix(b), 0.0, c, trans_b=True)
    np.testing.assert_allclose(eng.to_numpy(c), 0.5 * a @ b.T, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (0.5, 2.0)])
def test_gemv(eng, trans_a, alpha, beta):
    a = rand(eng, 3, 5, seed=1)
    x = rand(eng, 3 if trans_a else 5, seed=2)
    y = rand(eng, 5 if trans_a else 3, seed=3)
    y_dev = eng.matrix(y)
    if beta == 0.0:
        eng.transfer(np.full(y.shape, np.nan), y_dev)
        y = np.zeros(y.shape)
    eng.gemv(alpha, eng.matrix(a), eng.matrix(x), beta, y_dev, trans_a=trans_a)
    assert_close(eng, y_dev, alpha * (a.T if trans_a else a) @ x + beta * y)


def test_ger(eng):
    a, x, y = rand(eng, 3, 5, seed=1), rand(eng, 3, seed=2), rand(eng, 5, seed=3)
    a_dev = eng.matrix(a)
    assert eng.ger(-0.7, eng.matrix(x), eng.matrix(y), a_dev) is a_dev
    assert_close(eng, a_dev, a - 0.7 * np.outer(x, y))


@pytest.mark.parametrize("shape", [(7,), (3, 4)])
def test_level1(eng, shape):
    x, y = rand(eng, *shape, seed=1), rand(eng, *shape, seed=2)
    x_dev, y_dev = eng.matrix(x), eng.matrix(y)
    assert eng.axpy(0.3, x_dev, y_dev) is y_dev
    assert_close(eng, y_dev, y + 0.3 * x)
    assert eng.scal(-1.5, y_dev) is y_dev
    assert_close(eng, y_dev, -1.5 * (y + 0.3 * x))
    assert eng.copy(x_dev, y_dev) is y_dev
    assert_close(eng, y_dev, x)
    assert eng.fill(y_dev, 2.5) is y_dev
    assert_close(eng, y_dev, np.full(shape, 2.5))
    norm = eng.nrm2(x_dev)  # of a matrix: the Frobenius norm
    assert isinstance(norm, float)
    np.testing.assert_allclose(norm, np.linalg.norm(x), **TOLERANCES[eng.dtype])


def test_level1_aliasing(eng):
    x = rand(eng, 2, 3)
    x_dev = eng.matrix(x)
    eng.axpy(0.5, x_dev, x_dev)
    assert_close(eng, x_dev, 1.5 * x)
    eng.copy(x_dev, x_dev)
    assert_close(eng, x_dev, 1.5 * x)


# ---- element-wise ---------------------------------------------------------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


ELEMENTWISE = {   # the derivatives take the activation's output: x stands for a there
    "tanh": np.tanh,
    "tanh_prime_from_output": lambda a: 1 - a * a,
    "sigmoid": sigmoid,
    "sigmoid_prime_from_output": lambda a: a * (1 - a),
}


@pytest.mark.parametrize("op", list(ELEMENTWISE))
@pytest.mark.parametrize("in_place", [False, True])
def test_activations(eng, op, in_place):
    x = rand(eng, 4, 6, scale=3.0)
    x_dev = eng.matrix(x)
    out = x_dev if in_place else eng.zeros((4, 6))
    assert getattr(eng, op)(x_dev, out) is out
    assert_close(eng, out, ELEMENTWISE[op](x))


@pytest.mark.parametrize("in_place", [False, True])
def test_mul(eng, in_place):
    x, y = rand(eng, 3, 4, seed=1), rand(eng, 3, 4, seed=2)
    x_dev = eng.matrix(x)
    out = x_dev if in_place else eng.zeros((3, 4))
    assert eng.mul(x_dev, eng.matrix(y), out) is out
    assert_close(eng, out, x * y)


def test_activations_at_large_inputs(eng):
    """Far from 0 the activations saturate, and their slopes, taken from the outputs, reach 0 to
    float32's resolution (PoCL's tanh stops one step short of 1, leaving 1 - a² = 1.2e-7), never
    NaN or a negative number."""
    x = np.array([-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0])
    big = np.abs(x) >= 100
    a, slope = eng.zeros(x.shape), eng.zeros(x.shape)
    for name, limits, slope_at_zero in [("tanh", (-1.0, 1.0), 1.0), ("sigmoid", (0.0, 1.0), 0.25)]:
        getattr(eng, name)(eng.matrix(x), a)
        getattr(eng, f"{name}_prime_from_output")(a, slope)
        outputs, slopes = eng.to_numpy(a), eng.to_numpy(slope)
        assert np.isfinite(outputs).all() and np.isfinite(slopes).all(), (name, outputs, slopes)
        np.testing.assert_allclose(outputs[[0, -1]], limits, atol=1e-7)
        assert outputs[3] == pytest.approx(sum(limits) / 2)
        assert slopes[3] == pytest.approx(slope_at_zero)
        assert (slopes >= 0).all() and (slopes[big] <= 2.4e-7).all(), (name, slopes)


def test_slopes_from_outputs_match_the_derivative_at_z(eng):
    """σ'(z) from a = σ(z) equals the derivative computed from z itself, to float32's absolute
    precision (the relative error grows where the slope is tiny: chapter 3)."""
    z = np.linspace(-12, 12, 2001)
    exact = {"tanh": 1 / np.cosh(z) ** 2, "sigmoid": 0.25 / np.cosh(z / 2) ** 2}
    a, slope = eng.zeros(z.shape), eng.zeros(z.shape)
    for name, expected in exact.items():
        getattr(eng, name)(eng.matrix(z), a)
        getattr(eng, f"{name}_prime_from_output")(a, slope)
        atol = 4e-7 if eng.dtype == np.float32 else 1e-15
        np.testing.assert_allclose(eng.to_numpy(slope), expected, rtol=0, atol=atol, err_msg=name)


def test_every_float32_engine_computes_the_same_slopes(eng):
    """1 - a*a and a*(1 - a) round the same way everywhere: no fused multiply-add on a device."""
    if eng.dtype != np.float32:
        pytest.skip("compares float32 engines with NumPy's float32")
    a_host = np.random.default_rng(3).uniform(-1, 1, (7, 301)).astype(np.float32)
    slope = eng.zeros(a_host.shape)
    for name, reference in [("tanh", 1 - a_host * a_host), ("sigmoid", a_host * (1 - a_host))]:
        getattr(eng, f"{name}_prime_from_output")(eng.matrix(a_host), slope)
        np.testing.assert_array_equal(eng.to_numpy(slope), reference, err_msg=name)


# ---- views: matrices that share one flat buffer ---------------------------------------------

def test_view_shares_memory(eng):
    flat = eng.matrix(np.arange(10.0))
    view = eng.view(flat, (2, 3))
    np.testing.assert_array_equal(eng.to_numpy(view), np.arange(6.0).reshape(2, 3))
    eng.fill(view, -1.0)
    np.testing.assert_array_equal(eng.to_numpy(flat), [-1] * 6 + [6, 7, 8, 9])


def test_operations_on_views_inside_one_buffer(eng):
    """Matrices that start inside a buffer (as the layers' work areas do): every operation must
    find its data at the view's offset and write nowhere else."""
    flat = eng.matrix(rand(eng, 60, seed=9))
    before = eng.to_numpy(flat).astype(np.float64)
    # disjoint pieces, none at offset 0: a (3, 4), b (4, 2), c (3, 2), vectors x (3), y (4),
    # and below z (4), w (3); entries 0 and 41.. belong to nobody
    a, b, c = eng.view(flat[1:], (3, 4)), eng.view(flat[13:], (4, 2)), eng.view(flat[21:], (3, 2))
    x, y = flat[27:30], flat[30:34]
    ha, hb = before[1:13].reshape(3, 4), before[13:21].reshape(4, 2)
    hc = before[21:27].reshape(3, 2)
    hx, hy = before[27:30], before[30:34]

    eng.gemm(0.5, a, b, 2.0, c)
    eng.gemv(1.0, a, x, -1.0, y, trans_a=True)
    assert_close(eng, c, 0.5 * ha @ hb + 2.0 * hc)
    assert_close(eng, y, ha.T @ hx - hy)
    eng.ger(2.0, x, y, a)
    assert_close(eng, a, ha + 2.0 * np.outer(hx, ha.T @ hx - hy))
    eng.tanh(c, c)
    eng.mul(x, x, x)
    assert_close(eng, c, np.tanh(0.5 * ha @ hb + 2.0 * hc))
    assert_close(eng, x, hx**2)
    z, w = flat[34:38], flat[38:41]
    eng.axpy(0.5, y, z)
    eng.copy(x, w)
    eng.scal(3.0, b)
    eng.synchronize()
    assert_close(eng, z, before[34:38] + 0.5 * (ha.T @ hx - hy))
    assert_close(eng, w, hx**2)
    assert_close(eng, b, 3.0 * hb)
    np.testing.assert_allclose(eng.nrm2(b), 3.0 * np.linalg.norm(hb), **TOLERANCES[eng.dtype])
    untouched = np.r_[0, 41:60]
    np.testing.assert_array_equal(eng.to_numpy(flat)[untouched], before[untouched])


# ---- starting engines: the reasons they give when they cannot --------------------------------

def test_cuda_without_cupy_says_what_to_install(monkeypatch):
    from nnlib.engines import cuda
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` fail
    with pytest.raises(EngineUnavailable, match="CuPy is not installed.*pip install cupy-cuda12x"):
        cuda.cuda_float()


def test_cuda_without_gpu_says_so(monkeypatch):
    from nnlib.engines import cuda

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    fake.cublas = types.ModuleType("cupy.cublas")
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(sys.modules, "cupy.cublas", fake.cublas)
    with pytest.raises(EngineUnavailable, match="no NVIDIA GPU found: cudaErrorNoDevice"):
        cuda.cuda_float()


def opencl_module():
    """The OpenCL engine's module (it imports without pyopencl); skips where pyopencl is missing."""
    from nnlib.engines import opencl
    if opencl.cl is None or opencl.pyclblast is None:
        conftest.engine("opencl_float")   # skips, saying which is missing (fails in CI)
    return opencl


def test_opencl_reasons(monkeypatch):
    opencl = opencl_module()
    monkeypatch.setattr(opencl, "pyclblast", None)
    with pytest.raises(EngineUnavailable, match="pyclblast is not installed.*libclblast-dev"):
        opencl.opencl_float()
    monkeypatch.undo()

    def no_platform():
        raise opencl.cl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")

    monkeypatch.setattr(opencl.cl, "get_platforms", no_platform)
    with pytest.raises(EngineUnavailable, match=r"no OpenCL platform found.*pyopencl\[pocl\]"):
        opencl.opencl_float()


def test_opencl_device_choice():
    opencl = opencl_module()
    devices, _ = opencl._devices()
    if not devices:
        conftest.engine("opencl_float")   # skips, saying why (and fails in CI)
    for choice in (0, devices[0].name[:5]):
        with opencl.opencl_float(choice) as engine:
            assert engine.device == devices[0]
            assert_close(engine, engine.matrix([[1.0, 2.0]]), [[1.0, 2.0]])
        assert not engine._kernels  # closed by the with block
    for missing in (len(devices), "no such device"):
        with pytest.raises(EngineUnavailable, match="the devices are 0: "):
            opencl.opencl_float(missing)
    with pytest.raises(TypeError):
        opencl.opencl_float(1.5)


def test_opencl_use_after_release_is_an_error_not_a_crash():
    opencl = opencl_module()
    conftest.engine("opencl_float")   # skips where no OpenCL device starts (fails in CI)
    engine = opencl.opencl_float()
    with engine:
        x = engine.matrix([[1.0, 2.0]])
        engine.release(x)
        with pytest.raises(ValueError, match="released"):
            engine.to_numpy(x)
        with pytest.raises(ValueError, match="released"):
            engine.tanh(engine.zeros((1, 2)), x)
