"""Published numbers the report compares against: the one place they are typed.

Every figure is copied from the paper named in its ``citation`` (collected in
the project's ANCHORS notes) and is labelled "published" wherever it appears.
Boards, models and measurement methods differ between the works; each row
says which board and model it is about.
"""

from __future__ import annotations

from dataclasses import dataclass

EDGE_MOE = "Sarkar et al., Edge-MoE, ICCAD 2023"
M3VIT = "Liang et al., M3ViT, NeurIPS 2022"
UBIMOE = "UbiMoE, ISCAS 2025"
COQMOE = "CoQMoE, 2025"
LOAD_AWARE = "load-aware edge-FPGA MoE, 2026"

# short citation (a table's source cell) -> the full reference
REFERENCES = {
    EDGE_MOE: "R. Sarkar, H. Liang, Z. Fan, Z. Wang, C. Hao: Edge-MoE: Memory-Efficient "
    "Multi-Task Vision Transformer Architecture with Task-level Sparsity via "
    "Mixture-of-Experts, ICCAD 2023 (code: sharc-lab/Edge-MoE)",
    M3VIT: "H. Liang, Z. Fan, R. Sarkar, Z. Jiang, T. Chen, K. Zou, Y. Cheng, C. Hao, Z. Wang: "
    "M3ViT: Mixture-of-Experts Vision Transformer for Efficient Multi-task Learning with "
    "Model-Accelerator Co-design, NeurIPS 2022 (the table of FPGA and GPU latency and energy; "
    "code: VITA-Group/M3ViT)",
    UBIMOE: "UbiMoE, ISCAS 2025, derived from Edge-MoE's code (figures from the abstract)",
    COQMOE: "CoQMoE, 2025, a quantised MoE-ViT FPGA accelerator (figures from the abstract)",
    LOAD_AWARE: "a load-aware MoE-ViT accelerator for edge FPGAs, 2026 (figures from the abstract)",
}


@dataclass(frozen=True)
class PublishedRun:
    """A published latency (and energy) per frame on one platform."""

    work: str
    citation: str
    platform: str
    role: str  # fpga | gpu | cpu: what kind of platform, for the plots
    model: str
    preset: str | None  # our preset of the same model, when there is one
    latency_ms: float | None
    energy_j: float | None = None
    note: str = ""


@dataclass(frozen=True)
class PublishedRatio:
    """A published improvement factor of an FPGA design over another platform."""

    work: str
    citation: str
    metric: str  # "energy efficiency" | "throughput"
    versus: str  # GPU | CPU | prior FPGA designs ...
    ratio: float
    note: str = ""


def _m3vit(platform: str, role: str, model: str, pascal: tuple, nyud: tuple) -> list:
    note = "single task, batch 1, per image"
    return [
        PublishedRun("M3ViT", M3VIT, platform, role, model, preset, ms, joules, note)
        for preset, (ms, joules) in (("m3vit-s-pascal", pascal), ("m3vit-s-nyud", nyud))
    ]


PUBLISHED_RUNS: tuple[PublishedRun, ...] = (
    PublishedRun(
        "Edge-MoE",
        EDGE_MOE,
        "ZCU102 FPGA, 300 MHz",
        "fpga",
        "M3ViT-tiny (3x128x256, 16 experts, top-2)",
        "edgemoe-t",
        59.0,
        note="board demo, backbone only (no task heads), about 17 frames/s; the authors' "
        "analytic estimate: 22-26 ms",
    ),
    *_m3vit("GPU Quadro RTX 8000", "gpu", "ViT-S (dense)", (10.381, 3.062), (7.110, 2.097)),
    *_m3vit("GPU Quadro RTX 8000", "gpu", "MoE-ViT-S", (25.239, 7.446), (27.760, 8.189)),
    *_m3vit(
        "ZCU104 FPGA, 300 MHz, 10 W",
        "fpga",
        "MoE-ViT-S, no patch reordering",
        (637.478, 6.375),
        (750.557, 7.506),
    ),
    *_m3vit(
        "ZCU104 FPGA, 300 MHz, 10 W",
        "fpga",
        "MoE-ViT-S, with patch reordering",
        (69.033, 0.690),
        (84.538, 0.845),
    ),
    PublishedRun(
        "CoQMoE",
        COQMOE,
        "FPGA",
        "fpga",
        "quantised MoE-ViT",
        None,
        6.5,
        note="about 155 frames/s; under 1 % accuracy loss",
    ),
    PublishedRun(
        "load-aware MoE",
        LOAD_AWARE,
        "edge FPGA",
        "fpga",
        "MoE-ViT",
        None,
        16.33,
        note="end-to-end latency",
    ),
)

PUBLISHED_RATIOS: tuple[PublishedRatio, ...] = (
    PublishedRatio("Edge-MoE", EDGE_MOE, "energy efficiency", "GPU", 2.24),
    PublishedRatio("Edge-MoE", EDGE_MOE, "energy efficiency", "CPU", 4.90),
    PublishedRatio("load-aware MoE", LOAD_AWARE, "energy efficiency", "CPU", 2.9),
    PublishedRatio("load-aware MoE", LOAD_AWARE, "energy efficiency", "GPU", 3.1),
    PublishedRatio("load-aware MoE", LOAD_AWARE, "throughput", "Edge-MoE", 1.52),
    PublishedRatio("UbiMoE", UBIMOE, "throughput", "prior FPGA designs", 1.34, "ZCU102"),
    PublishedRatio("UbiMoE", UBIMOE, "energy efficiency", "prior FPGA designs", 1.75, "ZCU102"),
    PublishedRatio("UbiMoE", UBIMOE, "throughput", "prior FPGA designs", 3.35, "Alveo U280"),
    PublishedRatio("UbiMoE", UBIMOE, "energy efficiency", "prior FPGA designs", 1.54, "Alveo U280"),
    PublishedRatio("CoQMoE", COQMOE, "throughput", "prior MoE-ViT FPGA accelerators", 5.35),
)
