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

from .base import Engine, EngineUnavailable

__all__ = ["CudaEngine", "cuda_float"]

_UNAVAILABLE = "CUDA engine unavailable: "

# sech(x)^2 = 4 e / (1 + e)^2 with e = exp(-2|x|): no cosh to overflow, and the large-|x| limit
# comes out as exactly 0 (e underflows); the OpenCL engine's kernels use the same formula
_SECH2 = """
__device__ float nnlib_sech2(float x) {
    float e = expf(-2.0f * fabsf(x));
    return 4.0f * e / ((1.0f + e) * (1.0f + e));
}
"""


class CudaEngine(Engine):
    """Matrices are C-ordered float32 CuPy arrays on the GPU that was current when it started."""

    name = "cuda_float"
    dtype = np.dtype(np.float32)

    def __init__(self, cupy):
        self._cp = cupy
        self.device = cupy.cuda.Device()
        self._blas = cupy.cublas

        def unary(name, body, preamble=""):
            return cupy.ElementwiseKernel("float32 x", "float32 y", body, name, preamble=preamble)

        self._sigmoid = unary("nnlib_sigmoid", "y = 0.5f * tanhf(0.5f * x) + 0.5f")
        self._tanh_prime = unary("nnlib_tanh_prime", "y = nnlib_sech2(x)", _SECH2)
        self._sigmoid_prime = unary("nnlib_sigmoid_prime", "y = 0.25f * nnlib_sech2(0.5f * x)",
                                    _SECH2)

    def __repr__(self):
        return f"<{self.name} engine, {self.dtype}, on GPU {self.device.id}>"

    def owns(self, x):
        return (isinstance(x, self._cp.ndarray) and x.dtype == self.dtype and x.ndim in (1, 2)
                and x.device.id == self.device.id)

    def zeros(self, shape):
        return self._cp.zeros(shape, dtype=self.dtype)

    def _from_host(self, host, dest):
        dest.set(host)

    def _to_host(self, x):
        return x.get()

    def all_finite(self, x):
        return bool(self._cp.isfinite(x).all())

    def release(self, x):
        """Nothing to do: CuPy gives the memory back to its pool as soon as no Python name refers
        to ``x`` (``del x``); ``close()`` hands the pool's unused blocks back to the driver."""

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

    @staticmethod
    def _same_shape(x, y):
        if x.shape != y.shape:
            raise ValueError(f"shapes differ: {x.shape} and {y.shape}")

    # ---- BLAS-like ----

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        # cupy.cublas handles C order itself (by computing the transposed product)
        self._blas.gemm("T" if trans_a else "N", "T" if trans_b else "N", a, b,
                             out=c, alpha=alpha, beta=beta)
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        self._blas.gemv("T" if trans_a else "N", alpha, a, x, beta, y)
        return y

    def ger(self, alpha, x, y, a):
        self._blas.ger(alpha, x, y, a)
        return a

    def axpy(self, alpha, x, y):
        self._same_shape(x, y)
        self._blas.axpy(alpha, self._flat(x), self._flat(y))
        return y

    def scal(self, alpha, x):
        self._blas.scal(alpha, self._flat(x))
        return x

    def copy(self, x, y):
        self._same_shape(x, y)
        self._cp.copyto(y, x)
        return y

    def fill(self, x, value):
        x.fill(value)
        return x

    def nrm2(self, x):
        return float(self._blas.nrm2(self._flat(x)))

    # ---- element-wise ----

    def mul(self, x, y, out):
        return self._cp.multiply(x, y, out=out)

    def tanh(self, x, out):
        return self._cp.tanh(x, out=out)

    def tanh_prime(self, x, out):
        return self._tanh_prime(x, out)

    def sigmoid(self, x, out):
        return self._sigmoid(x, out)

    def sigmoid_prime(self, x, out):
        return self._sigmoid_prime(x, out)


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
