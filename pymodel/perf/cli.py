"""``edgemoe perf`` and ``edgemoe dse``: the performance and resource models from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import PRESETS


def _design(args: argparse.Namespace):
    from ..export.design import Design

    d = Design()
    if args.design:
        d = Design.from_dict(json.loads(Path(args.design).read_text()))
    changes: dict[str, Any] = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE")
        changes[key] = float(value) if "." in value else int(value)
    try:
        return d.with_(**changes)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"edgemoe perf: invalid design: {e}") from None


def _ddr(args: argparse.Namespace):
    from .ddr import Ddr

    kw = {}
    if args.ddr_latency is not None:
        kw["latency_cycles"] = args.ddr_latency
    if args.ddr_efficiency is not None:
        kw["efficiency"] = args.ddr_efficiency
    return Ddr(**kw)


def cmd_perf(args: argparse.Namespace) -> int:
    from ..config import get_config
    from .dse import widths_for
    from .report import perf_report, report_markdown

    cfg = get_config(args.preset)
    report = perf_report(
        cfg, _design(args), widths_for(args.numerics), board=args.board, ddr=_ddr(args),
        numerics=args.numerics,
    )  # fmt: skip
    if args.json:
        from ..results import envelope

        payload = {k: v for k, v in report.items() if k not in ("kind", "label")}
        source = "edgemoe perf " + " ".join(sys.argv[2:] if len(sys.argv) > 2 else [args.preset])
        out = envelope("perf-model", "modelled", source, **payload)
        text = json.dumps(out, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n")
            print(f"wrote {args.json}")
        return 0 if report["fits"] else 1
    print(report_markdown(report))
    return 0 if report["fits"] else 1


def cmd_dse(args: argparse.Namespace) -> int:
    from .dse import explore
    from .dse_report import write_dse

    result = explore(board=args.board, ddr=_ddr(args), margin=args.margin, progress=True)
    out = write_dse(result, Path(args.out))
    pick = result["pick"]
    if pick is None:
        print(f"no design point fits {args.board} with {args.margin:.0%} spare and meets the "
              "limits", file=sys.stderr)  # fmt: skip
        return 1
    from ..export.design import Design

    same = pick["design"] == Design()
    print(f"wrote {out / 'dse.md'}, {out / 'dse.json'}, {out / 'pareto.png'}")
    lat = ", ".join(f"{k} {v:.2f} ms" for k, v in pick["latency_ms"].items())
    verdict = "this is the package's default design" if same else "DIFFERS from the default design"
    print(f"pick for {args.board}: {lat}; DSP {pick['resources']['dsp']}; {verdict}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``perf`` and ``dse`` on the ``edgemoe`` parser."""
    presets = ", ".join(PRESETS)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--board", default="zcu104", choices=("zcu104", "zcu102", "kv260"))
        q.add_argument("--ddr-latency", type=int, help="DDR read latency in cycles (default 128)")
        q.add_argument("--ddr-efficiency", type=float, help="sustained DDR fraction (default 0.8)")

    q = sub.add_parser("perf", help="MODELLED latency and resources of a model on a design")
    q.add_argument("preset", help=f"preset ({presets}) or a YAML/JSON config file")
    q.add_argument("--numerics", default="hw8", choices=("hw8", "hw16", "edgemoe"))
    q.add_argument("--design", help="design point as JSON (Design.to_dict())")
    q.add_argument("--set", action="append", metavar="NAME=VALUE", help="change a design field")
    q.add_argument("--json", nargs="?", const="-", metavar="OUT", help="result JSON (to OUT)")
    common(q)
    q.set_defaults(func=cmd_perf)

    q = sub.add_parser("dse", help="sweep design points; Pareto front and the pick for a board")
    q.add_argument("--out", default="build/dse", help="output directory")
    q.add_argument("--margin", type=float, default=0.10, help="resources left free (default 10%%)")
    common(q)
    q.set_defaults(func=cmd_dse)
