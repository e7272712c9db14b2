"""The GPU/CPU baseline: energy counters (RAPL, NVML), timing, the export's model and image."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from host import baseline as bl
from pymodel.cli import main
from pymodel.results import read_result

from .conftest import require

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ RAPL
def fake_powercap(root: Path, packages: dict[str, tuple[int, int]]) -> Path:
    """A powercap tree: intel-rapl:N package zones {name: (energy_uj, max_energy_range_uj)},
    each with a core sub-zone and a psys zone beside them (neither may be counted)."""
    for i, (name, (energy, max_range)) in enumerate(packages.items()):
        zone = root / f"intel-rapl:{i}"
        sub = zone / f"intel-rapl:{i}:0"
        sub.mkdir(parents=True)
        for d, n, e in ((zone, name, energy), (sub, "core", 123)):
            (d / "name").write_text(n + "\n")
            (d / "energy_uj").write_text(f"{e}\n")
            (d / "max_energy_range_uj").write_text(f"{max_range}\n")
        (root / f"intel-rapl:{i}:0").mkdir(exist_ok=True)  # flat links, as sysfs has them
        for f in ("name", "energy_uj", "max_energy_range_uj"):
            (root / f"intel-rapl:{i}:0" / f).write_text((sub / f).read_text())
    psys = root / f"intel-rapl:{len(packages)}"
    psys.mkdir()
    (psys / "name").write_text("psys\n")
    (psys / "energy_uj").write_text("999999\n")
    (psys / "max_energy_range_uj").write_text("1000000000\n")
    return root


def set_energy(root: Path, index: int, value: int) -> None:
    (root / f"intel-rapl:{index}" / "energy_uj").write_text(f"{value}\n")


def test_rapl_delta_wraps_at_max_energy_range():
    assert bl.rapl_delta_uj(100, 350, 1000) == 250
    assert bl.rapl_delta_uj(900, 100, 1000) == 200  # wrapped once: 900 -> 1000 -> 0 -> 100
    assert bl.rapl_delta_uj(0, 0, 1000) == 0


def test_rapl_meter_sums_packages_with_wraparound(tmp_path):
    root = fake_powercap(
        tmp_path, {"package-0": (262_000_000, 262_143_328), "package-1": (5, 10**9)}
    )
    meter = bl.RaplMeter(root)
    assert [z.name for z in meter.zones] == ["package-0", "package-1"]  # no core, no psys
    before = meter.read()
    set_energy(root, 0, 1_000_000)  # wrapped: 143_328 uJ to the top, then 1 J
    set_energy(root, 1, 2_000_005)
    after = meter.read()
    assert meter.joules(before, after) == pytest.approx(1.143328 + 2.0)
    info = meter.describe()
    assert info["kind"] == "rapl" and info["zones"][0]["max_energy_range_uj"] == 262_143_328


def test_energy_window_catches_a_wrap_between_samples(tmp_path):
    """Two wraps over a run are caught when it is sampled between them."""
    root = fake_powercap(tmp_path, {"package-0": (900, 1000)})
    clock = iter(float(t) for t in range(100))
    window = bl.EnergyWindow(bl.RaplMeter(root), clock=lambda: next(clock), interval=0.5)
    for value in (100, 800, 300):  # +200, +700, +500 (each step under one wrap)
        set_energy(root, 0, value)
        window.sample()
    joules, seconds = window.close()
    assert joules == pytest.approx(1400e-6)
    assert seconds == 4.0


def test_idle_power_from_the_counter(tmp_path):
    root = fake_powercap(tmp_path, {"package-0": (0, 10**12)})
    now = [0.0]

    def sleep(dt: float) -> None:  # a fake clock: the package draws 12.5 W
        now[0] += dt
        set_energy(root, 0, round(now[0] * 12.5e6))

    idle = bl.measure_idle(bl.RaplMeter(root), 2.0, clock=lambda: now[0], sleep=sleep)
    assert idle["seconds"] == pytest.approx(2.0)
    assert idle["watts"] == pytest.approx(12.5, rel=1e-6)


def test_rapl_missing_or_unreadable_says_why(tmp_path, monkeypatch):
    with pytest.raises(bl.EnergyUnavailable, match="does not exist"):
        bl.RaplMeter(tmp_path / "nothing")
    with pytest.raises(bl.EnergyUnavailable, match="no RAPL package zones"):
        bl.RaplMeter(tmp_path)  # an empty powercap
    root = fake_powercap(tmp_path / "pc", {"package-0": (1, 100)})

    def denied(path: Path) -> int:  # root reads anything, so deny as a kernel >= 5.10 would
        if path.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return int(path.read_text())

    monkeypatch.setattr(bl, "_read_int", denied)
    with pytest.raises(bl.EnergyUnavailable, match="permission denied"):
        bl.RaplMeter(root)


def test_energy_record_subtracts_idle():
    from pymodel.results import energy_record

    e = energy_record(meter="rapl", joules=300.0, seconds=10.0, frames=200, idle_w=20.0)
    assert e["avg_w"] == 30.0 and e["net_joules"] == 100.0
    assert e["j_per_frame"] == 1.5 and e["net_j_per_frame"] == 0.5
    with pytest.raises(ValueError, match="frames > 0"):
        energy_record(meter="rapl", joules=1.0, seconds=1.0, frames=0, idle_w=0.0)


# ------------------------------------------------------------------ NVML
def fake_pynvml(energy_mj: list[int], supported: bool = True) -> types.ModuleType:
    """A stand-in for nvidia-ml-py with the calls NvmlMeter makes."""
    mod = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    mod.NVMLError = NVMLError
    mod.nvmlInit = lambda: None
    mod.nvmlDeviceGetHandleByUUID = lambda uuid: "handle"
    mod.nvmlDeviceGetHandleByIndex = lambda i: "handle"
    mod.nvmlDeviceGetName = lambda h: b"NVIDIA Test GPU"
    mod.nvmlSystemGetDriverVersion = lambda: "999.1"
    readings = iter(energy_mj)

    def energy(handle):
        if not supported:
            raise NVMLError("Not Supported")
        return next(readings)

    mod.nvmlDeviceGetTotalEnergyConsumption = energy
    return mod


def test_nvml_meter_reads_millijoules(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([1000, 5000, 17500]))
    meter = bl.NvmlMeter(0)  # the first reading checks the counter exists
    assert meter.describe() == {
        "kind": "nvml",
        "counter": "nvmlDeviceGetTotalEnergyConsumption (mJ)",
        "gpu": "NVIDIA Test GPU",
        "driver": "999.1",
    }
    a, b = meter.read(), meter.read()
    assert meter.joules(a, b) == pytest.approx(12.5)


def test_nvml_absent_or_unsupported_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    with pytest.raises(bl.EnergyUnavailable, match="nvidia-ml-py is not installed"):
        bl.NvmlMeter(0)
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([], supported=False))
    with pytest.raises(bl.EnergyUnavailable, match="Volta or newer"):
        bl.NvmlMeter(0)


def test_nvml_without_a_driver_says_so():
    """The real nvidia-ml-py on a machine without the NVIDIA driver."""
    import importlib.util

    require(importlib.util.find_spec("pynvml") is not None, "nvidia-ml-py (make setup)")
    import pynvml

    if torch.cuda.is_available():
        pytest.skip("this machine has the NVIDIA driver")
    with pytest.raises(bl.EnergyUnavailable, match="libnvidia-ml"):
        bl.NvmlMeter(0)
    assert pynvml.NVMLError  # the package itself imported


def test_cuda_without_a_gpu_exits_2_with_a_message(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert main(["baseline", "--device", "cuda", "--preset", "tiny", "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert "no CUDA GPU is visible" in err and "--device cpu" in err


# ------------------------------------------------------------------ timing and results
class CountingMeter:
    """A meter whose counter rises 1 J per read: the window's joules are its read count."""

    kind = "fake"

    def __init__(self) -> None:
        self.value = 0

    def read(self) -> tuple[int, ...]:
        self.value += 1
        return (self.value,)

    def joules(self, before, after) -> float:
        return float(after[0] - before[0])

    def describe(self) -> dict:
        return {"kind": self.kind}


def test_run_baseline_times_both_modes_and_meters_them(tiny_model):
    image = torch.randn(3, *tiny_model.cfg.img_size)
    payload = bl.run_baseline(
        tiny_model,
        image,
        task="depth",
        batches=(1, 2),
        seconds=0.2,
        warmup=1,
        idle_seconds=0.05,
        meter=CountingMeter(),
        progress=False,
    )
    assert payload["task"] == "depth" and payload["energy_meter"]["available"]
    assert [(r["batch"], r["mode"]) for r in payload["runs"]] == [
        (1, "backbone"), (1, "full"), (2, "backbone"), (2, "full"),
    ]  # fmt: skip
    for run in payload["runs"]:
        lat = run["latency"]
        assert 0 < lat["min_ms"] <= lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"] <= lat["max_ms"]
        assert run["iterations"] >= 3 and run["frames"] == run["iterations"] * run["batch"]
        assert run["seconds"] >= 0.2
        assert run["throughput_fps"] == pytest.approx(run["frames"] / run["seconds"])
        e = run["energy"]
        assert e["meter"] == "fake" and e["joules"] > 0 and e["frames"] == run["frames"]
        idle = payload["energy_meter"]["idle"]["watts"]
        assert e["net_joules"] == pytest.approx(e["joules"] - idle * e["seconds"])
    assert "shorter than" in payload["energy_meter"]["note"]


def test_run_baseline_without_meter_is_latency_only(tiny_model):
    payload = bl.run_baseline(
        tiny_model,
        torch.randn(1, 3, *tiny_model.cfg.img_size),
        seconds=0.05,
        warmup=0,
        meter=None,
        meter_reason="RAPL unreadable: test",
        progress=False,
    )
    assert payload["energy_meter"] == {
        "kind": None,
        "available": False,
        "reason": "RAPL unreadable: test",
    }
    assert all(r["energy"] is None for r in payload["runs"])


def test_bad_arguments_are_refused(tiny_model):
    image = torch.randn(3, *tiny_model.cfg.img_size)
    with pytest.raises(ValueError, match="seconds > 0"):
        bl.run_baseline(tiny_model, image, seconds=0, progress=False)
    with pytest.raises(ValueError, match="batch sizes"):
        bl.run_baseline(tiny_model, image, batches=(0,), progress=False)
    with pytest.raises(ValueError, match="unknown dtype"):
        bl.run_baseline(tiny_model, image, dtype="fp8", seconds=0.01, progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        bl.baseline(device="cpu")


def test_cli_rapl_unreadable_gives_latency_only(tmp_path, capsys):
    out = tmp_path / "cpu.json"
    args = ["baseline", "--device", "cpu", "--preset", "tiny", "--seconds", "0.2", "--warmup", "1"]
    assert main([*args, "--rapl-root", str(tmp_path / "no-powercap"), "--json", str(out)]) == 0
    result = read_result(out)
    assert result["kind"] == "baseline" and result["label"] == "measured"
    assert result["source"].startswith("edgemoe baseline --device cpu")
    assert not result["energy_meter"]["available"]
    assert "does not exist" in result["energy_meter"]["reason"]
    assert all(run["energy"] is None for run in result["runs"])
    assert "energy not measured" in capsys.readouterr().out


def test_cli_rapl_readable_gives_energy(tmp_path):
    root = fake_powercap(tmp_path / "pc", {"package-0": (0, 10**12)})
    out = tmp_path / "cpu.json"
    args = ["baseline", "--device", "cpu", "--preset", "tiny", "--seconds", "0.2", "--warmup", "1"]
    assert main([*args, "--idle-seconds", "0.1", "--rapl-root", str(root), "--json", str(out)]) == 0
    result = read_result(out)
    assert result["energy_meter"]["available"] and result["energy_meter"]["kind"] == "rapl"
    # the fake counter never moves: zero energy, measured, not estimated
    assert all(run["energy"]["joules"] == 0.0 for run in result["runs"])


def test_cli_baseline_cpu_tiny_as_in_the_issue(tmp_path):
    """`edgemoe baseline --device cpu --preset tiny --seconds 3 --json x.json` works."""
    out = tmp_path / "x.json"
    cmd = [sys.executable, "-m", "pymodel.cli", "baseline", "--device", "cpu", "--preset", "tiny"]
    r = subprocess.run(
        [*cmd, "--seconds", "3", "--json", str(out)], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    result = read_result(out)
    assert {run["mode"] for run in result["runs"]} == {"backbone", "full"}
    assert all(run["seconds"] >= 3 for run in result["runs"])
    assert result["machine"]["cpu"] and result["preset"] == "tiny"
    assert f"wrote {out}" in r.stdout


# ------------------------------------------------------------------ model and image
@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    from pymodel.export import export_from_cli

    return export_from_cli("tiny", tmp_path_factory.mktemp("export"), seed=3, golden=True)


def test_export_model_and_image_are_the_accelerators(tiny_export):
    from pymodel import build_model
    from pymodel.export.writer import quantize_image
    from pymodel.numerics.fixed import FixedFormat

    model, image, model_info, image_info = bl.load_export(tiny_export)
    ref = build_model("tiny", seed=3)
    for (name, a), b in zip(model.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name
    assert model_info["seed"] == 3 and model_info["source"] == "export"
    assert image_info["verified"] and "seed 3" in image_info["source"]
    manifest = json.loads((tiny_export / "manifest.json").read_text())
    raw = quantize_image(image, FixedFormat.parse(manifest["input_format"])).reshape(-1)
    golden = np.fromfile(tiny_export / "golden" / "image.bin", dtype="<i8")
    assert np.array_equal(raw, golden)


def test_export_image_falls_back_to_the_golden_input(tiny_export, tmp_path):
    """An export whose images cannot be regenerated: the dequantised golden input."""
    import shutil

    from pymodel.numerics.fixed import FixedFormat

    export = tmp_path / "export"
    shutil.copytree(tiny_export, export)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["checkpoint"]["calibration"]["seed"] = 99  # not what made golden/image.bin
    (export / "manifest.json").write_text(json.dumps(manifest))
    _, image, _, info = bl.load_export(export)
    assert info["verified"] and "dequantised" in info["source"]
    fmt = FixedFormat.parse(manifest["input_format"])
    golden = np.fromfile(export / "golden" / "image.bin", dtype="<i8")
    assert np.array_equal(fmt.from_float(image.double().numpy()).reshape(-1), golden)


def test_export_without_checkpoint_entry_is_refused(tiny_export, tmp_path):
    import shutil

    export = tmp_path / "export"
    shutil.copytree(tiny_export, export)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["checkpoint"] = None
    (export / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="no checkpoint entry"):
        bl.load_export(export)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        bl.load_export(tmp_path)


def test_cli_baseline_from_an_export(tiny_export, tmp_path):
    out = tmp_path / "b.json"
    args = ["baseline", "--device", "cpu", "--export", str(tiny_export), "--task", "depth"]
    assert main([*args, "--seconds", "0.1", "--warmup", "0", "--json", str(out)]) == 0
    result = read_result(out)
    assert result["model"]["source"] == "export" and result["image"]["verified"]
    assert result["task"] == "depth"


# ------------------------------------------------------------------ on a GPU
@pytest.mark.gpu
def test_cuda_baseline_measures_energy(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    out = tmp_path / "gpu.json"
    args = ["baseline", "--device", "cuda", "--preset", "tiny", "--seconds", "2"]
    assert main([*args, "--idle-seconds", "1", "--batch", "1,4", "--json", str(out)]) == 0
    result = read_result(out)
    assert result["machine"]["gpu"] and result["machine"]["driver"]
    assert result["energy_meter"]["kind"] == "nvml"
    assert result["energy_meter"]["idle"]["watts"] > 0
    for run in result["runs"]:
        assert run["energy"]["joules"] > 0 and run["latency"]["p50_ms"] > 0


def test_host_results_and_report_import_without_torch():
    """A PYNQ board image has no torch: these modules must not pull it in."""
    code = (
        "import sys, host, host.baseline, pymodel.results, pymodel.reports.comparison, "
        "pymodel.cli; assert 'torch' not in sys.modules, 'torch imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
