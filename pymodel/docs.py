"""Regenerate the generated sections of README.md from the code (``python -m pymodel.docs``).

A test checks that the committed README matches, so its tables cannot drift
from the presets.
"""

from __future__ import annotations

import re
import sys

from .config import PRESETS
from .info import summary
from .results import REPO, update_section


def presets_table() -> str:
    """Markdown table of every preset: architecture and per-image cost (semseg head)."""
    rows = [
        "| preset | input | tokens | dim / heads / depth | MoE blocks | experts / top-k "
        "| expert hidden | tasks (channels) | params | backbone GMAC | head GMAC (first task) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, cfg in PRESETS.items():
        s = summary(name)
        first = s["macs"][cfg.tasks[0]]
        tasks = ", ".join(f"{t} ({c})" for t, c in cfg.task_channels.items())
        rows.append(
            f"| `{name}` | {cfg.in_chans}x{cfg.img_size[0]}x{cfg.img_size[1]} | "
            f"{cfg.num_tokens} | {cfg.dim} / {cfg.num_heads} / {cfg.depth} | "
            f"{','.join(map(str, cfg.moe_blocks))} | {cfg.num_experts} / {cfg.top_k} | "
            f"{cfg.expert_hidden} | {tasks} | {s['params'] / 1e6:.2f} M | "
            f"{first['backbone'] / 1e9:.3f} | {first['head'] / 1e9:.3f} |"
        )
    return "\n".join(rows)


SECTIONS = {"presets": presets_table}


def section_text(doc: str, name: str) -> str | None:
    m = re.search(rf"<!-- BEGIN {name} -->\n(.*?)\n<!-- END {name} -->", doc, re.S)
    return m.group(1) if m else None


def main() -> int:
    for name, make in SECTIONS.items():
        update_section(REPO / "README.md", name, make(), "edgemoe")
    print("updated README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
