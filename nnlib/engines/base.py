"""The engine interface: matrices on a device and the BLAS-like operations on them.

An engine is the Python stand-in for a Neanderthal *factory*. It creates matrices on its device and
runs the operations the layers need. Every operation writes into a destination the caller allocated
beforehand, so a training loop allocates nothing once it is running. The layers and networks are
written once, against this interface; each engine (NumPy, OpenCL, CUDA) implements it for its
device.

Matrices hold one example per column, as in the article: a batch of 10 inputs of 2 features is a
2 x 10 matrix. Engines store them row-major (C order); chapter 2 explains why that is no problem.
"""

import numpy as np

__all__ = ["Engine", "EngineUnavailable"]


class EngineUnavailable(RuntimeError):
    """An engine cannot start here. The message says why and what to install."""


class Engine:
    """Base class of the engines. Subclasses implement the device-specific methods below.

    Naming follows BLAS, because that is what the article (and every GPU library) builds on:
    ``gemm`` (matrix times matrix), ``gemv`` (matrix times vector), ``ger`` (rank-1 update),
    ``axpy`` (``y += alpha * x``), ``scal`` (``x *= alpha``), ``nrm2`` (Euclidean norm).
    """

    name = "engine"
    dtype = np.dtype(np.float32)

    # ---- creating, moving and releasing matrices -------------------------------------------

    def matrix(self, data):
        """A new matrix (or vector) on this engine, copied from nested lists or a NumPy array."""
        host = np.asarray(data)
        if host.ndim not in (1, 2):
            raise ValueError(f"matrix data must be 1-D or 2-D, got {host.ndim}-D "
                             f"with shape {host.shape}")
        if host.size == 0:
            raise ValueError(f"matrix data is empty (shape {host.shape}); give at least one entry")
        if not (np.issubdtype(host.dtype, np.number) or host.dtype == bool):
            raise TypeError(f"matrix data must be numbers, got {host.dtype}")
        dest = self.zeros(host.shape)
        self.transfer(host, dest)
        return dest

    def vector(self, data):
        """A new 1-D vector on this engine, copied from a list or a 1-D array."""
        host = np.asarray(data)
        if host.ndim != 1:
            raise ValueError(f"vector data must be 1-D, got shape {host.shape}")
        return self.matrix(host)

    def zeros(self, shape):
        """A new matrix of zeros; ``shape`` is ``(rows, cols)`` or ``(n,)`` for a vector."""
        raise NotImplementedError

    def transfer(self, host, dest):
        """Copy host data (nested lists or a NumPy array) into ``dest``; shapes must match.
        Returns ``dest``."""
        self.check(dest, "destination")
        host = np.asarray(host)
        if host.shape != tuple(dest.shape):
            raise ValueError(
                f"cannot transfer data of shape {host.shape} "
                f"into a matrix of shape {tuple(dest.shape)}; "
                "reshape the data first (for the article's column-by-column lists use "
                "np.reshape(data, shape, order='F'))")
        if not (np.issubdtype(host.dtype, np.number) or host.dtype == bool):
            raise TypeError(f"cannot transfer {host.dtype} data; give numbers")
        self._from_host(np.ascontiguousarray(host, dtype=self.dtype), dest)
        return dest

    def to_numpy(self, x):
        """A NumPy copy of ``x`` on the host (always a copy, so it outlives ``x``)."""
        self.check(x, "matrix")
        return self._to_host(x)

    def view(self, buffer, shape):
        """A matrix of ``shape`` that shares the first entries of the flat ``buffer`` (no copy)."""
        rows, cols = shape
        return buffer[: rows * cols].reshape(rows, cols)

    def release(self, x):
        """Give the device memory of ``x`` back now rather than when Python collects it.

        Release only what you allocated: releasing a view releases the buffer it shares."""

    def synchronize(self):
        """Wait until every operation queued on this engine has finished."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Release the engine's own resources (queues, kernels). A no-op where there are none."""

    # ---- checks ------------------------------------------------------------------------------

    def owns(self, x):
        """True when ``x`` is a matrix of this engine (right array type, dtype and device)."""
        raise NotImplementedError

    def check(self, x, what="matrix", shape=None):
        """Raise a clear error unless ``x`` is this engine's matrix (of ``shape``, when given)."""
        if not self.owns(x):
            kind = type(x).__name__
            dtype = getattr(x, "dtype", None)
            raise TypeError(
                f"{what} must be a {self.dtype} matrix of the {self.name} engine, got {kind}"
                + (f" of {dtype}" if dtype is not None else "")
                + f"; create it with this engine (eng.matrix(...)) or copy it with eng.transfer")
        if shape is not None and tuple(x.shape) != tuple(shape):
            raise ValueError(f"{what} has shape {tuple(x.shape)}, expected {tuple(shape)}")
        return x

    def __repr__(self):
        return f"<{self.name} engine, {self.dtype}>"

    # ---- device-specific pieces every engine provides ------------------------------------------

    def _from_host(self, host, dest):
        raise NotImplementedError

    def _to_host(self, x):
        raise NotImplementedError

    # ---- BLAS-like operations (all in place, on preallocated destinations) --------------------
    # Each returns its destination, so calls can be nested as in the article.

    def gemm(self, alpha, a, b, beta, c, trans_a=False, trans_b=False):
        """``c = alpha * op(a) @ op(b) + beta * c``, where ``op`` transposes when asked."""
        raise NotImplementedError

    def gemv(self, alpha, a, x, beta, y, trans_a=False):
        """``y = alpha * op(a) @ x + beta * y`` for a matrix ``a`` and vectors ``x``, ``y``."""
        raise NotImplementedError

    def ger(self, alpha, x, y, a):
        """Rank-1 update ``a += alpha * outer(x, y)``."""
        raise NotImplementedError

    def axpy(self, alpha, x, y):
        """``y += alpha * x``."""
        raise NotImplementedError

    def scal(self, alpha, x):
        """``x *= alpha``."""
        raise NotImplementedError

    def copy(self, x, y):
        """Copy the entries of ``x`` into ``y`` (same shape)."""
        raise NotImplementedError

    def fill(self, x, value):
        """Set every entry of ``x`` to ``value``."""
        raise NotImplementedError

    def nrm2(self, x):
        """The Euclidean (Frobenius, for a matrix) norm of ``x``, as a Python float.

        Reading a number back to the host waits for the device, so this also synchronizes."""
        raise NotImplementedError

    def all_finite(self, x):
        """True when no entry of ``x`` is NaN or infinite (checked before training touches it)."""
        return bool(np.isfinite(self._to_host(x)).all())

    # ---- element-wise operations (``out`` may be the input itself) ------------------------------

    def mul(self, x, y, out):
        """``out = x * y``, entry by entry."""
        raise NotImplementedError

    def tanh(self, x, out):
        """``out = tanh(x)``."""
        raise NotImplementedError

    def tanh_prime(self, x, out):
        """``out = tanh'(x) = 1 / cosh(x)**2``."""
        raise NotImplementedError

    def sigmoid(self, x, out):
        """``out = 1 / (1 + exp(-x))``, computed as ``0.5 * tanh(0.5 * x) + 0.5`` (no overflow)."""
        raise NotImplementedError

    def sigmoid_prime(self, x, out):
        """``out = sigmoid(x) * (1 - sigmoid(x))``, which equals ``0.25 / cosh(x / 2)**2``."""
        raise NotImplementedError
