"""Host runtime on the simulated board: imports, files, checks, registers, errors, power.

Bit-exact end-to-end runs are in ``test_host_e2e.py``. Here the simulated board's
PL is mostly a test hook (hang, report a status), so these tests need pynq but
not g++; the ones that run the C simulation say so.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pymodel.export.design import Design

from .host_fixtures import Case, CountingPL, require_csim, require_pynq, rewrite_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Case:
    return Case(tmp_path_factory.mktemp("host-tiny"), "tiny", "hw16")


@pytest.fixture
def simbit(tiny, tmp_path):
    """A simulated bitstream folder for the tiny export's design (callers may alter it)."""
    require_pynq()
    from host.export import Export
    from host.simboard import write_bitstream

    ex = Export.open(tiny.dir)
    return write_bitstream(tmp_path / "bit", interface=ex.interface, design=ex.design,
                           act_w=ex.act_w)  # fmt: skip


def open_sim(tiny, pl, bitstream=None, **kw):
    from host import Accelerator

    return Accelerator.open(bitstream, backend="csim", export=tiny.dir, pl=pl, **kw)


# ----------------------------------------------------------------- imports
def test_import_host_pulls_in_neither_torch_nor_pynq():
    code = (
        "import sys, host, host.cli, host.power, host.image, host.hwh, host.heads\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pynq', 'sim')"
        " or m.startswith(('pymodel.export', 'pymodel.model', 'pymodel.numerics.forward')))\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_host_sources_parse_as_python_3_8():
    for f in sorted((ROOT / "host").glob("*.py")) + [ROOT / "pymodel/numerics/fixed.py"]:
        ast.parse(f.read_text(), filename=str(f), feature_version=(3, 8))


def test_dim_limits_match_the_exporter():
    from host.export import DIM_LIMITS
    from pymodel.export import descriptor

    assert DIM_LIMITS == descriptor._DIM_LIMITS


# ------------------------------------------------------------ export files
def test_export_checks_files(tiny, tmp_path):
    import shutil

    from host.errors import ExportError
    from host.export import Export

    ex = Export.open(tiny.dir)
    assert ex.tasks == ["semseg", "depth"] and ex.image_shape == (3, 48, 64)
    assert ex.token_shape == (13, 32)
    bad = tmp_path / "bad"
    shutil.copytree(tiny.dir, bad)
    params = bad / "params.bin"
    data = bytearray(params.read_bytes())
    data[100] ^= 1
    params.write_bytes(bytes(data))
    with pytest.raises(ExportError, match="sha256 of params.bin"):
        Export.open(bad)
    params.write_bytes(bytes(data[:-16]))
    with pytest.raises(ExportError, match="truncated"):
        Export.open(bad)
    params.unlink()
    with pytest.raises(ExportError, match="params.bin is missing"):
        Export.open(bad)
    (bad / "manifest.json").unlink()
    with pytest.raises(ExportError, match="no manifest.json"):
        Export.open(bad)
    with pytest.raises(ExportError, match="does not exist"):
        Export.open(tmp_path / "nowhere")


# --------------------------------------------------------------- .hwh files
def test_hwh_round_trip_through_pynqs_parser(tiny, tmp_path):
    require_pynq()
    from host.export import Export
    from host.hwh import check_registers, read_engine, register_names, write_hwh

    ex = Export.open(tiny.dir)
    path = write_hwh(ex.interface, tmp_path / "d.hwh", clock_mhz=250.0)
    name, ip = read_engine(path, "xilinx.com:hls:edgemoe_top:1.0")
    assert name == "edgemoe_top_0" and ip["phys_addr"] == 0xA0000000
    assert check_registers(ip["registers"], ex.interface) == []
    names = register_names(ex.interface)
    for reg, off in ex.interface["register_map"].items():
        assert ip["registers"][names[reg]]["address_offset"] == off
    assert ip["registers"]["params_1"]["access"] == "write-only"
    assert ip["registers"]["status"]["access"] == "read-only"


def test_hwh_of_another_design_is_refused(tiny, tmp_path):
    require_pynq()
    from host.errors import BitstreamError
    from host.export import Export
    from host.hwh import check_registers, read_engine, write_hwh
    from pymodel.export import Design, interface

    ex = Export.open(tiny.dir)
    ports = Design().weight_ports  # the export's design
    other_design = Design(weight_ports=ports - 1)
    other = interface(other_design)
    _, ip = read_engine(write_hwh(other, tmp_path / "two.hwh"), "xilinx.com:hls:edgemoe_top:1.0")
    problems = check_registers(ip["registers"], ex.interface)
    io_hwh, io_export = other["register_map"]["IO_LO"], ex.interface["register_map"]["IO_LO"]
    moved = f"io_1 (IO_LO) is at {io_hwh:#x} in the .hwh, at {io_export:#x}"
    assert any(moved in p for p in problems), problems
    assert any(f"wgt{ports - 1}_1" in p for p in problems)
    foreign = dict(ex.interface, top="resize_accel")
    with pytest.raises(BitstreamError, match="no IP of type xilinx.com:hls:edgemoe_top:1.0"):
        read_engine(write_hwh(foreign, tmp_path / "f.hwh"), "xilinx.com:hls:edgemoe_top:1.0")


def test_open_refuses_bad_bitstreams(tiny, simbit):
    require_pynq()
    from host.errors import BitstreamError
    from host.hwh import write_hwh
    from pymodel.export import Design, interface

    pl = CountingPL()
    hwh = simbit.with_suffix(".hwh")
    good = hwh.read_bytes()
    hwh.write_bytes(good + b" ")
    with pytest.raises(BitstreamError, match="sha256 of edgemoe_sim.hwh"):
        open_sim(tiny, pl, simbit)
    write_hwh(interface(Design(weight_ports=2)), hwh)
    rewrite_file(simbit.parent, "hwh", hwh)
    with pytest.raises(BitstreamError, match="registers differ from the register map"):
        open_sim(tiny, pl, simbit)
    write_hwh(dict(interface(Design()), top="resize_accel"), hwh)
    rewrite_file(simbit.parent, "hwh", hwh)
    with pytest.raises(BitstreamError, match="no IP of type xilinx.com:hls:edgemoe_top:1.0"):
        open_sim(tiny, pl, simbit)
    hwh.unlink()
    with pytest.raises(BitstreamError, match="edgemoe_sim.hwh is missing"):
        open_sim(tiny, pl, simbit)
    assert pl.starts == 0


def _manifest_with(simbit, **changes):
    m = json.loads((simbit.parent / "manifest.json").read_text())
    m.update(changes)
    (simbit.parent / "manifest.json").write_text(json.dumps(m))
    return m


@pytest.mark.parametrize(
    "change, match",
    [
        ({"act_w": 32}, "16-bit activations, the engine was generated for 32"),
        ({"hash": "0123456789abcdef"}, "interface hash"),
        ({"tokens": 8}, r"tokens=13 exceeds the bitstream's maxima.tokens=8"),
        ({"experts": 2}, r"experts=4 exceeds the bitstream's maxima.experts=2"),
        ({"mac_in": 8}, rf"another design \(mac_in: {Design().mac_in} vs 8"),
    ],
)
def test_load_refuses_an_export_the_bitstream_cannot_run(tiny, simbit, change, match):
    from host.errors import MismatchError
    from pymodel.export import Design

    m = json.loads((simbit.parent / "manifest.json").read_text())
    if "act_w" in change:
        _manifest_with(simbit, act_w=32)
    elif "hash" in change:
        _manifest_with(simbit, interface=dict(m["interface"], **change))
    else:
        _manifest_with(simbit, design=Design.from_dict(m["design"]).with_(**change).to_dict())
    pl = CountingPL()
    with open_sim(tiny, pl, simbit) as acc:
        with pytest.raises(MismatchError, match=match):
            acc.load(tiny.dir)
        assert acc.sim.allocations == 0 and pl.starts == 0


# -------------------------------------------------------- registers and runs
def test_register_file_behaves_as_vitis_hls_generates_it(tiny):
    require_pynq()
    pl = CountingPL()  # starts, never finishes
    with open_sim(tiny, pl, timeout_s=0.05) as acc:
        acc.load(tiny.dir)
        ip = acc.board.ip
        assert ip.reg("CTRL") & 0x4  # ap_idle after reset
        with pytest.raises(Exception, match="ap_done"):
            acc.run(tiny.image(), "semseg", head=False)
        regs = pl.regs
        # both words of every 64-bit address: the simulated DDR lies above 4 GiB
        assert acc.params.device_address >> 32 and acc.io.device_address >> 32
        assert regs.arg("params") == regs.arg("wgt0") == acc.params.device_address
        assert regs.arg("io") == acc.io.device_address and regs.arg("task") == 0
        ip.set("IER", 1)
        regs.finish(7)
        assert ip.reg("CTRL") & 0b1110 == 0b1110  # ap_done, ap_idle, ap_ready
        assert ip.reg("CTRL") & 0b1010 == 0  # ap_done and ap_ready clear on read
        assert ip.reg("STATUS") == 7 and ip.reg("STATUS_CTRL") == 1
        assert ip.reg("STATUS_CTRL") == 0  # ap_vld clears on read
        assert ip.reg("ISR") == 1
        ip.set("ISR", 1)  # toggle on write
        assert ip.reg("ISR") == 0
        from host.simboard import SimBusError

        with pytest.raises(SimBusError):  # the PL reaching memory no buffer backs
            acc.sim.resolve(acc.io.device_address + (1 << 36))
        assert acc.sim.faults and "unmapped address" in acc.sim.faults[0]


def test_timeout_raises_with_a_register_dump_and_faults(tiny):
    require_pynq()
    from host.errors import HostError, KernelTimeout

    pl = CountingPL()
    with open_sim(tiny, pl, timeout_s=0.1) as acc:
        acc.load(tiny.dir)
        with pytest.raises(KernelTimeout, match="did not raise ap_done within 0.1 s") as err:
            acc.run(tiny.image(), "depth", head=False)
        regs = err.value.registers
        assert regs["CTRL (last poll)"] == 0x1  # ap_start held, ap_idle low, never done
        assert regs["TASK"] == 1 and regs["PARAMS_HI"] == acc.params.device_address >> 32
        assert "IO_LO=0x" in str(err.value)
        with pytest.raises(HostError, match="open the accelerator again"):
            acc.run(tiny.image(), "depth")
    assert pl.starts == 1


def test_every_status_code_is_decoded(tiny):
    require_pynq()
    from host.errors import KernelStatusError

    codes = json.loads((tiny.dir / "manifest.json").read_text())["status_codes"]
    status = {"code": 0}
    pl = CountingPL(lambda regs: regs.finish(status["code"]))
    with open_sim(tiny, pl) as acc:
        acc.load(tiny.dir)
        for name, code in codes.items():
            if name == "OK":
                continue
            status["code"] = code
            with pytest.raises(KernelStatusError, match=f"status {code} \\({name}\\)") as err:
                acc.run(tiny.image(), 0, head=False)
            assert (err.value.code, err.value.name) == (code, name)
        status["code"] = 99
        with pytest.raises(KernelStatusError, match="UNKNOWN"):
            acc.run(tiny.image(), 0, head=False)


def test_real_kernel_status_from_corrupted_ddr(tiny):
    """The C-simulated engine itself refuses a params image whose magic was overwritten."""
    require_pynq()
    require_csim()
    from host import Accelerator
    from host.errors import KernelStatusError

    with Accelerator.open(backend="csim", export=tiny.dir) as acc:
        acc.load(tiny.dir)
        assert acc.run(tiny.image(), "semseg", head=False).status == "OK"
        acc.params[0] ^= 0xFF
        acc.params.flush()
        with pytest.raises(KernelStatusError, match="BAD_MAGIC"):
            acc.run(tiny.image(), "semseg", head=False)


@pytest.mark.parametrize(
    "image, task, match",
    [
        (np.zeros((3, 48, 64), np.float32), "normals", "unknown task 'normals'"),
        (np.zeros((3, 48, 64), np.float32), 2, "unknown task 2"),
        (np.zeros((48, 64), np.float32), 0, r"image shape \(48, 64\)"),
        (np.zeros((1, 48, 64), np.float32), 0, "1 channels, the model takes 3"),
        (np.zeros((3, 64, 48), np.float32), 0, r"image size \(64, 48\)"),
        (np.zeros((2, 3, 48, 64), np.float32), 0, "batch 2"),
        (np.zeros((3, 48, 64), np.uint8), 0, "dtype uint8"),
        (np.full((3, 48, 64), np.nan, np.float32), 0, "NaN"),
    ],
)
def test_bad_input_is_refused_before_the_device_is_touched(tiny, image, task, match):
    require_pynq()
    from host.errors import InputError

    pl = CountingPL()
    with open_sim(tiny, pl) as acc:
        acc.load(tiny.dir)
        io_before = np.array(acc.io)
        with pytest.raises(InputError, match=match):
            acc.run(image, task)
        assert pl.starts == 0 and np.array_equal(np.array(acc.io), io_before)


def test_cacheable_buffers_need_flush_and_invalidate(tiny):
    """The simulated board's cacheable buffers have a separate DDR copy, so a missing
    flush would hand the PL stale input; the driver's flush/invalidate keep it exact."""
    require_pynq()
    seen = {}

    def pl(regs):  # record the io image as the PL sees it, write one output word
        seen["io"] = np.array(regs.buffer("io"))
        out = regs.board.resolve(regs.arg("io"))
        x = int(regs.board.interface["args"][0]["offset"])  # any marker value
        seen["marker"] = x
        off = int(acc.export.manifest["io_regions"]["io_x"]) * 16
        out[off : off + 2] = np.frombuffer(np.int16(x).tobytes(), np.uint8)
        regs.finish(1)

    with open_sim(tiny, pl, cacheable=True) as acc:
        acc.load(tiny.dir)
        ex = acc.export
        acc.io[:16] = 7  # a host-side write is invisible to the PL until flushed
        assert not np.array_equal(acc.sim.resolve(acc.io.device_address)[:16], acc.io[:16])
        r = acc.run(tiny.image(), 0, head=False)
        q = ex.quantize(tiny.image())
        c, h, w = q.shape
        assert np.array_equal(ex.io_rows(seen["io"], "io_in", c * h, w), q.reshape(c * h, w))
        assert r.raw[0, 0] == seen["marker"]  # the PL's write reached the host: invalidated


def test_result_to_json(tiny):
    require_pynq()
    with open_sim(tiny, lambda regs: regs.finish(1)) as acc:
        acc.load(tiny.dir)
        r = acc.run(tiny.image(), "semseg")
    j = json.loads(json.dumps(r.to_json()))
    assert j["task"] == "semseg" and j["status"] == "OK" and j["tokens_shape"] == [13, 32]
    assert j["head_shape"] == [5, 48, 64] and len(j["raw_sha256"]) == 64
    assert set(j["timings_s"]) == {"upload", "kernel", "download", "head"}


def test_clock_programmed_from_the_hwh(tiny):
    require_pynq()
    from pynq.ps import Clocks

    with open_sim(tiny, CountingPL()):
        assert abs(Clocks.fclk0_mhz - 300.0) < 0.01  # pynq set pl_clk0 at download


# ------------------------------------------------------------ heads, images
def test_numpy_heads_match_pytorch(tiny):
    import torch

    from host.heads import Heads

    heads = Heads.open(tiny.dir)
    tokens = torch.randn(1, 13, 32, generator=torch.Generator().manual_seed(3))
    for task in tiny.model.cfg.tasks:
        with torch.no_grad():
            ref = tiny.model.decoders[task](tokens)[0].numpy()
        out = heads.run(tokens[0].numpy(), task)
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() < 1e-4, task


def test_heads_two_stage_layout(tmp_path):
    import torch

    from host.heads import Heads
    from pymodel import build_model, perturb_untrained
    from pymodel.export.heads import write_heads

    model = build_model("tiny", seed=2, head_convs=2, head_upsamples=1)
    perturb_untrained(model, 2)
    write_heads(model, tmp_path)
    tokens = torch.randn(1, 13, 32)
    with torch.no_grad():
        ref = model.decoders["depth"](tokens)[0].numpy()
    assert np.abs(Heads.open(tmp_path).run(tokens[0].numpy(), "depth") - ref).max() < 1e-4


def test_load_image_normalises_as_training(tmp_path):
    from PIL import Image

    from host.errors import InputError
    from host.image import load_image
    from pymodel.data import normalize_image

    rgb = np.random.default_rng(0).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png", (48, 64))
    assert x.dtype == np.float32 and x.shape == (3, 48, 64)
    assert np.array_equal(x, normalize_image(rgb, (48, 64)).numpy())
    np.save(tmp_path / "b.npy", x)
    assert np.array_equal(load_image(tmp_path / "b.npy", (48, 64)), x)
    with pytest.raises(InputError, match="expected"):
        load_image(tmp_path / "b.npy", (32, 32))
    (tmp_path / "c.png").write_text("not a picture")
    with pytest.raises(InputError, match="not a readable picture"):
        load_image(tmp_path / "c.png", (48, 64))


# ------------------------------------------------------------------- power
class Frame:
    """What pynq.DataRecorder.frame offers: a datetime index and named columns."""

    def __init__(self, t_s, marks, **columns) -> None:
        self.index = (np.asarray(t_s) * 1e9).astype("datetime64[ns]")
        self.columns = {"Mark": np.asarray(marks, dtype=np.float32), **columns}

    def __getitem__(self, key):
        return self.columns[key]


def recorded(idle_w, run_w, idle_s=2.0, run_s=10.0, dt=0.05, int_w=(1.0, 3.0)):
    t_idle = np.arange(0, idle_s, dt)
    t_run = idle_s + np.arange(0, run_s + dt / 2, dt)
    t = np.concatenate([t_idle, t_run, [t_run[-1] + dt]])
    marks = [0] * t_idle.size + [1] * t_run.size + [2]
    p12 = np.concatenate([np.full(t_idle.size, idle_w), np.full(t_run.size, run_w), [idle_w]])
    pint = np.concatenate([np.full(t_idle.size, int_w[0]), np.full(t_run.size, int_w[1]), [0.0]])
    return Frame(t, marks, **{"12V_power": p12, "INT_power": pint})


def test_energy_per_frame_maths():
    from host.power import energy_from_frame

    e = energy_from_frame(recorded(14.0, 18.0), frames=100, run_s=10.0)
    r = e["rails"]["12V"]
    assert r["idle_w"] == pytest.approx(14.0) and r["run_w"] == pytest.approx(18.0)
    assert r["energy_per_frame_j"] == pytest.approx(0.4)
    assert r["total_energy_per_frame_j"] == pytest.approx(1.8)
    assert e["rails"]["INT"]["energy_per_frame_j"] == pytest.approx(0.2)
    assert e["interval_s"] == pytest.approx(0.05) and e["frames"] == 100
    assert not e["short_run"] and e["samples"] == 242


def test_energy_is_time_weighted():
    """Uneven sampling: the run power is the integral over time, not the sample mean."""
    from host.power import energy_from_frame

    t = [0.0, 0.5, 1.0, 1.1, 1.2, 1.3, 4.3]
    p = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 8.0])
    frame = Frame(t, [0, 0, 1, 1, 1, 1, 1], **{"12V_power": p, "INT_power": p})
    e = energy_from_frame(frame, frames=3, run_s=3.3)
    assert e["rails"]["12V"]["run_w"] == pytest.approx((0.3 * 2 + 3 * 5) / 3.3)  # not 3.2
    assert e["rails"]["12V"]["energy_per_frame_j"] == pytest.approx((15.6 / 3.3 - 1) * 1.1)
    assert e["short_run"]


def test_energy_needs_samples_in_both_windows():
    from host.errors import HostError
    from host.power import energy_from_frame

    frame = Frame([0.0, 1.0, 2.0], [0, 1, 1], **{"12V_power": np.ones(3), "INT_power": np.ones(3)})
    with pytest.raises(HostError, match="1 idle and 2 run samples"):
        energy_from_frame(frame, frames=1, run_s=1.0)


def test_power_off_board_says_what_it_needs():
    require_pynq()
    from host.errors import PowerUnavailable
    from host.power import get_rails

    with pytest.raises(PowerUnavailable, match="power needs a ZCU104 running PYNQ"):
        get_rails()


def test_measure_records_idle_then_at_least_the_run_time(monkeypatch):
    """The recording protocol against a recorder with pynq.DataRecorder's API."""
    require_pynq()
    import time

    import pynq

    from host import power

    class Sensor:
        def __init__(self, name):
            self.name = name

    class Rail:
        def __init__(self, name):
            self.power = Sensor(f"{name}_power")

    class Recorder:
        def __init__(self, *sensors):
            self.names, self.rows, self.mark_index = [s.name for s in sensors], [], -1

        def record(self, interval):
            self.mark_index += 1
            self._sample()
            return self

        def _sample(self):
            w = 10.0 + 5.0 * (self.mark_index == 1)
            self.rows.append((time.time(), self.mark_index, w))

        def mark(self):
            self._sample()
            self.mark_index += 1
            self._sample()
            return self.mark_index

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._sample()

        @property
        def frame(self):
            t, m, w = map(np.array, zip(*self.rows))
            return Frame(t, m, **{n: w for n in self.names})

    monkeypatch.setattr(pynq, "DataRecorder", Recorder)
    calls = []
    rails = {n: Rail(n) for n in power.RAILS}
    e = power.measure(lambda: calls.append(1), idle_s=0.01, min_run_s=0.05, min_frames=3,
                      rails=rails)  # fmt: skip
    assert e["frames"] == len(calls) >= 3 and e["run_s"] >= 0.05
    assert e["rails"]["12V"]["idle_w"] == 10.0 and e["rails"]["INT"]["run_w"] == 15.0


# --------------------------------------------------------------------- CLI
def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "pymodel.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)  # fmt: skip


def test_cli_run_writes_the_host_run_envelope(tiny, tmp_path):
    require_pynq()
    require_csim()
    out = tmp_path / "run.json"
    p = _cli("run", tiny.dir, "--task", "depth", "--golden", "--repeat", "3", "--json", out)
    assert p.returncode == 0, p.stderr
    assert "bit-exact vs golden/expected_task1.bin: yes" in p.stdout
    assert "C-simulation wall time" in p.stdout
    r = json.loads(out.read_text())
    for key in ("kind", "label", "source", "machine", "created", "backend", "preset",
                "numerics", "task", "frames", "latency_ms", "energy", "bit_exact"):  # fmt: skip
        assert key in r, key
    assert (r["kind"], r["label"], r["backend"], r["frames"]) == ("host-run", "measured", "csim", 3)
    assert r["bit_exact"] is True and r["energy"] is None and r["task"] == "depth"
    assert r["kernel_time"] == "C-simulation wall time"
    assert set(r["latency_ms"]) == {"upload", "kernel", "download", "head", "total"}
    assert set(r["latency_ms"]["kernel"]) >= {"p50", "p90", "p99"}
    from pymodel.results import read_result

    assert (
        read_result(out)["latency"]["p50_ms"] == r["latency_ms"]["total"]["p50"]
    )  # report reads it
    assert r["kernel_ms"]["p50_ms"] == r["latency_ms"]["kernel"]["p50"]
    p = _cli("run", tiny.dir, "--task", "semseg", "--power")
    assert p.returncode == 2 and "power needs a ZCU104 running PYNQ" in p.stderr


def test_cli_run_reads_a_picture(tiny, tmp_path, capsys):
    require_pynq()
    require_csim()
    from PIL import Image

    from host.cli import main

    rgb = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "pic.png")
    assert (
        main(["run", str(tiny.dir), "--task", "semseg", "--image", str(tmp_path / "pic.png")]) == 0
    )
    out = capsys.readouterr().out
    assert f"image: {tmp_path / 'pic.png'}" in out and "head 5x48x64" in out
    assert (
        main(["run", str(tiny.dir), "--task", "semseg", "--image", str(tmp_path / "no.png")]) == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_cli_check_bitstream(tiny, simbit, tmp_path):
    from host.hwh import write_hwh
    from pymodel.export import Design, interface

    p = _cli("check-bitstream", simbit, "--export", tiny.dir)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("OK:") and "design (manifest.json)" in p.stdout
    ports = Design().weight_ports
    other = write_hwh(interface(Design(weight_ports=ports - 1)), tmp_path / "o.hwh")
    p = _cli("check-bitstream", other, "--export", tiny.dir)
    assert p.returncode == 1 and "FAIL" in p.stdout and f"wgt{ports - 1}_1" in p.stdout
    foreign = write_hwh(dict(interface(Design()), top="other"), tmp_path / "f.hwh")
    p = _cli("check-bitstream", foreign, "--export", tiny.dir)
    assert p.returncode == 1 and "no IP of type xilinx.com:hls:edgemoe_top:1.0" in p.stdout
    p = _cli("check-bitstream", tmp_path / "missing.bit", "--export", tiny.dir)
    assert p.returncode == 1 and "missing.hwh is missing" in p.stdout


@pytest.mark.board
def test_board_runs_the_golden_input():
    """On a ZCU104 with PYNQ: EDGEMOE_BITSTREAM and EDGEMOE_EXPORT name the files."""
    import os

    bit, export = os.environ.get("EDGEMOE_BITSTREAM"), os.environ.get("EDGEMOE_EXPORT")
    if not (bit and export):
        pytest.skip("set EDGEMOE_BITSTREAM and EDGEMOE_EXPORT on the board")
    from host import Accelerator
    from host.export import Export

    ex = Export.open(export)
    raw, expected = ex.golden(0)
    with Accelerator.open(bitstream=bit) as acc:
        acc.load(export)
        assert np.array_equal(acc.run_raw(raw, 0).raw, expected)
