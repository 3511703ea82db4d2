"""Loss landscape on a toy quadratic L(p) = Σ (p − p*)², minimum at p = p*, with p = p* at the centre.

Along a filter-normalised direction δ the loss is f(α) = α² ‖δ‖², and filter normalisation makes
‖δ_i‖ = ‖θ_i‖ for every filter, so ‖δ‖² = ‖θ‖²: f(α) = α² ‖θ‖² (curvature f'' = 2 ‖θ‖²).
"""

import numpy as np
import pytest
import torch

from peftir.analysis.landscape import (
    linear_path,
    load_landscape,
    loss_1d,
    loss_2d,
    normalise_direction,
    random_direction,
    save_landscape,
    sharpness,
    trainable_parameters,
)


def _toy():
    w_star = torch.tensor([[1.0, 2.0], [0.0, -3.0], [0.5, 0.5]], dtype=torch.float64)
    b_star = torch.tensor([2.0, -1.0, 0.0], dtype=torch.float64)
    w, b = torch.nn.Parameter(w_star.clone()), torch.nn.Parameter(b_star.clone())

    def loss_fn():
        with torch.no_grad():
            return float(((w - w_star) ** 2).sum() + ((b - b_star) ** 2).sum())

    return [w, b], loss_fn


def test_filter_normalisation():
    params, _ = _toy()
    d = random_direction(params, torch.Generator().manual_seed(0))
    w, b = params
    # each row of the weight's direction has the norm of the weight's row; the bias: the whole norm
    assert torch.allclose(d[0].norm(dim=1), w.detach().norm(dim=1))
    assert torch.allclose(d[1].norm(), b.detach().norm())
    zero = random_direction(params, torch.Generator().manual_seed(0), vectors="zero")
    assert torch.equal(zero[1], torch.zeros(3, dtype=torch.float64)) and torch.allclose(zero[0], d[0])
    # same seed, same direction; scale invariance: doubling the weights doubles the direction
    assert torch.equal(random_direction(params, torch.Generator().manual_seed(0))[0], d[0])
    raw = [torch.randn(3, 2, dtype=torch.float64), torch.randn(3, dtype=torch.float64)]
    one = normalise_direction(raw, [p.detach() for p in params])
    two = normalise_direction(raw, [2 * p.detach() for p in params])
    assert all(torch.allclose(2 * x, y) for x, y in zip(one, two))
    with pytest.raises(ValueError):
        normalise_direction(raw, params, vectors="bias")


def test_loss_1d_quadratic_and_restore():
    params, loss_fn = _toy()
    before = [p.detach().clone() for p in params]
    d = random_direction(params, torch.Generator().manual_seed(1))
    alphas = np.linspace(-1, 1, 11)
    f = loss_1d(params, loss_fn, d, alphas)
    norm2 = sum(float((p.detach() ** 2).sum()) for p in params)  # ‖θ‖² = 1+4+9+.25+.25 + 4+1 = 19.5
    assert norm2 == 19.5
    np.testing.assert_allclose(f, alphas**2 * 19.5, rtol=1e-9, atol=1e-12)
    assert f.argmin() == 5 and f[5] == 0.0  # the minimum sits at the centre
    assert all(torch.equal(p, q) for p, q in zip(params, before))
    # with zeroed vector directions only the weight moves: f = α² ‖W‖² = 14.5 α²
    dz = random_direction(params, torch.Generator().manual_seed(1), vectors="zero")
    np.testing.assert_allclose(loss_1d(params, loss_fn, dz, [2.0]), [4 * 14.5])
    # sharpness at radius .6 (grid points): (f(−.6) + f(.6))/2 − f(0) = .36 · 19.5
    assert sharpness(alphas, f, 0.6) == pytest.approx(0.36 * 19.5)
    assert sharpness(alphas, f + 1.0, 0.6, relative=True) == pytest.approx(0.36 * 19.5)
    with pytest.raises(ValueError, match="cover"):
        sharpness(alphas, f, 2.0)


def test_restore_on_error():
    params, _ = _toy()
    before = [p.detach().clone() for p in params]

    def boom():
        raise RuntimeError("loss failed")

    with pytest.raises(RuntimeError):
        loss_1d(params, boom, [torch.ones_like(p) for p in params], [0.5])
    assert all(torch.equal(p, q) for p, q in zip(params, before))


def test_loss_2d_quadratic():
    """f(α, β) = ‖α δ + β η‖² = α² ‖δ‖² + 2αβ δ·η + β² ‖η‖², with ‖δ‖² = ‖η‖² = 19.5."""
    params, loss_fn = _toy()
    g = torch.Generator().manual_seed(2)
    d1, d2 = random_direction(params, g), random_direction(params, g)
    dot = sum(float((x * y).sum()) for x, y in zip(d1, d2))
    alphas, betas = np.array([-1.0, 0.0, 0.5]), np.array([-0.5, 0.0, 1.0, 2.0])
    f = loss_2d(params, loss_fn, d1, d2, alphas, betas)
    assert f.shape == (3, 4)
    a, b = np.meshgrid(alphas, betas, indexing="ij")
    np.testing.assert_allclose(f, 19.5 * a**2 + 2 * a * b * dot + 19.5 * b**2, rtol=1e-9)


def test_linear_path():
    """θ_0 = p* + Δ, θ_1 = p*: g(t) = (1 − t)² ‖Δ‖²; Δ = 1 everywhere, ‖Δ‖² = 9."""
    params, loss_fn = _toy()
    theta1 = [p.detach().clone() for p in params]
    theta0 = [t + 1.0 for t in theta1]
    ts = np.linspace(0, 1, 5)
    np.testing.assert_allclose(linear_path(params, theta0, theta1, loss_fn, ts), 9 * (1 - ts) ** 2)
    assert all(torch.equal(p, q) for p, q in zip(params, theta1))


def test_trainable_parameters_and_npz(tmp_path):
    m = torch.nn.Linear(2, 2)
    m.bias.requires_grad_(False)
    assert [n for n, _ in trainable_parameters(m)] == ["weight"]
    path = tmp_path / "out" / "landscape_1d.npz"
    save_landscape(path, meta={"method": "lora", "seed": 3}, alphas=np.arange(3.0), losses=np.ones(3))
    back = load_landscape(path)
    assert back["meta"] == {"method": "lora", "seed": 3}
    np.testing.assert_array_equal(back["alphas"], [0.0, 1.0, 2.0])
    assert sorted(back) == ["alphas", "losses", "meta"]


def test_low_precision_params_keep_their_dtype():
    p = torch.nn.Parameter(torch.randn(4, 3).to(torch.bfloat16))
    d = random_direction([p], torch.Generator().manual_seed(0))[0]
    assert d.dtype == torch.bfloat16
    assert torch.allclose(d.float().norm(dim=1), p.detach().float().norm(dim=1), rtol=2e-2)
