"""ferrograd.nn.functional: the namespace, and the helpers not covered through layers
(normalize, distances, pixel shuffle, embedding, dropout flags, softmax dtype)."""

from __future__ import annotations

import numpy as np
import pytest

import ferrograd as fg
import ferrograd.nn.functional as F
from ferrograd.autograd import gradcheck

RNG = np.random.default_rng(5)


def arr(t):
    return np.asarray(t.detach())


def t(x, grad=False):
    return fg.tensor(x, requires_grad=grad)


def test_namespace_reexports_the_image_ops():
    for name in ("conv1d", "conv2d", "conv3d", "conv_transpose2d", "max_pool2d", "avg_pool1d",
                 "adaptive_avg_pool2d", "adaptive_max_pool1d", "pad", "interpolate"):
        assert getattr(F, name) is getattr(fg, name)
    for name in F.__all__:
        assert callable(getattr(F, name)), name


def test_namespace_covers_pytorch_names():
    torch = pytest.importorskip("torch")
    for name in F.__all__:
        assert hasattr(torch.nn.functional, name), name


def test_linear_with_and_without_bias():
    x, w, b = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 3)), RNG.standard_normal(4)
    np.testing.assert_allclose(arr(F.linear(t(x), t(w), t(b))), x @ w.T + b, rtol=1e-12)
    np.testing.assert_allclose(arr(F.linear(t(x), t(w))), x @ w.T, rtol=1e-12)
    xt, wt, bt = t(x, True), t(w, True), t(b, True)
    assert gradcheck(F.linear, (xt, wt, bt))


def test_normalize_cosine_similarity_pairwise_distance():
    x, y = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    np.testing.assert_allclose(arr(F.normalize(t(x))), x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
    l1 = np.abs(x).sum(0, keepdims=True)
    np.testing.assert_allclose(arr(F.normalize(t(x), p=1, dim=0)), x / l1, rtol=1e-12)
    np.testing.assert_array_equal(arr(F.normalize(t(np.zeros((2, 3))))), np.zeros((2, 3)))
    cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(arr(F.cosine_similarity(t(x), t(y))), cos, rtol=1e-12)
    np.testing.assert_allclose(arr(F.pairwise_distance(t(x), t(y))), np.linalg.norm(x - y + 1e-6, axis=-1),
                               rtol=1e-12)
    xt, yt = t(x[:2], True), t(y[:2], True)
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b), (xt, yt))
    assert gradcheck(lambda a: F.normalize(a, dim=-1), (xt,))


def test_pixel_shuffle_round_trip_and_layout():
    x = RNG.standard_normal((2, 12, 3, 4))
    out = arr(F.pixel_shuffle(t(x), 2))
    assert out.shape == (2, 3, 6, 8)
    # out[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]
    np.testing.assert_array_equal(out[1, 2, 3, 5], x[1, 2 * 4 + 1 * 2 + 1, 1, 2])
    np.testing.assert_array_equal(arr(F.pixel_unshuffle(F.pixel_shuffle(t(x), 2), 2)), x)
    with pytest.raises(RuntimeError):
        F.pixel_shuffle(t(x), 3)


def test_embedding_and_one_hot():
    w = RNG.standard_normal((5, 2))
    idx = np.array([[4, 0], [1, 1]])
    np.testing.assert_array_equal(arr(F.embedding(t(idx), t(w))), w[idx])
    oh = F.one_hot(t(np.array([0, 3, 1])), 4)
    assert oh.dtype == fg.int64
    np.testing.assert_array_equal(arr(oh), np.eye(4, dtype=np.int64)[[0, 3, 1]])


def test_dropout_training_flag_and_inplace():
    x = fg.ones(10, 10)
    assert F.dropout(x, 0.5, training=False) is x
    fg.manual_seed(4)
    y = fg.ones(100)
    out = F.dropout(y, 0.5, inplace=True)
    assert out is y and set(np.unique(arr(y))) <= {0.0, 2.0}
    with pytest.raises(ValueError):
        F.dropout(x, -0.1)


def test_softmax_family_dtype_and_stability():
    x = np.array([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]], dtype=np.float32)
    e = np.exp(x.astype(np.float64) - x.max(1, keepdims=True))
    ref = e / e.sum(1, keepdims=True)
    out = F.softmax(t(x), dim=1, dtype=fg.float64)
    assert out.dtype == fg.float64
    np.testing.assert_allclose(arr(out), ref, rtol=1e-12)
    np.testing.assert_allclose(arr(F.log_softmax(t(x), dim=1)), np.log(ref), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arr(F.softmin(t(x), dim=0)).sum(0), 1.0, rtol=1e-6)
    np.testing.assert_allclose(arr(F.softplus(t(x))), np.logaddexp(0, x.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(arr(F.logsigmoid(t(x))), -np.logaddexp(0, -x.astype(np.float64)), rtol=1e-6,
                               atol=1e-6)


def test_glu_and_activation_argument_errors():
    with pytest.raises(RuntimeError, match="even"):
        F.glu(fg.zeros(3))
    with pytest.raises(ValueError):
        F.gelu(fg.zeros(2), approximate="fast")
    with pytest.raises(ValueError):
        F.hardtanh(fg.zeros(2), 1.0, -1.0)


def test_group_and_layer_norm_errors():
    with pytest.raises(RuntimeError, match="divisible"):
        F.group_norm(fg.zeros(2, 3, 4), 2)
    with pytest.raises(RuntimeError):
        F.rms_norm(fg.zeros(2, 3), (4,))
