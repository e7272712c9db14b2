"""A deliberately wrong testbench for tests/test_rtl.py (imported by the simulator too).

The exp unit's own case with its last expected output word removed: the unit
then writes one word more than the harness expects, and the harness must fail
the run for it (an extra trailing output word) instead of stopping early.
"""

from __future__ import annotations

from typing import Any

import cocotb

from sim.cocotb.harness import run_case
from sim.cocotb.test_exp_unit import case as exp_case


def case(cfg: dict[str, Any]) -> dict[str, Any]:
    """The exp case minus its last expected word."""
    c = exp_case(cfg)
    c["expected"].pop()
    return c


@cocotb.test()
async def short_case(dut: Any) -> None:
    """The harness's common test on the shortened case."""
    await run_case(dut)
