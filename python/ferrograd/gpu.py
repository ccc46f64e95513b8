"""The GPU backend: WGSL compute shaders run through wgpu on Vulkan, Metal, DX12 or GL.

Nothing here runs until called: importing ferrograd and computing on CPU tensors never
loads a GPU driver. ``is_available()`` and ``adapters()`` look for adapters (that is the
first GPU use); placing a tensor on ``"gpu"`` opens the chosen adapter.

Environment: ``FERROGRAD_GPU_BACKEND`` (vulkan, metal, dx12, gl) restricts the search;
``FERROGRAD_GPU_ADAPTER`` (an index into ``adapters()`` or part of a name) picks the
adapter that ``"gpu"`` means. ``"gpu:N"`` always means ``adapters()[N]``.
"""

from __future__ import annotations

from . import _core

#: The dtypes a GPU tensor may have (bool is stored as 32-bit 0/1 in device memory).
DTYPES = (_core.float32, _core.int32, _core.uint32, _core.bool)


def is_compiled() -> bool:
    """Whether this build of ferrograd includes the GPU backend."""
    return _core._gpu_compiled()


def is_available() -> bool:
    """Whether at least one GPU adapter (hardware or software, e.g. lavapipe) is visible."""
    return _core._gpu_is_available()


def adapters() -> list[dict]:
    """Visible adapters, best first: dicts with ``index``, ``name``, ``backend``, ``type``
    (discrete, integrated, virtual, cpu, other), ``driver``, ``limits`` and ``features``."""
    return _core._gpu_adapters()


def synchronize() -> None:
    """Submits queued GPU work and waits until the device has finished it."""
    _core.synchronize()


def memory_cached() -> int:
    """Bytes of device memory held by the caching allocator for reuse (not by tensors)."""
    return _core._gpu_memory_cached()


def empty_cache() -> None:
    """Returns the allocator's unused device buffers to the driver."""
    _core._gpu_empty_cache()


__all__ = ["DTYPES", "adapters", "empty_cache", "is_available", "is_compiled", "memory_cached", "synchronize"]
