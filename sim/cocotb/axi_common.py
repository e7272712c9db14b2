"""What the AXI4 master testbenches (test_axi_rd, test_axi_wr) share.

The reference burst split (the rule both masters implement: INCR bursts of
min(remaining, MAX_BURST, beats to the next 4 KiB boundary)), the random and
performance request lists, the phases of a run (slave latency and handshake
probabilities), the fixed-field check of an AR/AW channel, and the throughput
the performance model (:mod:`pymodel.perf.ddr`) gives a port with the same
burst length, outstanding bursts and latency.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymodel.perf.ddr import BEAT_BYTES, Ddr

PAGE = 4096  # AXI: no burst crosses a 4 KiB boundary
MAX_LEN = 600  # longest random request (beats)
REGION = 1 << 16  # each request of a run gets its own 64 KiB region
PERF_LATENCY = 40  # the fixed slave latency of the second performance phase
MAX_LATENCY = 40  # the random slave latency of the random phases is 0 .. MAX_LATENCY


@dataclass(frozen=True)
class Burst:
    """One burst of the reference split: address, beats, why it ended where it did,
    whether it is the first / last of its request."""

    addr: int
    beats: int
    reason: str  # "4k" (boundary), "max" (MAX_BURST) or "end" (the request's end)
    first: bool
    last: bool


def split(addr: int, beats: int, max_burst: int) -> list[Burst]:
    """The bursts a request of ``beats`` beats at byte address ``addr`` becomes."""
    out: list[Burst] = []
    a, rem = addr, beats
    while rem > 0:
        to_4k = (PAGE - a % PAGE) // BEAT_BYTES
        n = min(rem, max_burst, to_4k)
        reason = "end" if n == rem else ("4k" if n == to_4k else "max")
        out.append(Burst(a, n, reason, first=a == addr, last=n == rem))
        a += n * BEAT_BYTES
        rem -= n
    return out


def random_requests(rng: random.Random, n: int, max_burst: int) -> list[tuple[int, int]]:
    """``n`` requests (byte address, beats): lengths 1 .. MAX_LEN (short ones, any
    length, and around multiples of MAX_BURST), addresses mostly a few beats
    below a 4 KiB boundary, each request in its own region."""
    out = []
    for k in range(n):
        kind = rng.random()
        if kind < 0.35:
            beats = rng.randint(1, 40)
        elif kind < 0.7:
            beats = rng.randint(1, MAX_LEN)
        else:
            beats = max_burst * rng.randint(1, 6) + rng.choice((-1, 0, 1))
        beats = max(1, min(MAX_LEN, beats))
        if rng.random() < 0.65:  # just below a page boundary
            off = rng.randrange(1, 4) * PAGE - rng.randint(1, 2 * max_burst) * BEAT_BYTES
        else:
            off = rng.randrange(0, 3 * PAGE // BEAT_BYTES) * BEAT_BYTES
        out.append(((k + 1) * REGION + off, beats))
    return out


def perf_requests(max_burst: int, base: int) -> list[tuple[int, int]]:
    """Long page-aligned requests whose bursts are all MAX_BURST beats (what the
    performance model assumes): 4 requests of 32 bursts each."""
    beats = 32 * max_burst
    return [(base + k * REGION, beats) for k in range(4)]


@dataclass(frozen=True)
class Phase:
    """One phase of a run: its requests, the slave's response latency range (cycles
    from the address handshake to the first R beat / from the later of the AW
    handshake and WLAST to B), and handshake probabilities per cycle."""

    name: str
    requests: list[tuple[int, int]]
    lat: tuple[int, int] = (0, 0)
    p_addr: float = 1.0  # ARREADY / AWREADY
    p_data: float = 1.0  # RVALID (read) / WREADY (write)
    p_resp: float = 1.0  # BVALID (write)
    p_client: float = 1.0  # rd_ready (read) / wr_valid (write)
    p_req: float = 1.0  # the client presents its next request
    err_at: int = -1  # index in the phase of the R beat / B response answered SLVERR


def phases(case: dict[str, Any], err_key: str) -> list[Phase]:
    """Full throughput at zero latency (timing), at PERF_LATENCY (throughput),
    random phases (client back-pressure, long latency, everything random), a
    few short requests far apart with a slow address channel (W before AW), then
    one request whose responses include one SLVERR (R beat ``case["err_beat"]``
    or B response ``case["err_burst"]`` of the request, as ``err_key`` says)."""
    reqs = [tuple(r) for r in case["requests"]]
    k = len(reqs) // 3
    p = case["p_client"]
    return [
        Phase("full throughput, zero latency", [tuple(r) for r in case["perf0"]]),
        Phase(f"full throughput, latency {PERF_LATENCY}", [tuple(r) for r in case["perf"]],
              lat=(PERF_LATENCY, PERF_LATENCY)),
        Phase("random, client back-pressure", reqs[:k], (0, MAX_LATENCY), 0.6, 0.9, 0.8,
              0.3, 0.5),
        Phase("random, fast client, long latency", reqs[k : 2 * k], (MAX_LATENCY // 2,
              MAX_LATENCY), 0.9, 1.0, 1.0, 1.0, 1.0),
        Phase("random", reqs[2 * k :], (0, MAX_LATENCY), 0.3, 0.7, 0.7, p, 0.4),
        Phase("sparse short requests, slow address channel", [tuple(r) for r in case["sparse"]],
              (0, 10), 0.15, 1.0, 1.0, 1.0, 0.05),
        Phase("SLVERR", [tuple(case["err_request"])], (0, 8), 0.8, 0.8, 0.8, 0.8, 1.0,
              err_at=case[err_key]),
    ]  # fmt: skip


def make_case(cfg: dict[str, Any]) -> dict[str, Any]:
    """Requests of a run (``cfg["vectors"]`` random ones) and the fixed phases'."""
    rng = random.Random(cfg["seed"])
    mb = cfg["params"]["MAX_BURST"]
    reqs = random_requests(rng, cfg["vectors"], mb)
    top = (len(reqs) + 2) * REGION
    err_beats = 3 * mb + 5
    err_addr = top + 16 * REGION + PAGE - 3 * BEAT_BYTES  # a 3-beat burst, then longer ones
    return {
        "requests": reqs,
        "perf0": perf_requests(mb, top),
        "perf": perf_requests(mb, top + 8 * REGION),
        "sparse": [
            (
                (len(reqs) + 20 + k) * REGION + PAGE - rng.randint(1, 8) * BEAT_BYTES,
                rng.randint(1, 8),
            )
            for k in range(12)
        ],
        "err_request": (err_addr, err_beats),
        "err_beat": rng.randrange(err_beats),
        "err_burst": rng.randrange(len(split(err_addr, err_beats, mb))),
        "p_client": cfg.get("p_ready", 0.7),
        "coverage": {
            "random bursts split at 4 KiB": sum(
                b.reason == "4k" for a, n in reqs for b in split(a, n, mb)
            ),
            "random bursts split at MAX_BURST": sum(
                b.reason == "max" for a, n in reqs for b in split(a, n, mb)
            ),
        },
    }


def check_fixed(
    fields: dict[str, int], prefix: str, max_burst: int, page_check: bool = True
) -> list[str]:
    """Protocol problems of one AR/AW handshake: fixed fields (ID 0, SIZE 16 bytes,
    INCR, CACHE 0011, PROT/LOCK/QOS/REGION 0), LEN within MAX_BURST, alignment,
    no 4 KiB crossing."""
    want = {"size": 4, "burst": 1, "lock": 0, "cache": 3, "prot": 0, "qos": 0, "region": 0, "id": 0}
    out = [
        f"{prefix}{k.upper()} = {fields[k]} (want {v})" for k, v in want.items() if fields[k] != v
    ]
    addr, beats = fields["addr"], fields["len"] + 1
    if beats > max_burst:
        out.append(f"{prefix}LEN = {beats - 1}: {beats} beats > MAX_BURST {max_burst}")
    if addr % BEAT_BYTES:
        out.append(f"{prefix}ADDR {addr:#x} not 16-byte aligned")
    if page_check and addr % PAGE + beats * BEAT_BYTES > PAGE:
        out.append(f"burst {addr:#x} + {beats} beats crosses a 4 KiB boundary")
    return out


def modelled_rate(max_burst: int, outstanding: int, latency: int) -> float:
    """Beats per cycle of one port in the performance model (pymodel.perf.ddr.Ddr)
    with this burst length, outstanding bursts and latency (MODELLED)."""
    d = Ddr(latency_cycles=latency, burst_beats=max_burst, outstanding=outstanding)
    return round(d.port_rate(), 4)


def add_to_result(path: str, extra: dict[str, Any]) -> None:
    """Merge ``extra`` (figures reported, not asserted) into the result file."""
    p = Path(path)
    result = json.loads(p.read_text()) if p.exists() else {}
    result.update(extra)
    p.write_text(json.dumps(result, indent=2) + "\n")
