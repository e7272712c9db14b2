"""A built accelerator: ``<stem>.bit`` + ``<stem>.hwh`` + ``manifest.json`` in one folder.

The bitstream flow (``make bitstream``) writes the manifest for real builds;
:mod:`host.simboard` writes one for the simulated board. Keys::

    kind        "edgemoe-bitstream"
    engine      "hls" | "rtl"
    design      Design.to_dict() of the build (maxima and every parameter)
    act_w       activation word width the engine was generated for (16 or 32)
    interface   the interface dict of pymodel.export.interface(design), with "hash"
    clock_mhz, git_commit, tools {}, utilisation {}, wns_ns
    files       {"bit": {"sha256"}, "hwh": {"sha256"}}

:func:`check_export` is the one place that decides whether an export may run
on a bitstream; it raises before anything touches the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BitstreamError, MismatchError
from .export import DIM_LIMITS, MANIFEST, Export, read_manifest, sha256_file

KIND = "edgemoe-bitstream"
ENGINES = ("hls", "rtl")


@dataclass
class Bitstream:
    """A verified bitstream folder (see :meth:`open`)."""

    bit: Path
    hwh: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Bitstream:
        """``path`` is the ``.bit`` (or its folder, holding exactly one ``.bit``).

        Checks that the ``.hwh`` of the same stem and ``manifest.json`` are beside it,
        that the manifest is of this kind and that both files match its sha256.
        """
        p = Path(path)
        if p.is_dir():
            bits = sorted(p.glob("*.bit"))
            if len(bits) != 1:
                raise BitstreamError(f"{p}: expected exactly one .bit, found {len(bits)}")
            p = bits[0]
        if p.suffix != ".bit":
            raise BitstreamError(f"{p}: a bitstream is a .bit file (with its .hwh beside it)")
        if not p.is_file():
            raise BitstreamError(f"bitstream {p} does not exist")
        hwh = p.with_suffix(".hwh")
        if not hwh.is_file():
            raise BitstreamError(
                f"{hwh.name} is missing: pynq.Overlay needs the .hwh beside {p.name} with the "
                "same stem (Vivado writes it under <proj>.gen/sources_1/bd/<bd>/hw_handoff/)"
            )
        m = read_manifest(p.parent / MANIFEST, BitstreamError)
        if m.get("kind") != KIND:
            raise BitstreamError(f"{p.parent / MANIFEST}: kind {m.get('kind')!r}, not {KIND!r}")
        for key in ("engine", "design", "act_w", "interface", "files"):
            if key not in m:
                raise BitstreamError(f"{p.parent / MANIFEST}: missing key {key!r}")
        if m["engine"] not in ENGINES:
            raise BitstreamError(f"{p.parent / MANIFEST}: unknown engine {m['engine']!r}")
        for key, f in (("bit", p), ("hwh", hwh)):
            want = m["files"].get(key, {}).get("sha256")
            if want is None:
                raise BitstreamError(f"{p.parent / MANIFEST}: files.{key}.sha256 missing")
            if sha256_file(f) != want:
                raise BitstreamError(
                    f"sha256 of {f.name} differs from {MANIFEST}: rebuilt or replaced without "
                    "its manifest"
                )
        return cls(bit=p, hwh=hwh, manifest=m)

    @property
    def interface(self) -> dict[str, Any]:
        return self.manifest["interface"]

    @property
    def design(self) -> dict[str, Any]:
        return self.manifest["design"]

    @property
    def act_w(self) -> int:
        return int(self.manifest["act_w"])

    @property
    def engine(self) -> str:
        return str(self.manifest["engine"])

    @property
    def vlnv(self) -> str:
        return f"xilinx.com:hls:{self.interface['top']}:1.0"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def design_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Fields (``maxima.tokens`` ...) whose values differ: ``"name: a vs b"``."""
    fa, fb = _flat(a), _flat(b)
    return [
        f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}"
        for k in sorted(set(fa) | set(fb))
        if fa.get(k) != fb.get(k)
    ]


def check_export(export: Export, bitstream: Bitstream) -> None:
    """Refuse an export that this bitstream cannot run (:class:`MismatchError`).

    In order: activation width, interface hash, every model dimension against the
    bitstream's maxima (naming the field), then the whole design point (the DDR
    layout depends on it).
    """
    where = f"export {export.path} on bitstream {bitstream.bit.name}"
    if export.act_w != bitstream.act_w:
        raise MismatchError(
            f"{where}: the export has {export.act_w}-bit activations, the engine was "
            f"generated for {bitstream.act_w} bits (export with the other numerics)"
        )
    if export.interface.get("hash") != bitstream.interface.get("hash"):
        raise MismatchError(
            f"{where}: interface hash {export.interface.get('hash')} differs from the "
            f"bitstream's {bitstream.interface.get('hash')} (other arguments or register map)"
        )
    maxima = bitstream.design.get("maxima", {})
    for name, limit_name in DIM_LIMITS.items():
        value, limit = export.dims()[name], maxima.get(limit_name)
        if limit is None or value > limit:
            raise MismatchError(
                f"{where}: {name}={value} exceeds the bitstream's maxima.{limit_name}={limit}"
            )
    diff = design_differences(export.design, bitstream.design)
    if diff:
        raise MismatchError(
            f"{where}: the export was made for another design ({'; '.join(diff)}; export vs "
            "bitstream): re-export with the bitstream's design"
        )
