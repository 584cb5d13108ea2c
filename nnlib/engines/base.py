"""The engine interface: matrices on a device and the BLAS-like operations on them.

An engine is the Python stand-in for a Neanderthal *factory*. It creates matrices on its device and
runs the operations the layers need. Every operation writes into a destination the caller allocated
beforehand, so a training loop allocates nothing once it is running. The layers and networks are
written once, against this interface; each engine (NumPy, OpenCL, CUDA) implements it for its
device.

Matrices hold one example per column, as in the article: a batch of 10 inputs of 2 features is a
2 x 10 matrix. Engines store them row-major (C order); chapter 2 explains why that is no problem.
"""

import weakref
from functools import partial

import numpy as np

__all__ = ["Engine", "EngineUnavailable", "ReleasedBuffers", "RELEASED", "misfit"]

RELEASED = "this matrix was released (eng.release); create a new one"


class EngineUnavailable(RuntimeError):
    """An engine cannot start here. The message says why and what to install."""


class _Anchor:
    """Lives exactly as long as the object that holds it as an attribute, so a weak reference to
    it tells when a holder that takes no weak references itself (pyopencl's Buffer) is collected."""

    __slots__ = ("__weakref__",)


class ReleasedBuffers(dict):
    """The buffers given back with ``eng.release`` that are still alive, as ``{id: weakref}``.

    A NumPy or CuPy array cannot forget its memory, and an OpenCL view keeps the buffer another
    view released, so engines record the released buffer here and refuse every matrix that uses
    it. An entry leaves when its buffer is collected, so a dead buffer's id is never mistaken for
    a new object's. While nothing released is alive the dict is empty: ``if released:`` is all an
    operation pays, and it allocates nothing.
    """

    def add(self, buffer):
        key = id(buffer)
        if key in self:
            return
        forget = partial(self._forget, key)
        try:
            self[key] = weakref.ref(buffer, forget)
        except TypeError:   # no weak references: watch an anchor that dies with the buffer
            anchor = buffer._nnlib_released = _Anchor()
            self[key] = weakref.ref(anchor, forget)

    def _forget(self, key, ref):
        if self.get(key) is ref:
            del self[key]

    def refuse(self, *matrices):
        """Raise ValueError if one of ``matrices``, or the array it views, was released."""
        for x in matrices:
            if id(x) in self or id(getattr(x, "base", None)) in self:
                raise ValueError(RELEASED)


def misfit(operation, **shapes):
    """The ValueError for operands whose shapes do not fit, in the same words on every engine."""
    listed = ", ".join(f"{name} is {tuple(shape)}" for name, shape in shapes.items())
    return ValueError(f"{operation} shapes do not fit: {listed}")


def _type_name(x):
    kind = type(x)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


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
        """A new matrix (or vector) on this engine, copied from nested lists, a NumPy array or a
        matrix of this engine."""
        host = self._source(data, "make a matrix of")
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
        host = self._source(data, "make a vector of")
        if host.ndim != 1:
            raise ValueError(f"vector data must be 1-D, got shape {host.shape}")
        return self.matrix(host)

    def zeros(self, shape):
        """A new matrix of zeros; ``shape`` is ``(rows, cols)`` or ``(n,)`` for a vector."""
        raise NotImplementedError

    def transfer(self, host, dest):
        """Copy host data (nested lists or a NumPy array) into ``dest``; shapes must match.
        Returns ``dest``. A matrix of this engine is copied on the device (``eng.copy``)."""
        self.check(dest, "destination")
        host = self._source(host, "transfer")
        if tuple(host.shape) != tuple(dest.shape):
            raise ValueError(
                f"cannot transfer data of shape {tuple(host.shape)} "
                f"into a matrix of shape {tuple(dest.shape)}; "
                "reshape the data first (for the article's column-by-column lists use "
                "np.reshape(data, shape, order='F'))")
        if self.owns(host):
            return self.copy(host, dest)
        if not (np.issubdtype(host.dtype, np.number) or host.dtype == bool):
            raise TypeError(f"cannot transfer {host.dtype} data; give numbers")
        self._from_host(np.ascontiguousarray(host, dtype=self.dtype), dest)
        return dest

    def _source(self, data, action):
        """``data`` checked, if it is a matrix of this engine, else as a NumPy array; TypeError
        for what NumPy cannot read as numbers (another engine's matrix, mixed lists)."""
        if self.owns(data):
            return self.check(data, "source")
        try:
            host = np.asarray(data)
        except TypeError:   # CuPy refuses to become a NumPy array implicitly
            host = None
        if host is None or host.dtype == object:
            raise TypeError(f"cannot {action} a {_type_name(data)}: give host data (a NumPy "
                            "array or nested lists of numbers); read another engine's matrix "
                            "with that engine's to_numpy first")
        return host

    def to_numpy(self, x):
        """A NumPy copy of ``x`` on the host (always a copy, so it outlives ``x``)."""
        self.check(x, "the matrix to read")
        return self._to_host(x)

    def view(self, buffer, shape):
        """A matrix of ``shape`` that shares the first entries of the flat ``buffer`` (no copy)."""
        self.check(buffer, "buffer")
        rows, cols = shape
        if rows * cols > buffer.size:
            raise ValueError(f"a {rows} x {cols} view needs {rows * cols} entries, "
                             f"but the buffer has {buffer.size}")
        return buffer[: rows * cols].reshape(rows, cols)

    def release(self, x):
        """Give the device memory of ``x`` back now rather than when Python collects it.

        Every later use of ``x`` raises ValueError, on every engine. Release only what you
        allocated: releasing a view releases the buffer it shares, and with it every view of that
        buffer. Releasing twice is harmless."""
        self._check_type(x, "the matrix to release")

    def is_released(self, x):
        """True when ``x``, or the buffer it shares with its views, was given back with
        ``release``."""
        return False

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
        """Raise a clear error unless ``x`` is this engine's matrix (of ``shape``, when given) and
        was not released: TypeError for a foreign object, ValueError for a released matrix or
        a wrong shape."""
        self._check_type(x, what)
        if self.is_released(x):
            raise ValueError(f"{what}: {RELEASED}")
        if shape is not None and tuple(x.shape) != tuple(shape):
            raise ValueError(f"{what} has shape {tuple(x.shape)}, expected {tuple(shape)}")
        return x

    def _check_type(self, x, what):
        if self.owns(x):
            return
        got = _type_name(x)
        dtype, ndim = getattr(x, "dtype", None), getattr(x, "ndim", None)
        if ndim is not None and ndim not in (1, 2):
            got = f"a {ndim}-D {got}"
        if dtype is not None:
            got += f" of {dtype}"
        reason = self._foreign(x)
        raise TypeError(f"{what} must be a {self.dtype} matrix of the {self.name} engine, "
                        f"got {got}{f' ({reason})' if reason else ''}; create it with this "
                        "engine (eng.matrix(...)) or copy it in with eng.transfer")

    def _foreign(self, x):
        """Why an array of the right kind and dtype is still not this engine's (or None)."""
        return None

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

    def tanh_prime_from_output(self, a, out):
        """``out = tanh'(z) = 1 - a**2``, from the output ``a = tanh(z)`` (``out`` may be ``a``)."""
        raise NotImplementedError

    def sigmoid(self, x, out):
        """``out = 1 / (1 + exp(-x))``, computed as ``0.5 * tanh(0.5 * x) + 0.5`` (no overflow)."""
        raise NotImplementedError

    def sigmoid_prime_from_output(self, a, out):
        """``out = sigmoid'(z) = a * (1 - a)``, from the output ``a = sigmoid(z)`` (``out`` may be
        ``a``)."""
        raise NotImplementedError
