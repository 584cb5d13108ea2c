"""The CUDA engine: matrices are CuPy arrays on an NVIDIA GPU, BLAS is cuBLAS.

CuPy's arrays behave like NumPy's, so this engine reads almost like the NumPy one. The matrix
products and the level-1 routines call cuBLAS through ``cupy.cublas``, which writes into the
destination we give it (``cupy.matmul`` would allocate a temporary for ``alpha`` and ``beta``).
The activations' derivatives and the sigmoid are small CUDA kernels of our own, one pass over the
data each, compiled by CuPy on first use and cached on disk.

CuPy is imported only when the engine starts, so ``import nnlib`` works on machines without it.
Like OpenCL, CUDA queues the work: operations return at once, and ``synchronize()``, ``to_numpy``
or ``nrm2`` wait for it.
"""

import numpy as np

from .base import Engine, EngineUnavailable, ReleasedBuffers, misfit

__all__ = ["CudaEngine", "cuda_float"]

_UNAVAILABLE = "CUDA engine unavailable: "

# Arrays given back with release: CuPy frees an array only when Python collects it, so a released
# one would silently work on; each operation refuses them, for the price of ``if _released:``.
_released = ReleasedBuffers()

class CudaEngine(Engine):
    """Matrices are C-ordered float32 CuPy arrays on the GPU that was current when it started."""

    name = "cuda_float"
    dtype = np.dtype(np.float32)

    def __init__(self, cupy):
        self._cp = cupy
        self.device = cupy.cuda.Device()
        self._blas = cupy.cublas

        def unary(name, body):
            return cupy.ElementwiseKernel("float32 x", "float32 y", body, name)

        self._sigmoid = unary("nnlib_sigmoid", "y = 0.5f * tanhf(0.5f * x) + 0.5f")
        # __fmul_rn keeps nvcc from fusing 1 - a * a into one multiply-add, so the product is
        # rounded first, as on the other engines
        self._tanh_prime = unary("nnlib_tanh_prime_from_output", "y = 1.0f - __fmul_rn(x, x)")
        self._sigmoid_prime = unary("nnlib_sigmoid_prime_from_output", "y = x * (1.0f - x)")

    def __repr__(self):
        return f"<{self.name} engine, {self.dtype}, on GPU {self.device.id}>"

    def owns(self, x):
        return (isinstance(x, self._cp.ndarray) and x.dtype == self.dtype and x.ndim in (1, 2)
                and x.device.id == self.device.id)

    def _foreign(self, x):
        if isinstance(x, self._cp.ndarray) and x.dtype == self.dtype and x.ndim in (1, 2):
            return f"it is on GPU {x.device.id}, this engine on GPU {self.device.id}"
        return None

    def is_released(self, x):
        return id(x) in _released or id(x.base) in _released

    def zeros(self, shape):
        return self._cp.zeros(shape, dtype=self.dtype)

    def _from_host(self, host, dest):
        dest.set(host)

    def _to_host(self, x):
        return x.get()

    def all_finite(self, x):
        if _released:
            _released.refuse(x)
        return bool(self._cp.isfinite(x).all())

    def release(self, x):
        """Mark ``x`` (and, for a view, the array it views) as released: every later use of it, or
        of a view sharing it, is refused, as on the other engines. The memory itself goes back to
        CuPy's pool once no Python name refers to ``x`` (``del x``): freeing it earlier could pull
        it from under a view. ``close()`` hands the pool's unused blocks back to the driver."""
        super().release(x)
        _released.add(x if x.base is None else x.base)

    def synchronize(self):
        self._cp.cuda.get_current_stream().synchronize()

    def close(self):
        """Wait for queued work, then return CuPy's cached free memory to the GPU driver."""
        self.synchronize()
        self._cp.get_default_memory_pool().free_all_blocks()

    def _flat(self, x):
        """``x`` as a 1-D view, the form cuBLAS's vector routines take
        (a copy would lose writes)."""
        if not x.flags.c_contiguous:
            raise ValueError(f"the {self.name} engine needs C-contiguous matrices, "
                             f"got strides {x.strides}")
        return x.reshape(x.size)

    # ---- BLAS-like ----
    # The shapes are checked here, so that a misfit reads as on the other engines.

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        if _released:
            _released.refuse(a, b, c)
        m, k = a.shape[::-1] if trans_a else a.shape
        k_b, n = b.shape[::-1] if trans_b else b.shape
        if k != k_b or c.shape != (m, n):
            raise misfit("gemm", op_a=(m, k), op_b=(k_b, n), c=c.shape)
        # cupy.cublas handles C order itself (by computing the transposed product)
        self._blas.gemm("T" if trans_a else "N", "T" if trans_b else "N", a, b,
                             out=c, alpha=alpha, beta=beta)
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        if _released:
            _released.refuse(a, x, y)
        rows, cols = a.shape[::-1] if trans_a else a.shape
        if x.shape != (cols,) or y.shape != (rows,):
            raise misfit("gemv", op_a=(rows, cols), x=x.shape, y=y.shape)
        self._blas.gemv("T" if trans_a else "N", alpha, a, x, beta, y)
        return y

    def ger(self, alpha, x, y, a):
        if _released:
            _released.refuse(x, y, a)
        if x.ndim != 1 or y.ndim != 1 or a.shape != (x.shape[0], y.shape[0]):
            raise misfit("ger", x=x.shape, y=y.shape, a=a.shape)
        self._blas.ger(alpha, x, y, a)
        return a

    def axpy(self, alpha, x, y):
        if _released:
            _released.refuse(x, y)
        if x.shape != y.shape:
            raise misfit("axpy", x=x.shape, y=y.shape)
        self._blas.axpy(alpha, self._flat(x), self._flat(y))
        return y

    def scal(self, alpha, x):
        if _released:
            _released.refuse(x)
        self._blas.scal(alpha, self._flat(x))
        return x

    def copy(self, x, y):
        if _released:
            _released.refuse(x, y)
        if x.shape != y.shape:
            raise misfit("copy", x=x.shape, y=y.shape)
        self._cp.copyto(y, x)
        return y

    def fill(self, x, value):
        if _released:
            _released.refuse(x)
        x.fill(value)
        return x

    def nrm2(self, x):
        if _released:
            _released.refuse(x)
        return float(self._blas.nrm2(self._flat(x)))

    # ---- element-wise ----

    def mul(self, x, y, out):
        if _released:
            _released.refuse(x, y, out)
        return self._cp.multiply(x, y, out=out)

    def tanh(self, x, out):
        if _released:
            _released.refuse(x, out)
        return self._cp.tanh(x, out=out)

    def tanh_prime_from_output(self, a, out):
        if _released:
            _released.refuse(a, out)
        return self._tanh_prime(a, out)

    def sigmoid(self, x, out):
        if _released:
            _released.refuse(x, out)
        return self._sigmoid(x, out)

    def sigmoid_prime_from_output(self, a, out):
        if _released:
            _released.refuse(a, out)
        return self._sigmoid_prime(a, out)


def cuda_float():
    """The CUDA engine in float32 on the current GPU, or EngineUnavailable saying why not."""
    try:
        import cupy
        import cupy.cublas  # a submodule that `import cupy` alone need not load
    except ImportError as e:
        raise EngineUnavailable(f"{_UNAVAILABLE}CuPy is not installed "
                                "(pip install cupy-cuda12x on a machine with an NVIDIA GPU)") from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError when there is no driver or no GPU
        raise EngineUnavailable(f"{_UNAVAILABLE}no NVIDIA GPU found: {e}") from e
    if count == 0:
        raise EngineUnavailable(f"{_UNAVAILABLE}no NVIDIA GPU found: the CUDA driver lists none")
    return CudaEngine(cupy)
