"""Dependencies as a library user meets them: a torch range in pyproject.toml, the exact
pin and the CPU wheel index in the Makefile's set-up (checked without running it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import torch
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent


def _torch_requirement() -> Requirement:
    # tomllib is Python >= 3.11 only; the dependency lines are simple enough to read.
    text = (REPO / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S)
    assert deps, "pyproject.toml has no dependencies list"
    reqs = [Requirement(d) for d in re.findall(r'^\s*"([^"]+)",', deps.group(1), re.M)]
    (req,) = [r for r in reqs if r.name == "torch"]
    return req


def _make_var(name: str) -> str:
    m = re.search(rf"^{name} \?= (.*)$", (REPO / "Makefile").read_text(), re.M)
    assert m, f"Makefile sets no overridable {name}"
    return m.group(1).strip()


def test_pyproject_declares_a_torch_range_not_a_pin():
    spec = _torch_requirement().specifier
    assert not any(s.operator in ("==", "===", "~=") for s in spec), str(spec)
    assert any(s.operator == ">=" for s in spec), f"no floor in {spec}"
    pinned = _make_var("TORCH_VERSION")
    assert Version(pinned) in spec, f"the tested pin {pinned} is outside {spec}"
    assert Version(torch.__version__.split("+")[0]) in spec


def test_setup_installs_the_pinned_cpu_wheel():
    index = _make_var("TORCH_INDEX")
    assert index.startswith("https://") and index.rstrip("/").endswith("/cpu")
    recipe = (REPO / "Makefile").read_text().split("$(STAMP): pyproject.toml", 1)[1]
    recipe = recipe.split("\n\n", 1)[0]
    assert re.search(
        r"pip install -q torch==\$\(TORCH_VERSION\) \$\(if \$\(TORCH_INDEX\),"
        r"--extra-index-url \$\(TORCH_INDEX\)\)",
        recipe,
    ), recipe
    # torch is installed before the package, so pip keeps the pinned CPU build
    assert recipe.index("torch==$(TORCH_VERSION)") < recipe.index("-e '.[")


def test_make_help_names_the_overridable_index():
    out = subprocess.run(
        ["make", "-s", "help", "TORCH_INDEX=https://example.invalid/cpu"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "TORCH_INDEX=https://example.invalid/cpu" in out
