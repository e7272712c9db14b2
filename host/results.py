"""Result files of host runs: the shared envelope and latency statistics.

Every result JSON of the project has the same top-level keys: ``kind``,
``label`` ("measured" or "modelled"), ``source`` (the command that wrote it),
``machine``, ``created``, then the kind's payload. This is a local,
torch-free helper (``pymodel.results`` imports torch, which a board lacks).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def machine(board: str = "") -> dict[str, Any]:
    """Where a measurement was taken (CPU, Python, numpy, pynq, board)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import pynq

        pynq_version = getattr(pynq, "__version__", "?")
    except ImportError:
        pynq_version = None
    return {
        "host": platform.node(),
        "cpu": cpu,
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pynq": pynq_version,
        "board": board or None,
    }


def envelope(kind: str, label: str, payload: dict[str, Any], board: str = "") -> dict[str, Any]:
    """The shared result envelope around ``payload``."""
    if label not in ("measured", "modelled"):
        raise ValueError(f"label must be 'measured' or 'modelled', not {label!r}")
    return {
        "kind": kind,
        "label": label,
        "source": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": machine(board),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **payload,
    }


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/mean/min/max in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    if ms.size == 0:
        return {}
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "mean": float(ms.mean()),
        "min": float(ms.min()),
        "max": float(ms.max()),
    }


def write_json(path: str | Path, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
