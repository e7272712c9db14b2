"""GPU/CPU baseline: the golden model in float on CUDA or the CPU, latency and energy.

What ``edgemoe baseline`` runs. The model and input image are the
accelerator's: from an export directory the model is rebuilt from the
manifest's ``checkpoint`` entry (``{"seed": s}``: the seeded random weights;
``{"path": p}``: that checkpoint, its sha256 checked) and the image is
regenerated the way the export made it, then checked bit for bit against
``golden/image.bin`` once quantised (when that fails, the dequantised
``golden/image.bin`` is used: exactly the accelerator's input). From a preset
the image is the seeded one that ``edgemoe export-hls --seed S`` would put in
``golden/``.

Method, per batch size and per mode (``backbone``: the tokens the
accelerator computes; ``full``: backbone + the task head): warm-up
iterations, then iterations until at least ``seconds`` have passed, each
timed between two ``torch.cuda.synchronize()`` calls on CUDA. Latency is per
iteration (one batch): p50/p90/p99; throughput = frames / window.

Energy, from counters read at the window's ends (never a TDP estimate):

* GPU: NVML's total-energy counter (mJ since the driver loaded; Volta and
  newer). It updates every 20-100 ms, so a window of at least 10 s keeps that
  step under 1 %.
* CPU: the RAPL package counters ``energy_uj`` under ``/sys/class/powercap``
  (every top-level ``package`` zone, sub-zones not counted twice), sampled
  about every 100 ms so that a counter wraps at most once between two samples
  (at ``max_energy_range_uj``). RAPL counts the whole package, other
  processes included. When unreadable (no RAPL, or root-only since Linux
  5.10) the result says why and carries latency only.
* Idle power: the same counter over ``idle_seconds`` with nothing running,
  before the runs; energy per frame is reported with the idle power
  subtracted (``net_j_per_frame``) and in total (``j_per_frame``).

torch is imported inside the functions: ``import host`` stays torch-free.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

POWERCAP = Path("/sys/class/powercap")
MIN_ENERGY_SECONDS = 10.0  # shortest window the NVML counter's update step allows (see above)
SAMPLE_S = 0.1  # counter sampling interval inside a window
DTYPES = ("fp32", "fp16", "bf16")
MODES = ("backbone", "full")


class BaselineError(RuntimeError):
    """Something the user must fix before this baseline can run (no CUDA GPU, no NVML)."""


class EnergyUnavailable(RuntimeError):
    """An energy counter that cannot be read here; the message says why."""


# ------------------------------------------------------------------ energy counters
class EnergyMeter(Protocol):
    kind: str

    def read(self) -> tuple[int, ...]:
        """Raw counter values (one per zone or device)."""

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        """Energy between two readings."""

    def describe(self) -> dict[str, Any]:
        """What is measured, for the result file."""


def rapl_delta_uj(before: int, after: int, max_range_uj: int) -> int:
    """Microjoules between two readings of a RAPL counter that wraps at ``max_range_uj``.

    The counter runs from 0 to ``max_range_uj`` and starts again at 0; a
    reading lower than the previous one means it wrapped (once: the window
    samples often enough for that).
    """
    if after >= before:
        return after - before
    return after + max_range_uj - before


def _read_int(path: Path) -> int:
    return int(path.read_text().strip())


@dataclass(frozen=True)
class RaplZone:
    name: str
    path: Path
    max_range_uj: int


class RaplMeter:
    """The CPU packages' RAPL energy counters (``energy_uj``) under ``root``."""

    kind = "rapl"

    def __init__(self, root: str | Path = POWERCAP) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise EnergyUnavailable(f"no RAPL: {self.root} does not exist (no powercap driver)")
        zones, problems = [], []
        # intel-rapl:N are the packages (AMD Zen uses the same driver); intel-rapl:N:M are
        # their sub-zones (core, uncore, dram), already inside the package's count.
        for d in sorted(self.root.glob("intel-rapl:*")):
            if d.name.count(":") != 1:
                continue
            try:
                name = (d / "name").read_text().strip()
                if not name.startswith("package"):
                    continue  # psys: the whole platform, overlapping the packages
                max_range = _read_int(d / "max_energy_range_uj")
                _read_int(d / "energy_uj")
            except PermissionError:
                problems.append(
                    f"{d / 'energy_uj'}: permission denied (root-only since Linux 5.10: run as "
                    "root or make it readable)"
                )
                continue
            except (OSError, ValueError) as exc:
                problems.append(f"{d}: {exc}")
                continue
            zones.append(RaplZone(name, d / "energy_uj", max_range))
        if problems:  # all packages or none: a partial sum would undercount
            raise EnergyUnavailable("RAPL unreadable: " + "; ".join(problems))
        if not zones:
            raise EnergyUnavailable(f"no RAPL package zones (intel-rapl:N) under {self.root}")
        self.zones = zones

    def read(self) -> tuple[int, ...]:
        return tuple(_read_int(z.path) for z in self.zones)

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        return 1e-6 * sum(
            rapl_delta_uj(b, a, z.max_range_uj) for z, b, a in zip(self.zones, before, after)
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counter": "RAPL energy_uj (uJ), package zones summed",
            "zones": [
                {"name": z.name, "path": str(z.path), "max_energy_range_uj": z.max_range_uj}
                for z in self.zones
            ],
        }


class NvmlMeter:
    """A GPU's NVML total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ)."""

    kind = "nvml"

    def __init__(self, cuda_index: int = 0) -> None:
        try:
            import pynvml
        except ImportError:
            raise EnergyUnavailable(
                "nvidia-ml-py is not installed (`pip install nvidia-ml-py`, or `make setup`): "
                "the GPU energy comes from NVML's total-energy counter"
            ) from None
        self.nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise EnergyUnavailable(
                f"NVML did not start ({exc}): the NVIDIA driver's libnvidia-ml.so is needed"
            ) from None
        self.handle = self._handle(cuda_index)
        self.name = _text(pynvml.nvmlDeviceGetName(self.handle))
        self.driver = _text(pynvml.nvmlSystemGetDriverVersion())
        try:
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
        except pynvml.NVMLError as exc:
            raise EnergyUnavailable(
                f"{self.name} has no NVML total-energy counter ({exc}); it needs a Volta or "
                "newer GPU"
            ) from None

    def _handle(self, cuda_index: int) -> Any:
        """The NVML handle of CUDA device ``cuda_index`` (by UUID: CUDA may renumber GPUs)."""
        nvml = self.nvml
        try:
            import torch

            uuid = str(torch.cuda.get_device_properties(cuda_index).uuid)
            return nvml.nvmlDeviceGetHandleByUUID(
                uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
            )
        except Exception:  # older torch, or a UUID NVML does not know: fall back to the index
            return nvml.nvmlDeviceGetHandleByIndex(cuda_index)

    def read(self) -> tuple[int, ...]:
        return (int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)),)

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        return 1e-3 * (after[0] - before[0])

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counter": "nvmlDeviceGetTotalEnergyConsumption (mJ)",
            "gpu": self.name,
            "driver": self.driver,
        }


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class EnergyWindow:
    """Joules of ``meter`` from now on, summed over samples (a wrap between two is caught)."""

    def __init__(
        self,
        meter: EnergyMeter,
        clock: Callable[[], float] = time.perf_counter,
        interval: float = SAMPLE_S,
    ) -> None:
        self.meter, self.clock, self.interval = meter, clock, interval
        self.t0 = self.t_last = clock()
        self.last = meter.read()
        self.total = 0.0

    def sample(self, force: bool = False) -> None:
        now = self.clock()
        if force or now - self.t_last >= self.interval:
            cur = self.meter.read()
            self.total += self.meter.joules(self.last, cur)
            self.last, self.t_last = cur, now

    def close(self) -> tuple[float, float]:
        """(joules, seconds) from the start to now."""
        self.sample(force=True)
        return self.total, self.t_last - self.t0


def measure_idle(
    meter: EnergyMeter,
    seconds: float,
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, float]:
    """Idle power: the counter over ``seconds`` with nothing of ours running."""
    if seconds <= 0:
        raise ValueError(f"idle measurement needs seconds > 0, got {seconds}")
    window = EnergyWindow(meter, clock)
    end = window.t0 + seconds
    while (left := end - clock()) > 0:
        sleep(min(SAMPLE_S, left))
        window.sample(force=True)
    joules, took = window.close()
    return {"seconds": took, "joules": joules, "watts": joules / took}


def latency_stats(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99, mean, min and max of per-iteration times, in ms."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    if ms.size == 0:
        raise ValueError("no iterations timed")
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {
        "p50_ms": float(p50),
        "p90_ms": float(p90),
        "p99_ms": float(p99),
        "mean_ms": float(ms.mean()),
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
    }


# ------------------------------------------------------------------ model and image
def _seeded_image(cfg: Any, seed: int, count: int = 1) -> Any:
    """The first of the ``count`` seeded standard-normal images export-hls calibrates on."""
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(count, cfg.in_chans, *cfg.img_size, generator=gen)[0]


def _regenerate_export_image(ckpt: dict[str, Any], cfg: Any) -> tuple[Any, str] | None:
    """The float image an export put in golden/, rebuilt from its manifest, or None."""
    calib = ckpt.get("calibration")
    if calib is None:  # no calibration (edgemoe numerics): still seeded images
        if "seed" not in ckpt:
            return None
        seed = int(ckpt["seed"])
        return _seeded_image(cfg, seed), f"seeded standard-normal image (seed {seed})"
    if calib.get("data") == "randn":
        seed, n = int(calib["seed"]), int(calib.get("images", 1))
        return _seeded_image(cfg, seed, n), f"first calibration image (randn, seed {seed})"
    from pymodel.data import make_dataset

    seed = int(ckpt.get("seed", 0))  # a checkpoint export does not record it: 0 is the default
    try:
        ds = make_dataset(
            calib["data"], cfg, split="train", seed=seed, num_scenes=int(calib["images"])
        )
        image = ds[0]["image"]
    except (OSError, ValueError, KeyError):
        return None
    return image, f"first calibration image ({calib['data']}, train split, seed {seed})"


def export_image(export_dir: Path, manifest: dict[str, Any], cfg: Any) -> tuple[Any, dict]:
    """The export's input image (C, H, W) float32 and where it came from."""
    import torch

    from pymodel.export.writer import quantize_image
    from pymodel.numerics.fixed import FixedFormat

    golden = export_dir / "golden" / "image.bin"
    fmt = FixedFormat.parse(manifest["input_format"])
    expected = np.fromfile(golden, dtype="<i8") if golden.is_file() else None
    found = _regenerate_export_image(manifest.get("checkpoint") or {}, cfg)
    if found is not None:
        image, how = found
        if expected is None:
            return image, {"source": how, "verified": False, "note": "the export has no golden/"}
        if np.array_equal(quantize_image(image, fmt).reshape(-1), expected):
            return image, {"source": how, "verified": True, "check": f"quantised == {golden}"}
    if expected is not None:
        shape = (cfg.in_chans, *cfg.img_size)
        if expected.size != int(np.prod(shape)):
            raise ValueError(f"{golden}: {expected.size} values, the model's input is {shape}")
        image = torch.from_numpy(fmt.to_float(expected).reshape(shape)).float()
        return image, {
            "source": f"{golden} dequantised ({fmt}): the accelerator's input exactly",
            "verified": True,
        }
    return _seeded_image(cfg, 0), {
        "source": "seeded standard-normal image (seed 0)",
        "verified": False,
        "note": "the export has no golden/ and its manifest does not tell its images",
    }


def load_export(export_dir: str | Path) -> tuple[Any, Any, dict, dict]:
    """(model, image, model info, image info) of an export directory."""
    from pymodel import build_model, load_checkpoint
    from pymodel.config import PRESETS
    from pymodel.export.writer import sha256_file

    export_dir = Path(export_dir)
    path = export_dir / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{export_dir}: no manifest.json (make one with edgemoe export-hls)"
        )
    manifest = json.loads(path.read_text())
    ckpt = manifest.get("checkpoint")
    info: dict[str, Any] = {"source": "export", "export": str(export_dir), "checkpoint": ckpt}
    if not ckpt or not ({"seed", "path"} & set(ckpt)):
        raise ValueError(
            f"{path}: no checkpoint entry, so its weights cannot be rebuilt; pass "
            "--preset (and --checkpoint) instead"
        )
    if "path" in ckpt:
        ck = Path(ckpt["path"])
        if not ck.exists():
            raise FileNotFoundError(f"{path} names checkpoint {ck}, which does not exist here")
        if ckpt.get("sha256") and ck.is_file() and sha256_file(ck) != ckpt["sha256"]:
            raise ValueError(
                f"{ck} is not the checkpoint {path} was exported from (sha256 differs)"
            )
        preset = manifest["preset"]
        model = load_checkpoint(ck, **({"preset": preset} if preset in PRESETS else {}))
    else:
        model = build_model(manifest["config"], seed=int(ckpt["seed"]))
        info["seed"] = int(ckpt["seed"])
    image, image_info = export_image(export_dir, manifest, model.cfg)
    return model, image, info, image_info


def load_model(
    preset: str, checkpoint: str | None = None, seed: int = 0
) -> tuple[Any, Any, dict, dict]:
    """(model, image, model info, image info) of a preset or checkpoint, seeded image."""
    from pymodel import build_model, load_checkpoint
    from pymodel.config import PRESETS

    if checkpoint:
        model = load_checkpoint(checkpoint, **({"preset": preset} if preset in PRESETS else {}))
        info = {"source": "checkpoint", "checkpoint": str(checkpoint)}
    else:
        model = build_model(preset, seed=seed)
        info = {"source": "preset", "seed": seed}
    image = _seeded_image(model.cfg, seed)
    return (
        model,
        image,
        info,
        {
            "source": f"seeded standard-normal image (seed {seed}), as edgemoe export-hls "
            f"--seed {seed} puts in golden/ (without --data)",
            "verified": False,
        },
    )


# ------------------------------------------------------------------ timing
def _torch_dtype(name: str) -> Any:
    import torch

    table = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if name not in table:
        raise ValueError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return table[name]


def check_cuda() -> None:
    """Raise :class:`BaselineError` naming what is missing when no CUDA GPU is usable."""
    import torch

    if torch.cuda.is_available():
        return
    built = f"for CUDA {torch.version.cuda}" if torch.version.cuda else "without CUDA"
    raise BaselineError(
        f"--device cuda: no CUDA GPU is visible (torch {torch.__version__}, built {built}); "
        "run on a machine with an NVIDIA GPU, its driver and a CUDA build of torch, "
        "or use --device cpu"
    )


def time_window(
    fn: Callable[[], Any],
    *,
    seconds: float,
    warmup: int,
    sync: Callable[[], None],
    meter: EnergyMeter | None = None,
    desc: str = "",
    progress: bool = True,
    min_iterations: int = 3,
) -> tuple[list[float], float, tuple[float, float] | None]:
    """Per-iteration seconds, the window's length and (joules, seconds) of the meter."""
    from tqdm import tqdm

    for _ in range(warmup):
        fn()
    sync()
    window = EnergyWindow(meter) if meter is not None else None
    times: list[float] = []
    start = time.perf_counter()
    bar = tqdm(
        total=seconds,
        desc=desc,
        leave=False,
        disable=not progress,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s",
    )
    with bar:
        while True:
            t0 = time.perf_counter()
            fn()
            sync()
            t1 = time.perf_counter()
            times.append(t1 - t0)
            if window is not None:
                window.sample()
            elapsed = t1 - start
            if elapsed - bar.n >= 0.1:
                bar.n = min(elapsed, seconds)
                bar.refresh()
            if elapsed >= seconds and len(times) >= min_iterations:
                break
    energy = window.close() if window is not None else None
    return times, time.perf_counter() - start, energy


def open_meter(
    device: str, rapl_root: str | Path = POWERCAP, cuda_index: int = 0
) -> tuple[EnergyMeter | None, str | None]:
    """The device's energy meter, or (None, why not)."""
    try:
        if device == "cuda":
            return NvmlMeter(cuda_index), None
        return RaplMeter(rapl_root), None
    except EnergyUnavailable as exc:
        return None, str(exc)


def run_baseline(
    model: Any,
    image: Any,
    *,
    task: str | int | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    batches: Sequence[int] = (1,),
    seconds: float = 10.0,
    warmup: int = 10,
    idle_seconds: float = 5.0,
    meter: EnergyMeter | None = None,
    meter_reason: str | None = None,
    moe_path: str = "expert",
    progress: bool = True,
) -> dict[str, Any]:
    """Time (and meter) ``model`` on ``image`` (C, H, W): the baseline payload.

    ``meter`` None means latency only; ``meter_reason`` then says why. The
    idle power is measured first (``idle_seconds``) when there is a meter.
    """
    import torch

    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; use cpu or cuda")
    if seconds <= 0 or warmup < 0:
        raise ValueError(f"need seconds > 0 and warmup >= 0 (got {seconds}, {warmup})")
    if not batches or any(int(b) < 1 for b in batches):
        raise ValueError(f"batch sizes must be >= 1, got {list(batches)}")
    if device == "cuda":
        check_cuda()
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    cfg = model.cfg
    task_name = cfg.tasks[cfg.task_index(task if task is not None else 0)]
    tdt = _torch_dtype(dtype)
    model = model.to(device=device, dtype=tdt).eval()
    model.set_moe_path(moe_path)
    image = image[0] if image.dim() == 4 else image

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    meter_info: dict[str, Any] = {
        "kind": meter.kind if meter else None,
        "available": meter is not None,
        "reason": None if meter else meter_reason or "no meter",
    }
    idle = None
    if meter is not None:
        meter_info.update(meter.describe())
        if seconds < MIN_ENERGY_SECONDS:
            meter_info["note"] = (
                f"windows of {seconds:g} s, shorter than the {MIN_ENERGY_SECONDS:g} s the "
                "counters' update step needs for 1 % resolution"
            )
            print(f"warning: {meter_info['note']}", file=sys.stderr)
        sync()
        idle = measure_idle(meter, idle_seconds)
        meter_info["idle"] = idle

    from pymodel.results import energy_record

    runs = []
    with torch.inference_mode():
        for batch in (int(b) for b in batches):
            x = image.to(device=device, dtype=tdt).unsqueeze(0).repeat(batch, 1, 1, 1)
            calls = {
                "backbone": lambda x=x: model.backbone(x, task_name),
                "full": lambda x=x: model(x, task_name),
            }
            for mode in MODES:
                times, window_s, energy = time_window(
                    calls[mode],
                    seconds=seconds,
                    warmup=warmup,
                    sync=sync,
                    meter=meter,
                    desc=f"{device} {mode} batch {batch}",
                    progress=progress,
                )
                frames = len(times) * batch
                run = {
                    "batch": batch,
                    "mode": mode,
                    "iterations": len(times),
                    "frames": frames,
                    "seconds": window_s,
                    "latency": latency_stats(times),
                    "throughput_fps": frames / window_s,
                    "energy": None,
                }
                if energy is not None and idle is not None:
                    joules, meter_s = energy
                    run["energy"] = energy_record(
                        meter=meter.kind,
                        joules=joules,
                        seconds=meter_s,
                        frames=frames,
                        idle_w=idle["watts"],
                    )
                runs.append(run)
    return {
        "device": device,
        "preset": cfg.name,
        "task": task_name,
        "dtype": dtype,
        "moe_path": moe_path,
        "threads": torch.get_num_threads(),
        "warmup": warmup,
        "seconds_per_window": seconds,
        "params": sum(p.numel() for p in model.parameters()),
        "energy_meter": meter_info,
        "loadavg_before": load_before,  # 1/5/15-min load when it started: others' work shows
        "runs": runs,
    }


def machine_info(device: str, meter: EnergyMeter | None) -> dict[str, Any]:
    """:func:`pymodel.results.machine` plus the GPU (name, driver, CUDA) on ``cuda``."""
    import torch

    from pymodel.results import machine

    info = machine()
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        info["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
        if isinstance(meter, NvmlMeter):
            info["gpu"], info["driver"] = meter.name, meter.driver
    return info


def baseline(
    *,
    device: str,
    export: str | Path | None = None,
    preset: str | None = None,
    checkpoint: str | None = None,
    seed: int = 0,
    task: str | None = None,
    dtype: str = "fp32",
    batches: Sequence[int] = (1,),
    seconds: float = 10.0,
    warmup: int = 10,
    idle_seconds: float = 5.0,
    require_energy: bool = True,
    rapl_root: str | Path = POWERCAP,
    moe_path: str = "expert",
    threads: int | None = None,
    source: str = "host.baseline.baseline",
    progress: bool = True,
) -> dict[str, Any]:
    """The whole baseline as a result envelope (kind ``baseline``, label ``measured``).

    On ``cuda`` a missing NVML raises :class:`BaselineError` unless
    ``require_energy`` is False (latency only); on the CPU an unreadable RAPL
    gives latency only with the reason in ``energy_meter``.
    """
    import torch

    from pymodel.results import envelope

    if (export is None) == (preset is None):
        raise ValueError("give exactly one of an export directory or a preset")
    if device == "cuda":
        check_cuda()
    if threads:
        torch.set_num_threads(int(threads))
    if export is not None:
        model, image, model_info, image_info = load_export(export)
    else:
        model, image, model_info, image_info = load_model(preset, checkpoint, seed)
    meter, reason = open_meter(device, rapl_root)
    if meter is None and device == "cuda" and require_energy:
        raise BaselineError(f"no GPU energy: {reason}; pass --no-energy to measure latency only")
    payload = run_baseline(
        model,
        image,
        task=task,
        device=device,
        dtype=dtype,
        batches=batches,
        seconds=seconds,
        warmup=warmup,
        idle_seconds=idle_seconds,
        meter=meter,
        meter_reason=reason,
        moe_path=moe_path,
        progress=progress,
    )
    return envelope(
        "baseline",
        "measured",
        source,
        machine_info=machine_info(device, meter),
        model=model_info,
        image=image_info,
        **payload,
    )


def format_runs(result: dict[str, Any]) -> str:
    """The runs of a baseline result as a few lines of text."""
    lines = []
    for run in result["runs"]:
        lat = run["latency"]
        line = (
            f"{run['mode']:<8} batch {run['batch']:>3}: p50 {lat['p50_ms']:8.2f} ms  "
            f"p90 {lat['p90_ms']:8.2f}  p99 {lat['p99_ms']:8.2f}  "
            f"{run['throughput_fps']:8.1f} frames/s"
        )
        if run["energy"]:
            e = run["energy"]
            line += f"  {e['net_j_per_frame']:.4g} J/frame (idle {e['idle_w']:.1f} W subtracted)"
        lines.append(line)
    meter = result["energy_meter"]
    if not meter["available"]:
        lines.append(f"energy not measured: {meter['reason']}")
    return "\n".join(lines)
