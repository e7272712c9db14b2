"""The benchmark scripts' sampling (with a fake clock: no timing in tests)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class FakeClock:
    """A clock that only advances when a fake workload runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def work(self, seconds: float):
        def run() -> None:
            self.now += seconds

        return run


def test_forward_bench_takes_enough_samples_of_slow_presets():
    """A large preset (0.8 s per forward) still gets min_rounds samples for its median, and
    the slow token-major order (17 s per forward) does not eat the compared pair's budget."""
    bench = _load("bench_forward")
    clock = FakeClock()
    pair = {"dense": clock.work(0.8), "moe_expert_major": clock.work(0.65)}
    times = bench.sample(pair, seconds=15.0, min_rounds=15, clock=clock)
    assert [len(v) for v in times.values()] == [15, 15]
    token = bench.sample({"moe_token_major": clock.work(17.0)}, 0.0, 3, clock=clock)
    assert len(token["moe_token_major"]) == 3
    # A fast preset keeps sampling until the budget is spent (bounded by max_rounds).
    fast = bench.sample({"a": clock.work(0.01)}, seconds=1.0, min_rounds=15, clock=clock)
    assert 99 <= len(fast["a"]) <= 101
    capped = bench.sample({"a": clock.work(0.001)}, 10.0, 15, max_rounds=50, clock=clock)
    assert len(capped["a"]) == 50


def test_forward_bench_reports_the_spread():
    bench = _load("bench_forward")
    s = bench.spread([0.001, 0.002, 0.003, 0.004, 0.100])
    assert s["median"] == pytest.approx(3.0) and s["n"] == 5
    assert s["min"] == pytest.approx(1.0) and s["max"] == pytest.approx(100.0)
    assert s["q1"] <= s["median"] <= s["q3"] < s["max"]
    assert bench.spread([0.002])["q1"] == pytest.approx(2.0)
    assert bench._cell(s) == f"3.0 ({s['q1']:.1f}–{s['q3']:.1f})"


def test_numerics_bench_reports_per_round_ratios():
    bench = _load("bench_numerics")
    assert bench._quartiles([2.0]) == [2.0, 2.0]
    q1, q3 = bench._quartiles([1.0, 2.0, 3.0, 4.0, 100.0])
    assert 1.0 <= q1 <= 3.0 <= q3 < 100.0
