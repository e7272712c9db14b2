"""Errors of the host runtime: each names the problem and, where it can, the fix."""

from __future__ import annotations


class HostError(RuntimeError):
    """Base class: the host runtime refused or failed an operation (message says why)."""


class ExportError(HostError, ValueError):
    """An export directory that is missing, corrupt (sha256, size) or of another format."""


class BitstreamError(HostError, ValueError):
    """A bitstream (.bit/.hwh/manifest) that is missing, corrupt, or lacks the engine IP."""


class MismatchError(HostError, ValueError):
    """The export does not fit the bitstream: activation width, interface, design or maxima."""


class InputError(HostError, ValueError):
    """A bad image or task given to :meth:`host.Accelerator.run` (nothing was written)."""


class KernelTimeout(HostError):
    """The engine never raised ap_done; ``registers`` holds the control register dump."""

    def __init__(self, message: str, registers: dict[str, int]) -> None:
        super().__init__(message)
        self.registers = registers


class KernelStatusError(HostError):
    """The engine finished with a non-OK status code (``code`` and its ``name``)."""

    def __init__(self, message: str, code: int, name: str) -> None:
        super().__init__(message)
        self.code = code
        self.name = name


class PowerUnavailable(HostError):
    """No PMBus power rails here: power needs a ZCU104 running PYNQ."""
