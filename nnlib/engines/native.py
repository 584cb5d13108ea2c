"""The NumPy engine: matrices are NumPy arrays in host memory, products are BLAS calls.

It is the default engine, always available, and the reference the other engines are tested
against. ``native_float()`` computes in float32, like the article; ``native_double()`` in float64.
"""

import warnings

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from .base import Engine, ReleasedBuffers, misfit

__all__ = ["NativeEngine", "native_float", "native_double", "fused_unavailable"]

# NumPy memory belongs to no engine instance: an array released through one native engine is
# refused by all of them. Each operation starts with ``if _released:``, free while it is empty.
_released = ReleasedBuffers()


class NativeEngine(Engine):
    """Matrices are C-ordered NumPy arrays of one dtype; every operation writes in place."""

    fused = False   # the element-wise steps are NumPy's passes (native_float(fused=True): loops)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self.name = f"native_{'float' if self.dtype == np.float32 else 'double'}"

    def owns(self, x):
        return isinstance(x, np.ndarray) and x.dtype == self.dtype and x.ndim in (1, 2)

    def zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)

    def release(self, x):
        """NumPy frees an array only when Python collects it, and freeing it earlier could pull
        memory from under a view, so ``x`` stays allocated. The array that owns its memory is
        recorded instead, and every later use of it or of any view of it is refused, as on the
        other engines."""
        super().release(x)
        _released.add(x.base if isinstance(x.base, np.ndarray) else x)

    def is_released(self, x):
        return id(x) in _released or id(x.base) in _released

    def _from_host(self, host, dest):
        dest[...] = host

    def _to_host(self, x):
        return np.array(x, copy=True)

    def all_finite(self, x):
        if _released:
            _released.refuse(x)
        if not x.size:
            return True
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
        if _released:
            _released.refuse(a, b, c)
        op_a = a.T if trans_a else a
        op_b = b.T if trans_b else b
        if op_a.shape[1] != op_b.shape[0] or c.shape != (op_a.shape[0], op_b.shape[1]):
            raise misfit("gemm", op_a=op_a.shape, op_b=op_b.shape, c=c.shape)
        if not c.flags.c_contiguous:
            c[...] = alpha * (op_a @ op_b) + (beta * c if beta else 0)
            return c
        # c.T = alpha * op(b).T @ op(a).T + beta * c.T, with b.T and a.T Fortran-ordered views
        self._blas("gemm")(alpha, b.T, a.T, beta, c.T, trans_a=trans_b, trans_b=trans_a,
                           overwrite_c=True)
        return c

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        if _released:
            _released.refuse(a, x, y)
        rows, cols = (a.shape[1], a.shape[0]) if trans_a else a.shape
        if x.shape != (cols,) or y.shape != (rows,):
            raise misfit("gemv", op_a=(rows, cols), x=x.shape, y=y.shape)
        if not y.flags.c_contiguous:
            y[...] = alpha * ((a.T if trans_a else a) @ x) + (beta * y if beta else 0)
            return y
        self._blas("gemv")(alpha, a.T, x, beta, y, trans=0 if trans_a else 1, overwrite_y=True)
        return y

    def ger(self, alpha, x, y, a):
        if _released:
            _released.refuse(x, y, a)
        if x.ndim != 1 or y.ndim != 1 or a.shape != (x.shape[0], y.shape[0]):
            raise misfit("ger", x=x.shape, y=y.shape, a=a.shape)
        if not a.flags.c_contiguous:
            a += alpha * np.multiply.outer(x, y)
            return a
        self._blas("ger")(alpha, y, x, a=a.T, overwrite_a=True)   # a.T += alpha * y x.T
        return a

    def axpy(self, alpha, x, y):
        if _released:
            _released.refuse(x, y)
        if x.shape != y.shape:
            raise misfit("axpy", x=x.shape, y=y.shape)
        if not y.flags.c_contiguous:
            y += alpha * x
            return y
        self._blas("axpy")(x.reshape(-1), y.reshape(-1), a=alpha)
        return y

    def scal(self, alpha, x):
        if _released:
            _released.refuse(x)
        x *= self.dtype.type(alpha)
        return x

    def copy(self, x, y):
        if _released:
            _released.refuse(x, y)
        if x.shape != y.shape:   # np.copyto would broadcast; the other engines refuse
            raise misfit("copy", x=x.shape, y=y.shape)
        if x is not y:           # a host buffer that is the matrix itself (nn.train) is there
            np.copyto(y, x)
        return y

    def fill(self, x, value):
        if _released:
            _released.refuse(x)
        x.fill(value)
        return x

    def nrm2(self, x):
        if _released:
            _released.refuse(x)
        return float(np.linalg.norm(x))

    # ---- element-wise ----
    # The derivatives are taken from the activation's output a, which the training layer has at
    # hand: two cheap passes each, where the article's 1 / cosh² needs cosh, which NumPy
    # vectorizes only on some CPUs. (Splitting these passes over the cores in a thread pool was
    # tried and measured: in an epoch it gained nothing, because OpenBLAS's threads are still
    # spinning on the other cores after each product.)

    def mul(self, x, y, out):
        if _released:
            _released.refuse(x, y, out)
        return np.multiply(x, y, out=out)

    def tanh(self, x, out):
        if _released:
            _released.refuse(x, out)
        return np.tanh(x, out=out)

    def tanh_prime_from_output(self, a, out):      # 1 - a²
        if _released:
            _released.refuse(a, out)
        np.multiply(a, a, out=out)
        return np.subtract(self.dtype.type(1), out, out=out)

    def sigmoid(self, x, out):                     # 0.5 tanh(0.5 x) + 0.5: no exp to overflow
        if _released:
            _released.refuse(x, out)
        half = self.dtype.type(0.5)
        np.multiply(x, half, out=out)
        np.tanh(out, out=out)
        out *= half
        out += half
        return out

    def sigmoid_prime_from_output(self, a, out):   # a (1 - a)
        if _released:
            _released.refuse(a, out)
        if np.may_share_memory(a, out):   # in place, a is needed twice: use a temporary
            out *= 1 - a
            return out
        np.subtract(self.dtype.type(1), a, out=out)
        return np.multiply(out, a, out=out)


def native_float(fused=False):
    """The NumPy engine in float32 (the article's precision).

    ``fused=True`` compiles its element-wise steps with Numba, one sweep over memory each
    (chapter 6, ``nnlib.engines.fused``). Where Numba cannot be imported or compile, it warns why
    and returns the plain engine, which computes the same thing."""
    if fused:
        reason = fused_unavailable()
        if reason is None:
            from .fused import FusedNativeEngine
            return FusedNativeEngine()
        warnings.warn(f"native_float(fused=True): {reason}; using the plain NumPy engine",
                      RuntimeWarning, stacklevel=2)
    return NativeEngine(np.float32)


_fused_reason = []


def fused_unavailable():
    """Why ``native_float(fused=True)`` cannot compile its loops here, or None where it can.
    Found out once per process: importing Numba and loading (or compiling) the loops."""
    if not _fused_reason:
        try:
            from .fused import FusedNativeEngine
            FusedNativeEngine()
            _fused_reason.append(None)
        except ImportError as error:
            _fused_reason.append(f"Numba is not installed ({error}; pip install numba)")
        except Exception as error:   # Numba is there but cannot compile on this platform
            _fused_reason.append(f"Numba cannot compile the loops here "
                                 f"({type(error).__name__}: {error})")
    return _fused_reason[0]


def native_double():
    """The NumPy engine in float64, for reference results and gradient checks."""
    return NativeEngine(np.float64)
