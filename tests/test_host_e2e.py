"""End to end on the simulated board: the host runtime drives the C-simulated HLS engine
through pynq, and the tokens it reads back equal the golden fixed-point forward as
integers; the numpy heads match PyTorch's; 500 frames reuse the same buffers.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymodel import backbone_forward

from .host_fixtures import Case, require_csim, require_pynq


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Case]:
    require_pynq()
    require_csim()
    root = tmp_path_factory.mktemp("host-e2e-tiny")
    return {n: Case(root, "tiny", n) for n in ("edgemoe", "hw16")}


@pytest.fixture(scope="module")
def edgemoe_t(tmp_path_factory) -> dict[str, Case]:
    require_pynq()
    require_csim()
    root = tmp_path_factory.mktemp("host-e2e-edgemoe-t")
    return {n: Case(root, "edgemoe-t", n, seed=3, golden=False) for n in ("edgemoe", "hw16")}


def check_frame(case: Case, result, task) -> None:
    golden = backbone_forward(case.model, case.x[1:2], task, case.numerics).raw[0].numpy()
    assert result.raw.dtype == np.int64 and result.raw.shape == golden.shape
    assert int((result.raw != golden).sum()) == 0  # bit for bit
    assert set(result.timings) == {"upload", "kernel", "download", "head"}
    assert all(v >= 0 for v in result.timings.values())
    with torch.no_grad():
        tokens = torch.from_numpy(result.tokens).float()[None]
        ref = case.model.decoders[result.task](tokens)[0].numpy()
    assert result.head is not None and result.head.shape == ref.shape
    assert np.abs(result.head - ref).max() < 1e-4


@pytest.mark.parametrize("numerics", ["edgemoe", "hw16"])
def test_tiny_every_task_bit_exact(tiny, numerics):
    from host import Accelerator

    case = tiny[numerics]
    with Accelerator.open(backend="csim", export=case.dir) as acc:
        acc.load(case.dir)
        for task in case.model.cfg.tasks:
            check_frame(case, acc.run(case.image(1), task), task)
        raw, expected = acc.export.golden("depth")
        assert np.array_equal(acc.run_raw(raw, "depth").raw, expected)


@pytest.mark.slow
@pytest.mark.parametrize("numerics, task", [("edgemoe", "semseg"), ("hw16", "depth")])
def test_edgemoe_t_bit_exact_with_heads(edgemoe_t, numerics, task):
    """Edge-MoE's model (129 tokens, 16 experts top-2): one task per numerics here."""
    from host import Accelerator

    case = edgemoe_t[numerics]
    with Accelerator.open(backend="csim", export=case.dir) as acc:
        acc.load(case.dir)
        result = acc.run(case.image(1)[None], task)  # (1, C, H, W) is accepted too
    assert result.raw.shape == (129, 192)
    check_frame(case, result, task)


def test_soak_500_frames_reuse_the_buffers(tiny):
    """500 tiny frames through run_many: every one bit-exact, no allocation after load."""
    from host import Accelerator

    case = tiny["hw16"]
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, *case.x.shape[1:])).astype(np.float32)
    golden = [
        backbone_forward(case.model, torch.from_numpy(im)[None], "semseg", "hw16").raw[0].numpy()
        for im in images
    ]
    with Accelerator.open(backend="csim", export=case.dir) as acc:
        acc.load(case.dir)
        allocated = acc.sim.allocations
        results = acc.run_many((images[i % 4] for i in range(500)), "semseg", progress=False)
        assert acc.sim.allocations == allocated == 2  # params and io, once
        assert acc.sim.live_buffers == 2
    assert acc.sim.live_buffers == 0  # close() freed them
    assert len(results) == 500
    bad = [i for i, r in enumerate(results) if not np.array_equal(r.raw, golden[i % 4])]
    assert bad == []
