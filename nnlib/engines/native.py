"""The NumPy engine: matrices are NumPy arrays in host memory, BLAS is whatever NumPy links to.

It is the default engine, always available, and the reference the other engines are tested
against. ``native_float()`` computes in float32, like the article; ``native_double()`` in float64.
"""

import numpy as np

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
        return bool(np.isfinite(x).all())

    # ---- BLAS-like ----

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        a = a.T if trans_a else a
        b = b.T if trans_b else b
        if beta == 0.0:
            np.matmul(a, b, out=c)
            if alpha != 1.0:
                c *= self.dtype.type(alpha)
        else:
            if beta != 1.0:
                c *= self.dtype.type(beta)
            c += self.dtype.type(alpha) * (a @ b)
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        self.gemm(alpha, a, x[:, None], beta, y[:, None], trans_a=trans_a)
        return y

    def ger(self, alpha, x, y, a):
        a += self.dtype.type(alpha) * np.multiply.outer(x, y)
        return a

    def axpy(self, alpha, x, y):
        y += self.dtype.type(alpha) * x
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
