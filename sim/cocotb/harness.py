"""Cycle-level stream harness shared by the cocotb testbenches of the RTL units.

Every unit has the Vitis ap_fifo port protocol (``in_dout``/``in_empty_n``/
``in_read``, ``out_din``/``out_full_n``/``out_write``, ``ap_clk``, ``ap_rst``,
``ap_ce``). One coroutine drives and samples everything once per cycle: inputs
are changed after the falling edge, then the settled handshakes (``ReadOnly``)
are exactly what the next rising edge will act on. That keeps cycle counts
exact (latency and initiation interval are measured in cycles of the
handshakes) and costs two triggers per simulated cycle.

The configuration of a run comes from the runner (:mod:`sim.rtl`) in the
environment variable ``RTL_CONFIG`` (JSON); the result is written back to the
file it names, and the cocotb test fails on any mismatch, on an output word
after the last expected one (the run keeps watching the output for a while
once every expected word has arrived), or on an initiation interval or
latency different from the expected ones.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

CLOCK_NS = 10


def config() -> dict[str, Any]:
    """The run's configuration (parameters, vector count, seed, expectations)."""
    return json.loads(os.environ["RTL_CONFIG"])


@dataclass
class Phase:
    """Handshake probabilities of one test phase (1.0 everywhere = full throughput)."""

    valid: float = 1.0
    ready: float = 1.0
    ce: float = 1.0


@dataclass
class Trace:
    """What one phase saw: input accept cycles, output (cycle, word) pairs, cycles run."""

    in_cycles: list[int] = field(default_factory=list)
    outputs: list[tuple[int, int]] = field(default_factory=list)
    cycles: int = 0


class StreamHarness:
    """Drives a unit's input stream and collects its output stream, cycle by cycle."""

    def __init__(self, dut: Any, seed: int, in_width: int) -> None:
        self.dut = dut
        self.rng = random.Random(seed)
        self.in_width = in_width
        self.cycle = 0

    async def start(self) -> None:
        """Start the clock and hold reset for a few cycles (inputs idle)."""
        d = self.dut
        cocotb.start_soon(Clock(d.ap_clk, CLOCK_NS, unit="ns").start())
        d.ap_rst.value = 1
        d.ap_ce.value = 1
        d.in_empty_n.value = 0
        d.in_dout.value = 0
        d.out_full_n.value = 1
        for _ in range(4):
            await FallingEdge(d.ap_clk)
        d.ap_rst.value = 0

    async def run(
        self, inputs: Sequence[int], n_outputs: int, phase: Phase, max_cycles: int
    ) -> Trace:
        """Stream every one of ``inputs`` in and wait for ``n_outputs`` output words.

        While the input is idle (or ``ap_ce`` low) the data lines carry random
        garbage, so a unit that samples them without a handshake is caught.
        Words that arrive while inputs are still being fed, beyond
        ``n_outputs``, are kept in the trace (the caller counts them as extra).
        """
        d, rng = self.dut, self.rng
        clk, in_dout, in_empty_n, in_read = d.ap_clk, d.in_dout, d.in_empty_n, d.in_read
        out_din, out_full_n, out_write, ap_ce = d.out_din, d.out_full_n, d.out_write, d.ap_ce
        trace = Trace()
        i, n_in = 0, len(inputs)
        mask = (1 << self.in_width) - 1
        start = self.cycle
        while len(trace.outputs) < n_outputs or i < n_in:
            if self.cycle - start >= max_cycles:
                raise AssertionError(
                    f"timeout after {max_cycles} cycles: {i}/{n_in} inputs accepted, "
                    f"{len(trace.outputs)}/{n_outputs} outputs"
                )
            await FallingEdge(clk)
            valid = i < n_in and (phase.valid >= 1.0 or rng.random() < phase.valid)
            in_empty_n.value = int(valid)
            in_dout.value = inputs[i] if valid else rng.getrandbits(self.in_width) & mask
            out_full_n.value = int(phase.ready >= 1.0 or rng.random() < phase.ready)
            ap_ce.value = int(phase.ce >= 1.0 or rng.random() < phase.ce)
            await ReadOnly()
            if in_read.value == 1:
                if not valid:
                    raise AssertionError(f"cycle {self.cycle}: in_read while in_empty_n = 0")
                trace.in_cycles.append(self.cycle)
                i += 1
            if out_write.value == 1:
                if out_full_n.value != 1:
                    raise AssertionError(f"cycle {self.cycle}: out_write while out_full_n = 0")
                trace.outputs.append((self.cycle, out_din.value.to_unsigned()))
            self.cycle += 1
        trace.cycles = self.cycle - start
        return trace

    async def drain(self, cycles: int) -> list[tuple[int, int]]:
        """Keep the input idle and the output ready for ``cycles`` cycles; return
        every output word written meanwhile (none are expected: extra words)."""
        d = self.dut
        extra: list[tuple[int, int]] = []
        for _ in range(cycles):
            await FallingEdge(d.ap_clk)
            d.in_empty_n.value = 0
            d.in_dout.value = self.rng.getrandbits(self.in_width)
            d.out_full_n.value = 1
            d.ap_ce.value = 1
            await ReadOnly()
            if d.in_read.value == 1:
                raise AssertionError(f"cycle {self.cycle}: in_read while in_empty_n = 0")
            if d.out_write.value == 1:
                extra.append((self.cycle, d.out_din.value.to_unsigned()))
            self.cycle += 1
        return extra


def pack(fields: Sequence[tuple[int, int]]) -> int:
    """Concatenate (value, width) fields, the first one in the low bits; values may be negative."""
    word, pos = 0, 0
    for value, width in fields:
        word |= (int(value) & ((1 << width) - 1)) << pos
        pos += width
    return word


def unpack(word: int, widths: Sequence[int], signed: Sequence[bool]) -> list[int]:
    """Split a word into fields (low bits first), sign-extending where asked."""
    out, pos = [], 0
    for width, s in zip(widths, signed, strict=True):
        v = (word >> pos) & ((1 << width) - 1)
        if s and v >> (width - 1):
            v -= 1 << width
        out.append(v)
        pos += width
    return out


def intervals(cycles: Sequence[int]) -> list[int]:
    """Differences between consecutive cycle numbers."""
    return [b - a for a, b in zip(cycles, cycles[1:])]


def finish(
    name: str,
    vectors: int,
    mismatches: list[str],
    ii: float,
    latency: int,
    cycles: int,
    wall_s: float,
    extra_outputs: Sequence[tuple[int, int]] = (),
    measured: dict[str, Any] | None = None,
    coverage: dict[str, int] | None = None,
    info: dict[str, Any] | None = None,
) -> None:
    """Write the result file and fail the test on mismatches, extra output words
    or wrong timing. ``measured`` holds further timing figures of the unit (e.g.
    ``stall``, cycles per running-max update), each checked against the case's
    ``expected_<name>``. ``coverage`` counts how often the testbench hit the
    cases that matter (when it can only know in simulation); each must be
    non-zero. ``info``: further figures recorded and not checked."""
    cfg, case = config(), load_case()
    result = {
        "unit": name,
        "simulator": cocotb.SIM_NAME,
        "vectors": vectors,
        "mismatches": len(mismatches),
        "first_mismatches": mismatches[:10],
        "extra_outputs": len(extra_outputs),
        "first_extra_outputs": [{"cycle": c, "word": hex(w)} for c, w in list(extra_outputs)[:5]],
        "ii": ii,
        "latency": latency,
        "expected_ii": cfg["expected_ii"],
        "expected_latency": cfg["expected_latency"],
        "cycles": cycles,
        "wall_s": round(wall_s, 3),
        "cycles_per_s": round(cycles / wall_s) if wall_s > 0 else 0,
        **(measured or {}),
        **(info or {}),
    }
    if coverage is not None:
        result["coverage"] = coverage
    Path(cfg["result"]).write_text(json.dumps(result, indent=2) + "\n")
    if cfg.get("check", True):
        assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:5]}"
        assert not extra_outputs, (
            f"{len(extra_outputs)} extra output words after the last expected one: "
            f"{result['first_extra_outputs']}"
        )
        assert ii == cfg["expected_ii"], f"II {ii} != expected {cfg['expected_ii']}"
        assert latency == cfg["expected_latency"], (
            f"latency {latency} != expected {cfg['expected_latency']}"
        )
        for key, value in (measured or {}).items():
            want = case[f"expected_{key}"]
            assert value == want, f"{key} {value} != expected {want}"
        never = [k for k, n in (coverage or {}).items() if n == 0]
        assert not never, f"coverage counters never hit: {never}"


def load_case() -> dict[str, Any]:
    """The vectors and golden outputs the runner computed with pymodel (``case.json``)."""
    return json.loads(Path(config()["case"]).read_text())


def describe(case: dict[str, Any], k: int, got: int, want: int) -> str:
    """A readable mismatch line: output word ``k`` decoded into its named fields."""
    names, widths, signed = case["out_names"], case["out_widths"], case["out_signed"]
    g, w = unpack(got, widths, signed), unpack(want, widths, signed)
    diff = {n: (a, b) for n, a, b in zip(names, g, w) if a != b}
    if "vector_outputs" in case:  # outputs per vector vary: find k's vector
        ends = list(itertools.accumulate(case["vector_outputs"]))
        vec = bisect.bisect_right(ends, k)
    else:
        vec = k // case["outputs_per_vector"]
    return f"vector {vec} output {k}: (got, want) {diff}; input {case['labels'][vec]}"


async def run_case(dut: Any) -> None:
    """The common test: a full-throughput phase (timing), then random stalls (bulk).

    The case (from :func:`load_case`) holds flattened input and expected output
    words, how many of each one vector (element, row, dot product) has, how many
    vectors go through the full-throughput phase, and which timing rule applies.
    """
    cfg, case = config(), load_case()
    inputs, expected = case["inputs"], case["expected"]
    per_in, per_out = case["inputs_per_vector"], case["outputs_per_vector"]
    h = StreamHarness(dut, cfg["seed"], case["in_width"])
    await h.start()
    # inputs (outputs) per vector: constant, or listed (rows of varying length)
    counts = case.get("vector_inputs") or [per_in] * (len(inputs) // per_in)
    n_vec = len(counts)
    outs = case.get("vector_outputs") or [per_out] * n_vec
    n_perf = min(case["n_perf"], n_vec)
    t0 = time.perf_counter()
    cut_in, cut_out = sum(counts[:n_perf]), sum(outs[:n_perf])
    budget = 200 + 40 * len(inputs)
    fast = await h.run(inputs[:cut_in], cut_out, Phase(), budget)
    slow = await h.run(
        inputs[cut_in:],
        len(expected) - cut_out,
        Phase(valid=cfg["p_valid"], ready=cfg["p_ready"], ce=cfg["p_ce"]),
        budget,
    )
    # nothing may follow the last expected word: watch the output for longer than
    # the unit needs to turn its largest vector around
    longest = max(counts) if counts else per_in
    drained = await h.drain(32 + 2 * (cfg["expected_latency"] + longest + max(outs, default=0)))
    wall = time.perf_counter() - t0
    words = fast.outputs + slow.outputs
    extra = words[len(expected) :] + drained
    got = [w for _, w in words[: len(expected)]]
    mismatches = [describe(case, k, g, e) for k, (g, e) in enumerate(zip(got, expected)) if g != e]
    measured: dict[str, Any] = {}
    if case["timing"] == "elementwise":
        ii, latency = elementwise_timing(fast)
    elif case["timing"] == "group":
        ii, latency = group_timing(fast, counts[:n_perf], outs[:n_perf])
    elif case["timing"] == "stalls":
        ii, latency, measured["stall"] = stall_timing(
            fast, counts[:n_perf], outs[:n_perf], case["stall_after"][:cut_in]
        )
    else:
        ii, latency = row_timing(fast, per_in, per_out)
    finish(cfg["name"], n_vec, mismatches, ii, latency, h.cycle, wall, extra, measured)


def elementwise_timing(trace: Trace) -> tuple[int, int]:
    """II and latency of a one-in one-out pipeline (every output pairs with an input)."""
    gaps = intervals(trace.in_cycles)
    lat = {o - i for (o, _), i in zip(trace.outputs, trace.in_cycles)}
    if len(lat) != 1:
        raise AssertionError(f"latency is not constant at full throughput: {sorted(lat)}")
    return (max(gaps) if gaps else 1), lat.pop()


def group_timing(trace: Trace, counts: Sequence[int], outs: Sequence[int]) -> tuple[int, int]:
    """II (largest gap between accepted beats) and latency (a group's last beat to
    its first output) of a unit whose vectors have a varying number of input
    beats (``counts``) and output words (``outs``)."""
    gaps = intervals(trace.in_cycles)
    ends, pos = [], 0
    for c in counts:
        pos += c
        ends.append(trace.in_cycles[pos - 1])
    starts = [0, *itertools.accumulate(outs)][: len(outs)]
    firsts = [trace.outputs[k][0] for k in starts]
    lats = {f - e for f, e in zip(firsts, ends)}
    if len(lats) != 1:
        raise AssertionError(f"latency is not constant: {sorted(lats)}")
    return (max(gaps) if gaps else 1), lats.pop()


def stall_timing(
    trace: Trace, counts: Sequence[int], outs: Sequence[int], stall_after: Sequence[int]
) -> tuple[int, int, int]:
    """II, latency and stall of a unit that takes one input per cycle except for a
    fixed stall after the inputs flagged in ``stall_after`` (a softmax lane after a
    new running max), with groups (rows) of varying length back to back.

    Every gap between accepted inputs must be 1, or 1 + stall after a flagged input,
    with one stall count for the whole phase; latency as :func:`group_timing`.
    Returns (1, latency, stall).
    """
    _, latency = group_timing(trace, counts, outs)
    gaps = intervals(trace.in_cycles)
    flagged = {g - 1 for g, f in zip(gaps, stall_after) if f}
    plain = {g for g, f in zip(gaps, stall_after) if not f}
    if len(flagged) != 1 or plain - {1}:
        raise AssertionError(
            f"input gaps are not 1 + a fixed stall after the flagged inputs: stalls "
            f"{sorted(flagged)}, other gaps {sorted(plain)}"
        )
    return 1, latency, flagged.pop()


def row_timing(trace: Trace, per_in: int, per_out: int) -> tuple[float, int]:
    """II and latency of a row unit at full throughput.

    Latency: last input of a row to the row's first output, the same for every
    row. II: cycles between row starts in the steady state. With a two-bank row
    buffer the intervals may alternate (row r+1 streams in at once, row r+2
    waits for bank r to drain), so the II is the mean over whole periods of at
    most two rows (the last four intervals of the phase), repeating with that period.
    """
    starts = trace.in_cycles[::per_in]
    ends = trace.in_cycles[per_in - 1 :: per_in]
    firsts = [c for c, _ in trace.outputs[::per_out]]
    lats = {f - e for f, e in zip(firsts, ends)}
    if len(lats) != 1:
        raise AssertionError(f"row latency is not constant: {sorted(lats)}")
    gaps = intervals(starts)[-4:]  # steady state: the last rows of the phase
    if len(intervals(starts)) < 6:
        raise AssertionError("the full-throughput phase needs at least 7 rows")
    period = 1 if len(set(gaps)) == 1 else 2
    if any(g != gaps[k % period] for k, g in enumerate(gaps)):
        raise AssertionError(f"row initiation interval is not periodic: {gaps}")
    return sum(gaps[:period]) / period, lats.pop()
