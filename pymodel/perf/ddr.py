"""The memory system the engine streams from: HP ports into one shared DDR4 controller.

Assumptions (documented, and parameters so that their effect can be swept):

* every AXI master is a 128-bit HP port beat per cycle at the PL clock at most
  (ZynqMP S_AXI_HPx_FPD are 128 bits wide; a wider PL-side bundle is split into
  128-bit beats by the interconnect, so it cannot carry more);
* a read burst of up to ``burst_beats`` beats (the m_axi ``max_read_burst_length``)
  returns ``latency_cycles`` after it is issued; with ``outstanding`` bursts in
  flight a port sustains ``min(1, outstanding * burst / (latency + burst))`` beats
  per cycle;
* all ports share the PS DDR4 controller: 19.2 GB/s peak on the ZCU104 (64-bit
  DDR4-2400), of which ``efficiency`` is sustained by long read bursts from several
  ports (row-buffer misses, refresh, read/write turnaround).

These are MODELLED figures, not measurements of a board.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

BEAT_BYTES = 16


@dataclass(frozen=True)
class Ddr:
    """DDR and HP-port parameters of the performance model."""

    peak_gbps: float = 19.2  # ZCU104 PS DDR4-2400, 64 bits
    efficiency: float = 0.8  # sustained fraction of the peak for long reads (assumption)
    latency_cycles: int = 128  # read latency seen by a PL master at 300 MHz (assumption)
    burst_beats: int = 64  # max_read_burst_length of the m_axi pragmas
    outstanding: int = 16  # num_read_outstanding of the m_axi pragmas

    def __post_init__(self) -> None:
        if not (0 < self.efficiency <= 1 and self.peak_gbps > 0 and self.latency_cycles >= 0):
            raise ValueError(f"invalid DDR parameters: {self}")

    def port_rate(self) -> float:
        """Beats per cycle one port sustains (outstanding bursts hide the latency)."""
        b = self.burst_beats
        return min(1.0, self.outstanding * b / (self.latency_cycles + b))

    def total_rate(self, clock_mhz: float) -> float:
        """Beats per cycle the shared DDR sustains over all ports."""
        return self.peak_gbps * self.efficiency * 1e9 / (clock_mhz * 1e6) / BEAT_BYTES

    def stream_cycles(self, beats_per_port: list[int], clock_mhz: float) -> int:
        """Cycles to stream the given beats on parallel ports: first data after the
        latency, then the slower of the busiest port and the shared DDR."""
        total = sum(beats_per_port)
        if total == 0:
            return 0
        busiest = max(beats_per_port) / self.port_rate()
        shared = total / self.total_rate(clock_mhz)
        return self.latency_cycles + math.ceil(max(busiest, shared))

    def burst_cycles(self, beats: int) -> int:
        """One burst waited for (nothing else in flight): latency + its beats."""
        return 0 if beats == 0 else self.latency_cycles + beats

    def to_dict(self) -> dict:
        return asdict(self)
