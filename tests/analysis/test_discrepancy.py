"""Update-direction probe on tiny linear "models" with hand-computed cosines.

Notation: H = x Wᵀ for a bias-free linear layer, g = ∂L/∂H. One SGD step with rate η changes
W by −η gᵀx, so ΔH = x ΔWᵀ = −η x xᵀ g: the cosine with −g is 1 exactly when x xᵀ ∝ I.
"""

import math

import pytest
import torch
from torch import nn

from peftir.analysis.discrepancy import UpdateDirectionProbe, by_layer, by_step, find_layers, records_frame


class Tiny(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(layers)

    def forward(self, x):
        for layer in self.encoder.layers:
            x = layer(x)
        return x


class Wrap(nn.Module):
    """A PET-style wrapper at a layer position: inner(h) + aside(h)."""

    def __init__(self, inner, aside):
        super().__init__()
        self.inner, self.aside = inner, aside

    def forward(self, h):
        return self.inner(h) + self.aside(h)


def linear(weight, trainable=True, bias=None):
    m = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        m.weight.copy_(weight)
        if bias is not None:
            m.bias.copy_(bias)
    m.weight.requires_grad_(trainable)
    return m


def probe_step(model, x, loss_fn, lr=0.1, mask=None):
    probe = UpdateDirectionProbe()
    probe.before_step(model, lambda: model(x), loss_fn, mask=mask)
    assert all(p.grad is None for p in model.parameters())  # the probe leaves .grad alone
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn(model(x)).backward()
    opt.step()
    return probe, probe.after_step(model, step=7)


def test_sgd_on_the_representation_gives_cosine_one():
    """x = I: ΔH = −η g for any loss, here L = ‖H − T‖²."""
    model = Tiny(linear(torch.tensor([[1.0, 2.0], [0.5, -1.0]])))
    target = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    probe, cos = probe_step(model, torch.eye(2), lambda h: ((h - target) ** 2).sum())
    assert cos == [pytest.approx(1.0)]
    assert probe.records[0]["step"] == 7 and probe.records[0]["layer"] == 0


def test_frozen_layer_below_gives_cosine_below_one():
    """Layer 0 frozen (W0 = I, so H0 = x = [[1,0],[1,1]]), layer 1 W1 (1×2) trains, L = Σ H1 ⊙ c with
    c = [[1],[−1]], so g1 = c. ΔH1 = −η H0 H0ᵀ c = −η [[1,1],[1,2]] [1,−1]ᵀ = −η [0, −1]ᵀ = [0, η]ᵀ;
    cos(ΔH1, −g1) = (0·(−1) + η·1) / (η · √2) = 1/√2. H0 never changes: its cosine is NaN."""
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    c = torch.tensor([[1.0], [-1.0]])
    model = Tiny(linear(torch.eye(2), trainable=False), linear(torch.tensor([[0.3, -0.2]])))
    _, cos = probe_step(model, x, lambda h: (h * c).sum())
    assert math.isnan(cos[0])
    assert cos[1] == pytest.approx(1 / math.sqrt(2))


def test_wrapper_at_layer_position():
    """Wrap layer 1 (now frozen) with a trainable zero-initialised aside Linear: ΔH1 is the aside's
    change, −η H0 H0ᵀ c as above, so again 1/√2 — measured on the wrapper's output."""
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    c = torch.tensor([[1.0], [-1.0]])
    inner = linear(torch.tensor([[0.3, -0.2]]), trainable=False)
    model = Tiny(linear(torch.eye(2), trainable=False), Wrap(inner, linear(torch.zeros(1, 2))))
    assert isinstance(find_layers(model)[1], Wrap)
    _, cos = probe_step(model, x, lambda h: (h * c).sum())
    assert cos[1] == pytest.approx(1 / math.sqrt(2))


def test_bias_only_update_and_mask():
    """Only the bias trains (W frozen, BitFit-like): ΔH_b = Δbias = −η Σ_b g_b for every row b.
    With L = Σ H ⊙ c, c = [[1,2],[3,−1]]: Σ_b g_b = [4,1], ΔH = −η [[4,1],[4,1]];
    cos = ‖Σ g‖² / (√2 ‖Σ g‖ ‖g‖_F) = √17 / (√2 √15) = √(17/30).
    Masking out row 2: cos([4,1], [1,2]) = 6 / (√17 √5) = 6/√85."""
    c = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    x = torch.tensor([[1.0, 2.0], [0.0, 1.0]])

    def build():
        m = Tiny(linear(torch.eye(2), trainable=False, bias=torch.zeros(2)))
        return m

    _, cos = probe_step(build(), x, lambda h: (h * c).sum())
    assert cos[0] == pytest.approx(math.sqrt(17 / 30))
    _, cos = probe_step(build(), x, lambda h: (h * c).sum(), mask=torch.tensor([1.0, 0.0]))
    assert cos[0] == pytest.approx(6 / math.sqrt(85))


def test_layer_called_twice_and_modes_restored():
    """A shared layer encoding two inputs (bi-encoder) contributes both calls; eval mode during the
    probe, the training flag restored afterwards."""
    layer = linear(torch.tensor([[1.0, 2.0], [0.5, -1.0]]))
    model = Tiny(layer, nn.Dropout(0.5))
    model.train()
    a, b = torch.eye(2)[:1], torch.eye(2)[1:]
    probe = UpdateDirectionProbe()
    probe.before_step(model, lambda: (model(a), model(b)), lambda o: (o[0] ** 2).sum() + (o[1] ** 2).sum())
    assert model.training and model.encoder.layers[1].training
    with torch.no_grad():
        layer.weight -= 0.1 * 2 * layer.weight  # SGD step on L = ‖W‖²_F: ΔH = −η g for x = rows of I
    cos = probe.after_step(model)
    assert cos[0] == pytest.approx(1.0) and cos[1] == pytest.approx(1.0)  # dropout is identity in eval
    with pytest.raises(RuntimeError):
        probe.after_step(model)


def test_summaries():
    recs = [
        {"step": 1, "layer": 0, "cosine": 0.2},
        {"step": 1, "layer": 1, "cosine": 0.4},
        {"step": 2, "layer": 0, "cosine": 0.6},
        {"step": 2, "layer": 1, "cosine": float("nan")},
    ]
    bl = by_layer(recs)
    assert bl["layer"].tolist() == [0, 1] and bl["mean"].tolist() == pytest.approx([0.4, 0.4])
    assert bl["n"].tolist() == [2, 1] and bl["std"][1] == 0.0
    bs = by_step(records_frame(recs))
    assert bs["mean"].tolist() == pytest.approx([0.3, 0.6])
    assert by_step(recs, layers=[1])["step"].tolist() == [1]


def test_on_tiny_bert():
    """Smoke test on the project's encoder: one cosine per layer, each in [−1, 1]; padding masked."""
    from peftir.models.bert import Bert, BertConfig

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    model = Bert(cfg)
    ids, mask = torch.randint(0, 50, (3, 5)), torch.ones(3, 5)
    mask[:, 3:] = 0
    v = torch.randn(16)
    loss_fn = lambda h: (h[:, 0] @ v).sum()
    probe = UpdateDirectionProbe()
    probe.before_step(model, lambda: model(ids, mask), loss_fn, mask=mask)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.eval()
    loss_fn(model(ids, mask)).backward()
    opt.step()
    cos = probe.after_step(model)
    assert len(cos) == 2 and all(-1 <= c <= 1 for c in cos)


def test_find_layers_nested_and_tuple_outputs():
    """A task model holding the encoder one level down; a layer returning a tuple (first item used)."""

    class TupleOut(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return (self.inner(x), "aux")

    class Task(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Tiny(TupleOut(linear(torch.tensor([[1.0, 2.0], [0.5, -1.0]]))))

        def forward(self, x):
            return self.encoder.encoder.layers[0](x)[0]

    model = Task()
    assert isinstance(find_layers(model)[0], TupleOut)
    _, cos = probe_step(model, torch.eye(2), lambda h: (h**2).sum())
    assert cos == [pytest.approx(1.0)]
    with pytest.raises(ValueError, match="encoder.layers"):
        find_layers(nn.Linear(2, 2))
