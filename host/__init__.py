"""host: the accelerator's host side, the code that runs on a PYNQ board.

``host.Accelerator`` opens the ZCU104 (``pynq.Overlay`` on a ``.bit`` with its
``.hwh`` and manifest) or the simulated board (the C simulation of the HLS
engine behind a ``pynq.Device``), loads an export and runs frames::

    from host import Accelerator
    with Accelerator.open(bitstream="bitstreams/zcu104/edgemoe.bit") as acc:
        acc.load("build/export/edgemoe-t-hw16")
        result = acc.run(image, "semseg")

Importing ``host`` needs numpy only (pynq when a backend is opened; never
torch): a PYNQ image has Python >= 3.8, numpy 1.x and pynq.
``host.baseline`` is the GPU/CPU latency and energy baseline (imports torch only when run).
"""

from __future__ import annotations

from .accelerator import BACKENDS, Accelerator, Result
from .errors import (
    BitstreamError,
    ExportError,
    HostError,
    InputError,
    KernelStatusError,
    KernelTimeout,
    MismatchError,
    PowerUnavailable,
)

__all__ = [
    "BACKENDS",
    "Accelerator",
    "BitstreamError",
    "ExportError",
    "HostError",
    "InputError",
    "KernelStatusError",
    "KernelTimeout",
    "MismatchError",
    "PowerUnavailable",
    "Result",
]
