"""An accelerator export as the host reads it: manifest, verified files, params image.

Everything comes from the export's ``manifest.json`` (written by
``pymodel.export``): the model config and tasks, the activation width, the
input and output fixed-point formats, the io regions (in 128-bit beats), the
interface (register map, arguments, AXI bundles), the design point and the
status codes. ``pymodel.export`` itself is never imported here: it needs
torch, and a board has only numpy and pynq.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from pymodel.numerics.fixed import FixedFormat

from .errors import ExportError, InputError

EXPORT_FORMAT = "edgemoe-hls-export"
SUPPORTED_VERSIONS = (2,)
BEAT_BYTES = 16
MANIFEST = "manifest.json"

#: Descriptor dimension -> the HlsMaxima field bounding it (as the kernel checks them).
DIM_LIMITS = {
    "tokens": "tokens",
    "dim": "dim",
    "heads": "heads",
    "head_dim": "head_dim",
    "mlp_hidden": "hidden",
    "expert_hidden": "hidden",
    "experts": "experts",
    "top_k": "top_k",
    "tasks": "tasks",
    "depth": "depth",
    "patch_in": "patch_in",
    "gate_in": "gate_in",
}

PathLike = Union[str, Path]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: Path, error: type = ExportError) -> dict[str, Any]:
    """A JSON manifest; ``error`` (naming the file) when it is missing or unreadable."""
    if not path.is_file():
        raise error(f"no {path.name} in {path.parent}")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise error(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{path}: the manifest must be a JSON object")
    return data


@dataclass
class Export:
    """A verified export directory (see :meth:`open`)."""

    path: Path
    manifest: dict[str, Any]
    params: np.ndarray  # the DDR image, uint8
    descriptor: dict[str, int]  # global descriptor words by field name
    input_format: FixedFormat
    output_format: FixedFormat
    tasks: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, path: PathLike) -> Export:
        """Read ``path``/manifest.json and check every file it lists (size and sha256).

        Raises :class:`ExportError` naming the first problem: no manifest, another
        format or version, a missing file, a size or sha256 mismatch (a truncated or
        replaced ``params.bin``), or a descriptor that contradicts the manifest.
        """
        path = Path(path)
        if not path.is_dir():
            raise ExportError(f"export directory {path} does not exist")
        m = read_manifest(path / MANIFEST)
        if m.get("format") != EXPORT_FORMAT or m.get("version") not in SUPPORTED_VERSIONS:
            raise ExportError(
                f"{path}: format {m.get('format')!r} version {m.get('version')!r} is not an "
                f"{EXPORT_FORMAT} of version {SUPPORTED_VERSIONS}; re-export with "
                "edgemoe export-hls"
            )
        for key in ("files", "act_w", "interface", "design", "io_regions", "config"):
            if key not in m:
                raise ExportError(f"{path}/{MANIFEST}: missing key {key!r}")
        files = m["files"]
        if "params.bin" not in files:
            raise ExportError(f"{path}/{MANIFEST} lists no params.bin")
        for rel, info in files.items():
            f = path / rel
            if not f.is_file():
                raise ExportError(f"{path}: {rel} is missing (listed in {MANIFEST})")
            size = f.stat().st_size
            if size != info["bytes"]:
                raise ExportError(
                    f"{path}: {rel} is {size} bytes, the manifest says {info['bytes']}: "
                    "truncated or from another export"
                )
            if sha256_file(f) != info["sha256"]:
                raise ExportError(f"{path}: sha256 of {rel} differs from the manifest")
        params = np.fromfile(path / "params.bin", dtype=np.uint8)
        if params.size != int(m["params_beats"]) * BEAT_BYTES:
            raise ExportError(
                f"{path}: params.bin holds {params.size} bytes, params_beats="
                f"{m['params_beats']} needs {int(m['params_beats']) * BEAT_BYTES}"
            )
        fields = m["descriptor"]["global_fields"]
        words = params[: len(fields) * 4].view("<u4")
        desc = {name: int(v) for name, v in zip(fields, words)}
        if desc.get("act_w") != m["act_w"] or desc.get("io_beats") != m["io_beats"]:
            raise ExportError(f"{path}: the descriptor in params.bin contradicts the manifest")
        return cls(
            path=path,
            manifest=m,
            params=params,
            descriptor=desc,
            input_format=FixedFormat.parse(m["input_format"]),
            output_format=FixedFormat.parse(m["output_format"]),
            tasks=list(m["tasks"]),
        )

    # ------------------------------------------------------------------ facts
    @property
    def act_w(self) -> int:
        return int(self.manifest["act_w"])

    @property
    def interface(self) -> dict[str, Any]:
        return self.manifest["interface"]

    @property
    def design(self) -> dict[str, Any]:
        return self.manifest["design"]

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest["config"]

    @property
    def preset(self) -> str:
        return str(self.manifest.get("preset", self.config.get("name", "?")))

    @property
    def numerics(self) -> str:
        return str(self.manifest["numerics"]["name"])

    @property
    def io_bytes(self) -> int:
        return int(self.manifest["io_beats"]) * BEAT_BYTES

    @property
    def image_shape(self) -> tuple:
        """(C, H, W) the engine takes."""
        d = self.descriptor
        return (d["in_chans"], d["img_h"], d["img_w"])

    @property
    def token_shape(self) -> tuple:
        """(tokens, dim) the engine writes."""
        return (self.descriptor["tokens"], self.descriptor["dim"])

    def dims(self) -> dict[str, int]:
        """The model dimensions that the synthesis maxima bound (descriptor names)."""
        return {k: self.descriptor[k] for k in DIM_LIMITS}

    def task_index(self, task: str | int) -> int:
        """A task name or index as the kernel's index; :class:`InputError` if unknown."""
        if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
            if 0 <= int(task) < len(self.tasks):
                return int(task)
        elif isinstance(task, str) and task in self.tasks:
            return self.tasks.index(task)
        raise InputError(f"unknown task {task!r}: this export has tasks {self.tasks}")

    def golden(self, task: str | int) -> tuple | None:
        """(raw image (C, H, W), expected raw tokens (T, D)) from golden/, or None."""
        g = self.path / "golden"
        t = self.task_index(task)
        img, exp = g / "image.bin", g / f"expected_task{t}.bin"
        if not (img.is_file() and exp.is_file()):
            return None
        raw = np.fromfile(img, dtype="<i8").reshape(self.image_shape)
        return raw, np.fromfile(exp, dtype="<i8").reshape(self.token_shape)

    # -------------------------------------------------------------- io image
    def io_rows(self, io: np.ndarray, region: str, rows: int, cols: int) -> np.ndarray:
        """A (rows, cols) view of an io region in activation words (rows padded to beats)."""
        per_beat = 128 // self.act_w
        row_words = -(-cols // per_beat) * per_beat
        off = int(self.manifest["io_regions"][region]) * BEAT_BYTES
        nbytes = rows * row_words * self.act_w // 8
        words = io[off : off + nbytes].view({16: "<i2", 32: "<i4"}[self.act_w])
        return words.reshape(rows, row_words)[:, :cols]

    def quantize(self, image: np.ndarray) -> np.ndarray:
        """A checked float image -> raw input-format integers (C, H, W) int64.

        Accepts (C, H, W) or (1, C, H, W) float32/float64, normalised as in training;
        raises :class:`InputError` naming what is wrong otherwise.
        """
        x = np.asarray(image)
        want = self.image_shape
        if x.ndim == 4:
            if x.shape[0] != 1:
                raise InputError(f"image batch {x.shape[0]}: the accelerator runs batch 1")
            x = x[0]
        if x.ndim != 3:
            raise InputError(f"image shape {np.shape(image)}: expected (C, H, W) = {want}")
        if x.shape[0] != want[0]:
            raise InputError(f"image has {x.shape[0]} channels, the model takes {want[0]}")
        if x.shape[1:] != want[1:]:
            raise InputError(f"image size {x.shape[1:]} (H, W), the model takes {want[1:]}")
        if x.dtype not in (np.float32, np.float64):
            raise InputError(
                f"image dtype {x.dtype}: expected float32, normalised as in training "
                "(host.image.load_image reads and normalises a picture)"
            )
        if not np.isfinite(x).all():
            raise InputError("image holds NaN or infinite values")
        return self.input_format.from_float(x.astype(np.float64))

    def check_raw_image(self, raw: np.ndarray) -> np.ndarray:
        """A raw (C, H, W) image in the input format, checked against its range."""
        raw = np.asarray(raw)
        if raw.shape != self.image_shape or raw.dtype.kind not in "iu":
            raise InputError(
                f"raw image {raw.shape} {raw.dtype}: expected {self.image_shape} integers"
            )
        fmt = self.input_format
        if raw.size and (raw.min() < fmt.raw_min or raw.max() > fmt.raw_max):
            raise InputError(f"raw image values outside {fmt}")
        return raw.astype(np.int64)
