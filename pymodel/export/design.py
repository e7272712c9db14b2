"""Synthesis parameters of the accelerator: maxima (buffer sizes) and the engine design point.

One :class:`Design` is the whole hardware configuration: the export writes it
into the generated header (``edgemoe_config.h``) and the manifest, the
performance and resource models (:mod:`pymodel.perf`) evaluate it, the
design-space exploration sweeps it, and a bitstream records it. Model
dimensions are *not* design parameters: they are run-time values of the
descriptor, bounded by :class:`HlsMaxima`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class HlsMaxima:
    """Synthesis-time maxima: on-chip buffers are sized by these; descriptors beyond are refused.

    The defaults cover every model preset (M3ViT-S on NYUD-v2 has 1201 tokens).
    """

    tokens: int = 1216
    dim: int = 384
    heads: int = 12
    head_dim: int = 64
    hidden: int = 1536  # dense MLP hidden and expert hidden
    experts: int = 16
    top_k: int = 4
    tasks: int = 5
    depth: int = 12
    patch_in: int = 768  # in_chans * patch * patch
    gate_in: int = 448  # router input (dim + task embedding for router='task')

    @property
    def k_max(self) -> int:
        """Widest input of the linear unit."""
        return max(self.dim, self.hidden, self.patch_in, self.gate_in)


@dataclass(frozen=True)
class Design:
    """An engine design point (every field a synthesis parameter; docs/HARDWARE.md).

    The linear unit is a ``mac_rows x mac_in x mac_out`` array of DSP48E2
    slices: ``mac_rows`` token rows times ``mac_in`` inputs times ``mac_out``
    outputs per cycle, twice the outputs when both operands fit 8 bits (two
    MACs per DSP). Weights stream from DDR on ``weight_ports`` AXI masters of
    ``port_bits`` (one HP port each).
    """

    maxima: HlsMaxima = field(default_factory=HlsMaxima)
    mac_rows: int = 4  # linear unit: x rows per cycle (R)
    mac_in: int = 32  # linear unit: inputs per cycle (TI)
    mac_out: int = 8  # linear unit: DSP columns, outputs per cycle in 16-bit mode (TO)
    token_block: int = 144  # token rows on chip (TB): edgemoe-t (129) is one block
    hidden_chunk: int = 384  # MLP hidden columns on chip per pass (HC); expert hidden <= HC
    query_block: int = 48  # attention: query rows per score slot (QB)
    softmax_lanes: int = 48  # online-softmax rows updated per cycle (SL)
    prob_lanes: int = 64  # probabilities computed per cycle for P x V (PL)
    epilogue_lanes: int = 64  # requantisations per cycle after the MAC array (EL)
    acc_lanes: int = 16  # accumulator read-modify-writes per cycle (MoE combine, fc2 chunks)
    gelu_lanes: int = 16  # GELUs per cycle in the epilogue (GL)
    ln_lanes: int = 32  # LayerNorm elements per cycle (LL)
    router_lanes: int = 8  # tokens routed in parallel (RL)
    weight_ports: int = 4  # AXI masters for weights (gmem_w0 ...), one PS HP port each
    port_bits: int = 128  # data width of every AXI master
    clock_mhz: float = 300.0  # PL clock (pl_clk0) of the block design

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "maxima" and (not isinstance(v, (int, float)) or v <= 0):
                raise ValueError(f"Design.{f.name} must be a positive number, got {v!r}")
        if not 1 <= self.weight_ports <= 4:
            raise ValueError(
                f"Design.weight_ports={self.weight_ports}: the ZCU104 PS has 4 HP ports"
            )
        if self.port_bits != 128:
            raise ValueError("Design.port_bits: the engine's beat is 128 bits (one HP port beat)")
        if self.token_block % self.mac_rows or self.query_block % self.mac_rows:
            raise ValueError("Design: token_block and query_block must be multiples of mac_rows")
        if self.query_block > self.token_block:
            raise ValueError("Design: query_block must not exceed token_block")
        if self.hidden_chunk % self.mac_in:
            raise ValueError("Design.hidden_chunk must be a multiple of mac_in")
        if self.mac_out % 8:
            raise ValueError("Design.mac_out must be a multiple of 8 (whole activation beats)")

    @property
    def dsp_macs(self) -> int:
        """DSP48E2 slices of the MAC array (one 16-bit MAC, or two 8-bit MACs, each)."""
        return self.mac_rows * self.mac_in * self.mac_out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["maxima"] = asdict(self.maxima)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Design:
        kw = {k: v for k, v in d.items() if k != "maxima"}
        unknown = set(kw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown design parameters: {sorted(unknown)}")
        return cls(maxima=HlsMaxima(**d.get("maxima", {})), **kw)

    def with_(self, **changes: Any) -> Design:
        """A copy with some fields changed (``maxima`` fields by name too)."""
        mx = {k: changes.pop(k) for k in list(changes) if k in HlsMaxima.__dataclass_fields__}
        d = replace(self, **changes)
        return replace(d, maxima=replace(d.maxima, **mx)) if mx else d


DEFAULT_DESIGN = Design()
