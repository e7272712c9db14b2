"""Numerics presets: which arithmetic runs the backbone, and in which fixed-point formats.

* ``float``: the PyTorch model as it is (float32), the reference;
* ``approx``: float64 with the hardware approximations only (table exp,
  reciprocal, rsqrt and GELU, single-pass softmax, one-pass LayerNorm);
* ``edgemoe``: Edge-MoE's formats: activations ap_fixed<32,10>, linear weights
  ap_fixed<16,2>, attention biases ap_fixed<16,7>, other biases and norms
  ap_fixed<16,5>, patch-embedding weights ap_fixed<16,0>; truncation and wrap;
* ``hw16``: 16-bit activations and weights, wide exact accumulators, rounding
  (half to even) and saturation on every requantisation; integer bits per
  tensor chosen by :func:`calibrate` (weights from their own range,
  activations from data);
* ``hw8``: hw16 with every operand of a matrix product in 8 bits (weights of
  the linear layers and the router, LayerNorm outputs, queries, keys, values,
  probabilities, attention outputs, GELU outputs): the MAC array then packs two
  MACs into each DSP and the weights stream as 8-bit words. The residual
  stream, scores, pre-GELU hidden values, expert outputs, router logits and
  gates, biases and norm parameters stay 16-bit. Calibrated like hw16.

Formats are looked up by *kind* (``resid``, ``q``, ``kv``, ``score``, ``prob``,
``attn``, ``hidden``, ``gelu``, ``expert_out``, ``gate_logit``, ``gate_prob``,
``ln_norm``, ``ln_out``, ``input``, ``pos``; weights ``w``, ``b``,
``attn_b``, ``norm_w``, ``norm_b``, ``patch_w``, ``patch_b``, ``gate_w``),
optionally overridden per tensor name (``blocks.3.attn.q``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .fixed import FixedFormat
from .hwmath import SPEC, MathSpec

KINDS = (
    "input",
    "pos",
    "resid",
    "ln_norm",
    "ln_out",
    "q",
    "kv",
    "score",
    "prob",
    "attn",
    "hidden",
    "gelu",
    "expert_out",
    "gate_logit",
    "gate_prob",
)
WEIGHT_KINDS = ("w", "b", "attn_b", "norm_w", "norm_b", "patch_w", "patch_b", "gate_w")


@dataclass(frozen=True)
class NumericsPreset:
    """An arithmetic for the backbone: ``kind`` is ``float``, ``approx`` or ``fixed``."""

    name: str
    kind: str
    formats: Mapping[str, FixedFormat] = field(default_factory=dict)
    overrides: Mapping[str, FixedFormat] = field(default_factory=dict)
    spec: MathSpec = SPEC
    calibrated: bool = False

    def fmt(self, tensor: str, kind: str) -> FixedFormat:
        """Format of the tensor named ``tensor`` of kind ``kind``."""
        if tensor in self.overrides:
            return self.overrides[tensor]
        try:
            return self.formats[kind]
        except KeyError:
            raise KeyError(f"preset {self.name!r} has no format for kind {kind!r}") from None

    @property
    def needs_calibration(self) -> bool:
        return self.name in CALIBRATED and not self.calibrated

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "formats": {k: str(v) for k, v in self.formats.items()},
            "overrides": {k: str(v) for k, v in self.overrides.items()},
            "spec": self.spec.to_dict(),
            "calibrated": self.calibrated,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NumericsPreset:
        return cls(
            name=d["name"],
            kind=d["kind"],
            formats={k: FixedFormat.parse(v) for k, v in d.get("formats", {}).items()},
            overrides={k: FixedFormat.parse(v) for k, v in d.get("overrides", {}).items()},
            spec=MathSpec(**d["spec"]) if "spec" in d else SPEC,
            calibrated=bool(d.get("calibrated", False)),
        )


def _f(spelling: str) -> FixedFormat:
    return FixedFormat.parse(spelling)


def _edgemoe() -> NumericsPreset:
    act = _f("ap_fixed<32,10>")
    formats = {k: act for k in KINDS}
    formats.update(
        {
            "w": _f("ap_fixed<16,2>"),
            "gate_w": _f("ap_fixed<16,2>"),
            "attn_b": _f("ap_fixed<16,7>"),
            "b": _f("ap_fixed<16,5>"),
            "norm_w": _f("ap_fixed<16,5>"),
            "norm_b": _f("ap_fixed<16,5>"),
            "patch_w": _f("ap_fixed<16,0>"),
            "patch_b": _f("ap_fixed<16,5>"),
        }
    )
    return NumericsPreset("edgemoe", "fixed", formats)


HW16_QUANT, HW16_OVERFLOW = "AP_RND_CONV", "AP_SAT"


def hw16_format(int_bits: int, signed: bool = True, width: int = 16) -> FixedFormat:
    """A hw16 format: ``width`` bits, rounding half to even, saturation."""
    return FixedFormat(width, int_bits, signed, HW16_QUANT, HW16_OVERFLOW)


def _hw16_defaults() -> NumericsPreset:
    """hw16 before calibration: generic ranges, replaced per tensor by :func:`calibrate`."""
    formats = {k: hw16_format(6) for k in KINDS}
    formats.update(
        {
            "input": hw16_format(3),
            "prob": hw16_format(0, signed=False),
            "gate_prob": hw16_format(0, signed=False),
            "ln_norm": hw16_format(5),
            "score": hw16_format(7),
        }
    )
    formats.update({k: hw16_format(2) for k in WEIGHT_KINDS})
    return NumericsPreset("hw16", "fixed", formats)


#: Kinds that hw8 holds in 8 bits: every operand of a matrix product.
HW8_KINDS = ("input", "ln_out", "q", "kv", "prob", "attn", "gelu", "w", "gate_w", "patch_w")


def _hw8_defaults() -> NumericsPreset:
    """hw8 before calibration: hw16's defaults with the matrix-product operands in 8 bits."""
    base = _hw16_defaults()
    formats = dict(base.formats)
    for kind in HW8_KINDS:
        f = formats[kind]
        formats[kind] = hw16_format(f.int_bits, f.signed, width=8)
    return NumericsPreset("hw8", "fixed", formats)


#: Presets whose integer bits are chosen per tensor by calibration.
CALIBRATED = ("hw16", "hw8")

PRESETS: dict[str, NumericsPreset] = {
    "float": NumericsPreset("float", "float"),
    "approx": NumericsPreset("approx", "approx"),
    "edgemoe": _edgemoe(),
    "hw16": _hw16_defaults(),
    "hw8": _hw8_defaults(),
}


def get_preset(preset: str | NumericsPreset) -> NumericsPreset:
    if isinstance(preset, NumericsPreset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown numerics preset {preset!r}; presets: {list(PRESETS)}") from None


def int_bits_for(max_abs: float, signed: bool = True, margin: float = 1.25) -> int:
    """Integer bits (sign included when signed) so that ``margin * max_abs`` fits."""
    m = max(max_abs * margin, 2.0**-8)
    bits = math.floor(math.log2(m)) + 1
    return bits + (1 if signed else 0)


def formats_from_ranges(
    ranges: Mapping[str, float],
    kinds: Mapping[str, str],
    base: NumericsPreset,
    margin: float = 1.25,
    unsigned_kinds: Iterable[str] = ("prob", "gate_prob"),
) -> NumericsPreset:
    """Per-tensor formats from observed max |x| (tensor name -> value), each at its
    kind's width in ``base`` (16 bits for hw16; 8 for hw8's matrix-product operands)."""
    overrides = dict(base.overrides)
    unsigned = set(unsigned_kinds)
    for name, max_abs in ranges.items():
        kind = kinds[name]
        width = base.formats[kind].width if kind in base.formats else 16
        if kind in unsigned:
            overrides[name] = hw16_format(
                0 if max_abs <= 1.0 else int_bits_for(max_abs, False), signed=False, width=width
            )
        else:
            overrides[name] = hw16_format(int_bits_for(max_abs, True, margin), width=width)
    return replace(base, overrides=overrides, calibrated=True)
