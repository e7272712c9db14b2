"""``verilator --lint-only -Wall`` over every RTL module (part of ``make lint``).

Every top module of ``hls/rtl/`` and ``sim/hdl/`` is linted with its default
parameters, and every instance of :data:`sim.rtl.UNITS` with its own, against
the generated packages (:func:`sim.rtl.generated_sources`). Warnings are fatal
(no ``-Wno-fatal``): the RTL is kept free of them, and the few deliberate
exceptions are waived in the source next to a comment that says why.

    python -m sim.rtl_lint            # exit status 1 on any warning
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pymodel.numerics.rtl_export import PACKAGE, write_rtl_tables
from sim.rtl import UNITS, generated_sources, module_files, sources, tool_env

#: Every warning on, warnings fatal (Verilator's default without -Wno-fatal).
ALWAYS = ("-Wall", "--lint-only", "--timescale", "1ns/1ps")


@dataclass(frozen=True)
class LintJob:
    """One Verilator lint run: a top module with a parameter set."""

    label: str
    top: str
    params: dict[str, int]


def jobs() -> list[LintJob]:
    """Every top-level module with its defaults (modules instantiated by others are
    linted through them), then every unit instance under test with its parameters."""
    files = module_files()
    used = {p.stem for top in files for p in sources(top) if p.stem != top}
    tops = [name for name in files if name not in used]
    out = [LintJob(f"{t} (defaults)", t, {}) for t in tops]
    out += [LintJob(u.name, u.top, u.params) for u in UNITS.values()]
    return out


def lint(job: LintJob, package: Path) -> tuple[bool, str]:
    """Run one lint job; (clean, Verilator's messages)."""
    cmd = [
        "verilator",
        *ALWAYS,
        "--top-module",
        job.top,
        *(f"-G{k}={v}" for k, v in job.params.items()),
        *map(str, generated_sources(job.top, package.parent)),
        *map(str, sources(job.top)),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), cwd=package.parent)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    """Lint everything; print each job's verdict and the messages of failing ones."""
    del argv
    package = Path(write_rtl_tables()["package"])
    if package.name != f"{PACKAGE}.sv":
        raise RuntimeError(f"unexpected package file {package}")
    failed = 0
    for job in jobs():
        ok, messages = lint(job, package)
        print(f"  {'ok  ' if ok else 'FAIL'} {job.label}", flush=True)
        if not ok:
            failed += 1
            print(messages, file=sys.stderr)
    print(
        f"verilator -Wall: {failed} of {len(jobs())} lint runs failed"
        if failed
        else "verilator -Wall: clean"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
