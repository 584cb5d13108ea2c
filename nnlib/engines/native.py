"""The NumPy engine: matrices are NumPy arrays in host memory, products are BLAS calls.

It is the default engine, always available, and the reference the other engines are tested
against. ``native_float()`` computes in float32, like the article; ``native_double()`` in float64.
"""

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from .base import Engine

__all__ = ["NativeEngine", "native_float", "native_double"]


class NativeEngine(Engine):
    """Matrices are C-ordered NumPy arrays of one dtype; every operation writes in place."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.name = f"native_{'float' if self.dtype == np.float32 else 'double'}"

    def owns(self, x):
        return isinstance(x, np.ndarray) and x.dtype == self.dtype and x.ndim in (1, 2)

    def zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)

    def _from_host(self, host, dest):
        dest[...] = host

    def _to_host(self, x):
        return np.array(x, copy=True)

    def all_finite(self, x):
        # min and max see every NaN and infinity, and unlike np.isfinite(x) allocate nothing
        return bool(np.isfinite(x.min()) and np.isfinite(x.max()))

    # ---- BLAS-like ----
    # BLAS proper (through SciPy's wrappers), because NumPy's operators would allocate a temporary
    # for every alpha, beta and outer product. BLAS is column-major; a C-ordered matrix is the
    # column-major storage of its transpose, so each call works on transposes: ``a.T`` is a
    # Fortran-ordered view that BLAS updates in place. A destination that is not contiguous (a
    # slice a reader made) takes NumPy's slower, allocating path instead of being silently copied.

    def _blas(self, name):
        return get_blas_funcs(name, dtype=self.dtype)

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        op_a = a.T if trans_a else a
        op_b = b.T if trans_b else b
        if op_a.shape[1] != op_b.shape[0] or c.shape != (op_a.shape[0], op_b.shape[1]):
            raise ValueError(f"gemm shapes do not fit: {op_a.shape} @ {op_b.shape} into {c.shape}")
        if not c.flags.c_contiguous:
            c[...] = alpha * (op_a @ op_b) + (beta * c if beta else 0)
            return c
        # c.T = alpha * op(b).T @ op(a).T + beta * c.T, with b.T and a.T Fortran-ordered views
        self._blas("gemm")(alpha, b.T, a.T, beta, c.T, trans_a=trans_b, trans_b=trans_a,
                           overwrite_c=True)
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        rows, cols = (a.shape[1], a.shape[0]) if trans_a else a.shape
        if x.shape != (cols,) or y.shape != (rows,):
            raise ValueError(f"gemv shapes do not fit: {a.shape}{'ᵀ' if trans_a else ''} "
                             f"@ {x.shape} into {y.shape}")
        if not y.flags.c_contiguous:
            y[...] = alpha * ((a.T if trans_a else a) @ x) + (beta * y if beta else 0)
            return y
        self._blas("gemv")(alpha, a.T, x, beta, y, trans=0 if trans_a else 1, overwrite_y=True)
        return y

    def ger(self, alpha, x, y, a):
        if a.shape != (x.shape[0], y.shape[0]):
            raise ValueError(f"ger shapes do not fit: outer{x.shape, y.shape} into {a.shape}")
        if not a.flags.c_contiguous:
            a += alpha * np.multiply.outer(x, y)
            return a
        self._blas("ger")(alpha, y, x, a=a.T, overwrite_a=True)   # a.T += alpha * y x.T
        return a

    def axpy(self, alpha, x, y):
        if x.shape != y.shape:
            raise ValueError(f"axpy shapes differ: {x.shape} and {y.shape}")
        if not y.flags.c_contiguous:
            y += alpha * x
            return y
        self._blas("axpy")(x.reshape(-1), y.reshape(-1), a=alpha)
        return y

    def scal(self, alpha, x):
        x *= self.dtype.type(alpha)
        return x

    def copy(self, x, y):
        np.copyto(y, x)
        return y

    def fill(self, x, value):
        x.fill(value)
        return x

    def nrm2(self, x):
        return float(np.linalg.norm(x))

    # ---- element-wise ----

    def mul(self, x, y, out):
        return np.multiply(x, y, out=out)

    def tanh(self, x, out):
        return np.tanh(x, out=out)

    def tanh_prime(self, x, out):
        # 1 / cosh(x)**2: no cancellation, and cosh overflowing to inf gives the right limit, 0
        with np.errstate(over="ignore"):
            np.cosh(x, out=out)
            np.square(out, out=out)
        return np.reciprocal(out, out=out)

    def sigmoid(self, x, out):
        np.multiply(x, self.dtype.type(0.5), out=out)
        np.tanh(out, out=out)
        out *= self.dtype.type(0.5)
        out += self.dtype.type(0.5)
        return out

    def sigmoid_prime(self, x, out):
        # s * (1 - s) equals 0.25 / cosh(x / 2)**2: computed in place, without a work buffer and
        # without the cancellation of 1 - s when s is close to 1
        np.multiply(x, self.dtype.type(0.5), out=out)
        self.tanh_prime(out, out)
        out *= self.dtype.type(0.25)
        return out


def native_float():
    """The NumPy engine in float32 (the article's precision)."""
    return NativeEngine(np.float32)


def native_double():
    """The NumPy engine in float64, for reference results and gradient checks."""
    return NativeEngine(np.float64)
