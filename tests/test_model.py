import pytest
import torch

from pymodel import build_model
from pymodel.model import resize_pos_embed
from pymodel.moe import MoE, lru_loads, topk_lower_index

from .conftest import images


def test_outputs_per_task(tiny_model):
    x = images(tiny_model.cfg)
    for name, ch in tiny_model.cfg.task_channels.items():
        assert tiny_model(x, name).shape == (2, ch, 48, 64)
    assert torch.equal(tiny_model(x, 1), tiny_model(x, "depth"))
    assert tiny_model.backbone(x, "semseg").shape == (2, 13, 32)


def test_bad_inputs(tiny_model):
    with pytest.raises(ValueError, match="img_size"):
        tiny_model(torch.zeros(1, 3, 64, 48), 0)
    with pytest.raises(ValueError, match="unknown task"):
        tiny_model(images(tiny_model.cfg), "edge")


@pytest.mark.parametrize("router", ["multi", "task", "single"])
@pytest.mark.parametrize("renorm", [False, True])
@pytest.mark.parametrize("batched_queue_limit", [0, 64])  # per-expert loop / padded batch
def test_expert_major_equals_token_major(router, renorm, batched_queue_limit):
    model = build_model("tiny", seed=3, router=router, renormalize_gates=renorm)
    for _, moe in model.backbone.moe_layers():
        moe.batched_queue_limit = batched_queue_limit
    x = images(model.cfg, batch=3)
    with torch.no_grad():
        for task in model.tasks:
            a = model.set_moe_path("token").backbone(x, task)
            b = model.set_moe_path("expert").backbone(x, task)
            assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("batched_queue_limit", [0, 64])
def test_expert_major_training_paths_equal_token_major(batched_queue_limit):
    """With autograd on, expert-major uses the padded batch or the per-expert loop."""
    model = build_model("tiny", seed=3)
    for _, moe in model.backbone.moe_layers():
        moe.batched_queue_limit = batched_queue_limit
    x = images(model.cfg, batch=2)
    a = model.set_moe_path("token").backbone(x, 0)
    b = model.set_moe_path("expert").backbone(x, 0)
    assert (a - b).abs().max().item() <= 1e-5
    b.sum().backward()  # the training path is differentiable
    assert model.backbone.moe_layers()[0][1].experts.htoh4.weight.grad is not None


def test_expert_major_equals_token_major_edgemoe_t():
    model = build_model("edgemoe-t", seed=0)
    x = images(model.cfg, batch=1)
    with torch.no_grad():
        for task in model.tasks:
            a = model.set_moe_path("token").backbone(x, task)
            b = model.set_moe_path("expert").backbone(x, task)
            assert (a - b).abs().max().item() <= 1e-5


def _reference_moe(moe: MoE, x: torch.Tensor, task: int) -> torch.Tensor:
    """The definition, token by token: y = sum_k p_k * expert_k(x), p = softmax(x W)."""
    p = torch.softmax(x @ moe.w_gate(task), dim=-1)
    out = torch.zeros_like(x)
    for t in range(x.shape[0]):
        order = sorted(range(p.shape[1]), key=lambda e: (-p[t, e].item(), e))
        for e in order[: moe.top_k]:
            out[t] += p[t, e] * moe.experts.expert(e, x[t : t + 1])[0]
    return out


def test_moe_matches_definition_without_renormalisation():
    moe = MoE(16, 24, num_experts=5, top_k=2, router="multi", num_tasks=2, gate_in_dim=16).eval()
    x = torch.randn(30, 16)
    for path in ("token", "expert"):
        moe.path = path
        for task in (0, 1):
            torch.testing.assert_close(
                moe(x, task), _reference_moe(moe, x, task), atol=1e-6, rtol=0
            )
    routing = moe.last_routing
    assert (routing.gates.sum(-1) < 1).all()  # top-k probabilities kept as they are


def test_topk_ties_go_to_lower_index():
    x = torch.tensor([[0.1, 0.3, 0.3, 0.3, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    v, i = topk_lower_index(x, 3)
    assert i.tolist() == [[1, 2, 3], [0, 1, 2]]
    assert v[0].tolist() == pytest.approx([0.3, 0.3, 0.3])


def test_routing_differs_between_task_gates():
    model = build_model("tiny", seed=0)
    x = images(model.cfg, batch=1)
    a = [layer.tokens_per_expert for layer in model.routing(x, 0).layers]
    b = [layer.tokens_per_expert for layer in model.routing(x, 1).layers]
    assert a != b


def test_routing_statistics_and_traffic():
    model = build_model("edgemoe-t", seed=0)
    x = images(model.cfg, batch=2)
    stats = model.routing(x, "semseg", weight_bytes=2, cache_experts=1)
    assert len(stats.layers) == 6
    expert_bytes = (2 * 192 * 384 + 384 + 192) * 2
    for layer in stats.layers:
        assert sum(layer.tokens_per_expert) == 2 * 129 * 2  # batch x tokens x top-k
        assert layer.expert_bytes == expert_bytes
        assert layer.active_experts <= 2 * 16
        assert layer.bytes_expert_major == layer.active_experts * expert_bytes
        assert layer.bytes_token_major >= layer.bytes_expert_major
    # Reordering saves traffic; a cache of every expert makes the orders equal.
    assert stats.traffic_saving > 2
    full = model.routing(x, "semseg", cache_experts=16)
    assert full.bytes_token_major == full.bytes_expert_major
    d = stats.to_dict()
    assert d["bytes_token_major"] == stats.bytes_token_major and len(d["layers"]) == 6


def test_lru_loads():
    assert lru_loads([0, 1, 0, 1], 1) == 4
    assert lru_loads([0, 1, 0, 1], 2) == 2
    assert lru_loads([0, 1, 2, 0], 2) == 4  # 0 was evicted by 2
    assert lru_loads([0, 1, 0, 2, 0], 2) == 3  # 0 was recently used, 1 is evicted
    assert lru_loads([3, 3, 3], 0) == 3


def test_training_balance_loss_and_noise():
    model = build_model("tiny", seed=0).train()
    x = images(model.cfg)
    out = model(x, "semseg")
    loss = model.backbone.balance_loss()
    assert loss.item() > 0
    (out.mean() + loss).backward()
    gate = model.backbone.blocks[1].mlp.gate[0].w_gate
    assert gate.grad is not None and gate.grad.abs().sum() > 0
    # Noise only in training: two eval passes agree, two training passes differ.
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x, 0), model(x, 0))
        model.train()
        p1 = model.backbone(x, 0)
        p2 = model.backbone(x, 0)
    assert not torch.equal(p1, p2)
    # cv^2 is zero for perfectly balanced routing.
    moe = model.backbone.blocks[1].mlp
    probs = torch.full((8, 4), 0.25)
    idx = torch.tensor([[0, 1], [2, 3]] * 4)
    gates = torch.full((8, 2), 0.25)
    assert moe._balance_loss(probs, gates, idx, probs, probs, 0.0).item() == pytest.approx(0)


def test_head_layout_2_1():
    model = build_model("tiny", seed=0, head_convs=2, head_upsamples=1)
    head = model.decoders["semseg"]
    assert hasattr(head, "conv_1") and not hasattr(head, "conv_2")
    assert head.conv_0.kernel_size == (3, 3) and head.conv_1.kernel_size == (1, 1)
    assert model(images(model.cfg), "semseg").shape == (2, 5, 48, 64)


def test_resize_pos_embed():
    pe = torch.randn(1, 1 + 2 * 3, 4)
    assert resize_pos_embed(pe, (2, 3), (2, 3)) is pe
    out = resize_pos_embed(pe, (2, 3), (4, 6))
    assert out.shape == (1, 25, 4) and torch.equal(out[:, 0], pe[:, 0])
    # A constant embedding stays constant under bilinear resizing.
    const = torch.ones(1, 7, 4)
    torch.testing.assert_close(resize_pos_embed(const, (2, 3), (3, 5)), torch.ones(1, 16, 4))
    with pytest.raises(ValueError, match="patch positions"):
        resize_pos_embed(pe, (3, 3), (4, 4))


def test_seeded_builds_are_reproducible():
    a, b = build_model("tiny", seed=7), build_model("tiny", seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build_model("tiny", seed=8)
    assert not torch.equal(a.backbone.pos_embed, c.backbone.pos_embed)
