"""desc_check: the RTL descriptor check against the HLS C++ (edgemoe_top.cpp) itself.

Outside the simulator (:func:`case`), a real ``tiny`` export is built (the
numerics and router of the unit row: hw16 with the multi-gate router for
ACT_W = 16, edgemoe with the task router for ACT_W = 32), and many mutated
descriptors are made from it: every global field at boundary values (0, all
ones, its synthesis maximum and one above, one off its value, random), every
field of a random block (formats absent, too wide, one bit wide, unsigned,
fraction moved so that a bias or residual misaligns, random; offsets just
outside the image, at its end, all ones, random; moe 2; eps 0), the global
formats the same way, bad tasks, and random combinations of several edits (so
that the order of the checks decides the code). The expected status of every
case is the C++'s: the g++ C simulation (:class:`sim.csim.CSim`, the top
function on caller-owned buffers sized to the mutated descriptor) runs each
one; results are cached under ``build/sim/desc_check_ref/`` keyed on the
export image, the HLS sources and the cases.

In simulation the testbench starts the check with the mutated global words,
drives garbage on them and on the read data whenever they must not matter,
and serves the block descriptor reads from the mutated image as load_block
addresses it (off_blocks + i * block_beats beats, wrapping at 32 bits),
registered one cycle. The RTL status must equal the C++'s for every case
(integer compare), done must pulse once, and every run must take exactly
GLOBAL_CYCLES + blocks read * BLOCK_CYCLES cycles from start to done (the
unit row's latency and II). Coverage: every status code must be hit, and
refusals from a block, from several faults and ok runs of the full model.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.cocotb.harness import CLOCK_NS, config, finish, load_case

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / "sim" / "desc_check_ref"
M32 = 0xFFFFFFFF
#: the export each unit row checks: numerics, router
EXPORTS = {16: ("hw16", "multi"), 32: ("edgemoe", "task")}
#: buffers handed to the C simulation hold at most this many times the image, so a
#: mutated size above that is only tried alone (nothing else moved: nothing read there)
PAD = 3
#: larger than any io region of a descriptor that passes the consistency checks: an
#: io offset this close to 2^32 makes its region's end wrap in 32 bits
IO_WRAP = 1 << 24


# ------------------------------------------------------------------ the export
def _export(act_w: int) -> Path:
    """The tiny export of this ACT_W, written afresh each run (under a second; the
    export is deterministic, so the cached C simulation statuses stay valid)."""
    import torch

    from pymodel import build_model, calibrate, perturb_untrained
    from pymodel.export import export_hls

    numerics, router = EXPORTS[act_w]
    out = REPO / "build" / "sim" / "desc_check_exports" / f"tiny-{numerics}-{router}"
    model = build_model("tiny", seed=5, router=router)
    perturb_untrained(model, 5)
    if numerics == "hw16":
        g = torch.Generator().manual_seed(6)
        calibrate(
            model, torch.randn(2, model.cfg.in_chans, *model.cfg.img_size, generator=g), "hw16"
        )
    return export_hls(model, numerics, out)


# ------------------------------------------------------------------ mutations
def _fmt(width: int, frac: int, signed: int, present: int = 1, quant: int = 6) -> int:
    """A format word (descriptor.encode_format's packing, any field values)."""
    return (
        (width & 0x7F)
        | ((frac & 0xFF) << 8)
        | (signed << 16)
        | ((quant & 7) << 17)
        | (present << 24)
    )


def _fmt_variants(word: int, act_w: int, rng: random.Random) -> list[int]:
    """Format words the C++ tells apart: absent, too wide (for activations and
    weights), one bit wide, unsigned, fraction moved both ways, zero, random."""
    w, f, s = word & 0x7F, ((word >> 8) & 0xFF) - (256 if word & 0x8000 else 0), (word >> 16) & 1
    return [
        word & ~(1 << 24),
        _fmt(act_w + 1, f, s),
        _fmt(17, f, s),
        _fmt(1, f, s),
        _fmt(w, f, 0),
        _fmt(w, max(-128, f - rng.randint(20, 120)), s),
        _fmt(w, min(127, f + rng.randint(20, 120)), s),
        0,
        rng.getrandbits(32),
    ]


def _value_variants(v: int, limit: int | None, rng: random.Random) -> list[int]:
    """Boundary values of a 32-bit field: 0, all ones, one off, random; its maximum
    and one above when it has one."""
    out = [0, M32, (v + 1) & M32, (v - 1) & M32, rng.getrandbits(32), rng.randint(0, 2 * v + 2)]
    if limit is not None:
        out += [limit, limit + 1]
    return out


class Generator:
    """Mutated descriptors of one export (edits of the global and block words)."""

    def __init__(self, params: np.ndarray, act_w: int, seed: int) -> None:
        from pymodel.export import DEFAULT_DESIGN, GLOBAL_FIELDS, block_fields
        from pymodel.export.descriptor import _DIM_LIMITS

        self.words = params.view("<u4")
        self.act_w = act_w
        self.rng = random.Random(seed)
        self.gf = list(GLOBAL_FIELDS)
        self.bf = list(block_fields(DEFAULT_DESIGN.maxima.tasks))
        mx = DEFAULT_DESIGN.maxima
        self.limits = {f: getattr(mx, lim) for f, lim in _DIM_LIMITS.items()}
        self.g0 = [int(x) for x in self.words[: len(self.gf)]]
        self.gi = {n: i for i, n in enumerate(self.gf)}
        self.depth = self.g0[self.gi["depth"]]
        self.beats = len(self.words) // 4

    def block_base(self, b: int) -> int:
        """Word address of block b's descriptor in the unmutated image."""
        g = self.g0
        return (g[self.gi["off_blocks"]] + b * g[self.gi["block_beats"]]) * 4

    def moe(self, b: int) -> bool:
        return int(self.words[self.block_base(b)]) == 1

    def single(self) -> list[dict[str, Any]]:
        """Every single-edit class."""
        rng, out = self.rng, []
        for name in self.gf:
            v = self.g0[self.gi[name]]
            vals = (
                _fmt_variants(v, self.act_w, rng)
                if name.startswith("fmt_")
                else _value_variants(v, self.limits.get(name), rng)
            )
            if name in ("io_in", "io_x", "off_patch_b"):  # ends that wrap in 32 bits
                vals += [M32 + 1 - rng.randint(1, IO_WRAP), M32 - 1]
            for x in vals:
                out.append({"g": [[self.gi[name], x & M32]], "b": [], "task": 0})
        for b in range(self.depth):  # every field of a block, blocks in turn
            for k, name in enumerate(self.bf):
                v = int(self.words[self.block_base(b) + k])
                if name.startswith("fmt_"):
                    vals = rng.sample(_fmt_variants(v, self.act_w, rng), 3)
                elif name.startswith("off_"):
                    vals = [self.beats, M32, rng.getrandbits(32), self.beats - 1]
                    vals = rng.sample(vals, 2)
                elif name == "moe":
                    vals = [2, 1 - v if v < 2 else 0, M32]
                else:  # eps
                    vals = [0, rng.getrandbits(32)]
                for x in vals:
                    out.append({"g": [], "b": [[b, k, x & M32]], "task": 0})
        tasks = self.g0[self.gi["tasks"]]
        for t in (tasks, tasks + 1, M32, rng.getrandbits(32), tasks - 1, 0):
            out.append({"g": [], "b": [], "task": t})
        return out

    def multi(self) -> dict[str, Any]:
        """Two to six random edits of any kind, and a random task now and then."""
        rng = self.rng
        edits: dict[str, Any] = {"g": [], "b": [], "task": 0}
        for _ in range(rng.randint(2, 6)):
            if rng.random() < 0.5:
                name = rng.choice(self.gf)
                v = self.g0[self.gi[name]]
                if name.startswith("fmt_"):
                    x = rng.choice(_fmt_variants(v, self.act_w, rng))
                elif name in ("params_beats", "io_beats"):
                    x = rng.choice([0, v - 1, v + 1, rng.randint(0, PAD * v)])
                else:
                    x = rng.choice(_value_variants(v, self.limits.get(name), rng))
                edits["g"].append([self.gi[name], x & M32])
            else:
                b, k = rng.randrange(self.depth), rng.randrange(len(self.bf))
                v = int(self.words[self.block_base(b) + k])
                name = self.bf[k]
                if name.startswith("fmt_"):
                    x = rng.choice(_fmt_variants(v, self.act_w, rng))
                elif name.startswith("off_"):
                    x = rng.choice([self.beats, M32, rng.getrandbits(32), v + 1, self.beats - 1])
                else:
                    x = rng.choice([0, 2, 1, rng.getrandbits(32)])
                edits["b"].append([b, k, x & M32])
        if rng.random() < 0.15:
            edits["task"] = rng.choice([0, 1, self.g0[self.gi["tasks"]], M32])
        return edits

    def safe(self, e: dict[str, Any]) -> bool:
        """True when the C++ can run it in buffers of PAD x the image: a size above
        that only alone, no block_beats * depth that wraps at 32 bits."""
        g = list(self.g0)
        for i, x in e["g"]:
            g[i] = x
        big = any(g[self.gi[n]] > PAD * self.g0[self.gi[n]] for n in ("params_beats", "io_beats"))
        if big and len(e["g"]) + len(e["b"]) > 1:
            return False
        depth = g[self.gi["depth"]]
        return not (1 <= depth <= 64 and g[self.gi["block_beats"]] * depth > M32)


def _apply(params: np.ndarray, gen: Generator, e: dict[str, Any]) -> tuple[np.ndarray, int]:
    """The mutated image (padded to its declared size, at most PAD x) and io beats."""
    g = list(gen.g0)
    for i, x in e["g"]:
        g[i] = x
    beats = min(max(g[gen.gi["params_beats"]], gen.beats), PAD * gen.beats)
    p = np.zeros(beats * 16, dtype=np.uint8)
    p[: params.size] = params
    w = p.view("<u4")
    w[: len(g)] = g
    for b, k, x in e["b"]:  # block edits at the block's place in the export
        w[gen.block_base(b) + k] = x
    io0 = gen.g0[gen.gi["io_beats"]]
    return p, min(max(g[gen.gi["io_beats"]], io0, 1), PAD * max(io0, 1))


def _key(export: Path, cases: list[dict[str, Any]]) -> str:
    h = hashlib.sha256((export / "params.bin").read_bytes())
    h.update((export / "edgemoe_config.h").read_bytes())
    for p in sorted((REPO / "hls").glob("*/*.[ch]*")):
        h.update(p.name.encode() + p.read_bytes())
    h.update(json.dumps(cases).encode())
    return h.hexdigest()[:16]


def reference(export: Path, params: np.ndarray, gen: Generator, cases: list[dict[str, Any]]):
    """The C++'s status of every case (C simulation; cached on disk)."""
    path = CACHE / f"{export.name}-{_key(export, cases)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from sim.csim import CSim

    sim = CSim(export)
    out = []
    for e in cases:
        p, io_beats = _apply(params, gen, e)
        io = np.full(io_beats * 16, 0xA5, dtype=np.uint8)
        out.append(sim.run_buffers(p, io, e["task"]))
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The export, the mutated descriptors and the C++'s status of each."""
    from pymodel.export import STATUS_CODES

    act_w = int(cfg["params"]["ACT_W"])
    export = _export(act_w)
    params = np.fromfile(export / "params.bin", dtype=np.uint8)
    gen = Generator(params, act_w, cfg["seed"])
    singles = [e for e in gen.single() if gen.safe(e)]
    n = cfg["vectors"]
    # every global and task edit, then block edits, then (a quarter at least) several edits
    first = [e for e in singles if not e["b"]]
    blocks = [e for e in singles if e["b"]]
    gen.rng.shuffle(first)
    gen.rng.shuffle(blocks)
    cases = (first + blocks)[: n - n // 4]
    while len(cases) < n:
        e = gen.multi()
        if gen.safe(e):
            cases.append(e)
    t0 = time.perf_counter()
    want = reference(export, params, gen, cases)
    ref_s = time.perf_counter() - t0
    names = {v: k for k, v in STATUS_CODES.items()}
    cov = {f"status_{k}": 0 for k in STATUS_CODES}
    cov.update(refused_in_a_block=0, refused_with_several_faults=0)
    for e, st in zip(cases, want):
        cov[f"status_{names[st]}"] += 1
        if st != STATUS_CODES["OK"] and not e["g"] and e["b"] and e["task"] == 0:
            cov["refused_in_a_block"] += 1
        if st != STATUS_CODES["OK"] and len(e["g"]) + len(e["b"]) > 1:
            cov["refused_with_several_faults"] += 1
    return {
        "export": str(export.relative_to(REPO)),
        "words": [int(x) for x in params.view("<u4")],
        "pad_words": PAD * (params.size // 4),
        "g0": gen.g0,
        "block_base": [gen.block_base(b) for b in range(gen.depth)],
        "gi": gen.gi,
        "cases": cases,
        "want": want,
        "status_names": names,
        "ref_s": round(ref_s, 3),
        "coverage": cov,
    }


# ------------------------------------------------------------------ testbench
class Memory:
    """The mutated params image of one case, read as load_block addresses it."""

    def __init__(self, c: dict[str, Any], e: dict[str, Any], g: list[int]) -> None:
        self.words, self.pad = c["words"], c["pad_words"]
        self.edits = {c["block_base"][b] + k: x for b, k, x in e["b"]}
        for i, x in e["g"]:
            self.edits[i] = x
        self.off, self.stride = g[c["gi"]["off_blocks"]], g[c["gi"]["block_beats"]]

    def read(self, block: int, field: int) -> int | None:
        addr = ((self.off + block * self.stride) & M32) * 4 + field
        if addr in self.edits:
            return self.edits[addr]
        if addr < len(self.words):
            return self.words[addr]
        return 0 if addr < self.pad else None  # None: outside every buffer


@cocotb.test()
async def desc_check_against_the_cpp(dut: Any) -> None:
    cfg, c = config(), load_case()
    rng = random.Random(cfg["seed"])
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    n_gd = len(c["g0"])
    dut.rst.value = 1
    dut.start.value = 0
    dut.gd.value = 0
    dut.task_idx.value = 0
    dut.bd_data.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0
    mismatches: list[str] = []
    runs: list[tuple[int, int]] = []  # (cycles start -> done, blocks read) per case
    cycle, fields_read = 0, 0
    t0 = time.perf_counter()
    for n, (e, want) in enumerate(zip(c["cases"], c["want"])):
        g = list(c["g0"])
        for i, x in e["g"]:
            g[i] = x
        mem = Memory(c, e, g)
        for _ in range(rng.randint(0, 2)):
            await FallingEdge(dut.clk)
            cycle += 1
        dut.gd.value = sum(x << (32 * i) for i, x in enumerate(g))
        dut.task_idx.value = e["task"]
        dut.start.value = 1
        await FallingEdge(dut.clk)  # start sampled: cycle 0 of the run is over
        cycle += 1
        dut.start.value = 0
        dut.gd.value = rng.getrandbits(32 * n_gd)  # latched at start: must not matter now
        dut.task_idx.value = rng.getrandbits(32)
        cycles, pending, blocks, got = 1, None, set(), None
        while True:
            word = mem.read(*pending) if pending is not None else None
            dut.bd_data.value = word if word is not None else rng.getrandbits(32)
            await ReadOnly()
            if dut.done.value == 1:
                got = int(dut.status.value)
                break
            pending = None
            if dut.bd_rd.value == 1:
                pending = (int(dut.bd_block.value), int(dut.bd_field.value))
                blocks.add(pending[0])
                fields_read = max(fields_read, pending[1] + 1)
            await FallingEdge(dut.clk)
            cycle += 1
            cycles += 1
            if cycles > 5000:
                break
        if got is None:
            mismatches.append(f"case {n}: no done after {cycles} cycles")
            break
        await FallingEdge(dut.clk)
        cycle += 1
        await ReadOnly()
        if dut.done.value != 0 or dut.busy.value != 0:
            mismatches.append(f"case {n}: done longer than one cycle, or busy after done")
        if got != want:
            names = c["status_names"]
            mismatches.append(
                f"case {n} {e}: RTL status {got} ({names.get(str(got))}) != C++ {want} "
                f"({names[str(want)]})"
            )
        if blocks != set(range(len(blocks))):
            mismatches.append(f"case {n}: blocks read {sorted(blocks)}")
        runs.append((cycles, len(blocks)))
        await FallingEdge(dut.clk)
        cycle += 1
    wall = time.perf_counter() - t0
    # timing: every run takes latency + blocks * ii cycles, the same two numbers for all
    latencies = {cy for cy, nb in runs if nb == 0}
    latency = latencies.pop() if len(latencies) == 1 else -1
    per_block = {(cy - latency) / nb for cy, nb in runs if nb}
    ii = per_block.pop() if len(per_block) == 1 else -1
    if latency < 0 or ii < 0 or ii != int(ii):
        mismatches.append(f"cycles not latency + blocks x ii: runs {sorted(set(runs))[:20]}")
    finish(
        cfg["name"],
        len(c["cases"]),
        mismatches,
        int(ii),
        latency,
        cycle,
        wall,
        coverage={
            "runs_through_every_block": sum(nb == c["g0"][c["gi"]["depth"]] for _, nb in runs),
            "block_fields_read": fields_read,
        },
    )
