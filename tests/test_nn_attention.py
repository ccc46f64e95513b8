"""Attention: F.scaled_dot_product_attention, nn.MultiheadAttention and the transformer
blocks, against numpy references and torch where installed; gradients included."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ferrograd as fg
import ferrograd.nn.functional as F
from ferrograd import nn
from ferrograd.autograd import gradcheck

RNG = np.random.default_rng(99)


def arr(t):
    return np.asarray(t.detach())


def randn(*shape):
    return RNG.standard_normal(shape)


def t(x, grad=False):
    return fg.tensor(x, requires_grad=grad)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_sdpa(q, k, v, allowed=None, additive=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    if additive is not None:
        s = s + additive
    return np_softmax(s) @ v


# ---- scaled_dot_product_attention ------------------------------------------------------------


def test_sdpa_plain_masks_causal_and_scale():
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 6, 8), randn(2, 3, 6, 5)
    np.testing.assert_allclose(arr(F.scaled_dot_product_attention(t(q), t(k), t(v))), np_sdpa(q, k, v), rtol=1e-12)
    allowed = RNG.random((4, 6)) > 0.4
    allowed[:, 0] = True
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(allowed))
    np.testing.assert_allclose(arr(out), np_sdpa(q, k, v, allowed=allowed), rtol=1e-12)
    bias = randn(2, 1, 4, 6)
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(bias), scale=0.3)
    np.testing.assert_allclose(arr(out), np_sdpa(q, k, v, additive=bias, scale=0.3), rtol=1e-12)
    causal = np.tril(np.ones((4, 6), bool))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=True)
    np.testing.assert_allclose(arr(out), np_sdpa(q, k, v, allowed=causal), rtol=1e-12)
    with pytest.raises(ValueError):
        F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(allowed), is_causal=True)


def test_sdpa_grouped_query_and_dropout():
    q, k, v = randn(1, 4, 3, 2), randn(1, 2, 5, 2), randn(1, 2, 5, 2)
    out = F.scaled_dot_product_attention(t(q), t(k), t(v), enable_gqa=True)
    ref = np_sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(arr(out), ref, rtol=1e-12)
    # dropout_p=1 drops every weight.
    assert not arr(F.scaled_dot_product_attention(t(q), t(q), t(q), dropout_p=1.0)).any()


def test_sdpa_gradcheck():
    q, k, v = (t(randn(1, 2, 3, 2), grad=True) for _ in range(3))
    mask = t(np.array([[True, False, True], [True, True, False], [True, True, True]]))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), (q, k, v))
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v))


def test_sdpa_against_torch():
    torch = pytest.importorskip("torch")
    q, k, v = randn(2, 2, 5, 4), randn(2, 2, 7, 4), randn(2, 2, 7, 3)
    mask = RNG.random((2, 1, 5, 7)) > 0.3
    mask[..., 0] = True
    ours = F.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask), scale=0.7)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v), attn_mask=torch.from_numpy(mask), scale=0.7)
    np.testing.assert_allclose(arr(ours), theirs.numpy(), rtol=1e-12)


# ---- MultiheadAttention ----------------------------------------------------------------------


def np_mha(mha, q, k, v, key_padding=None, attn_mask=None):
    """Reference multi-head attention on batch-first numpy inputs, with the module's
    weights; returns the output and the per-head weights (N, H, L, S)."""
    e, h = mha.embed_dim, mha.num_heads
    hd = e // h
    w = arr(mha.in_proj_weight)
    b = arr(mha.in_proj_bias)
    qp, kp, vp = q @ w[:e].T + b[:e], k @ w[e:2 * e].T + b[e:2 * e], v @ w[2 * e:].T + b[2 * e:]

    def heads(x):
        n, length, _ = x.shape
        return x.reshape(n, length, h, hd).transpose(0, 2, 1, 3)

    s = heads(qp) @ heads(kp).transpose(0, 1, 3, 2) / math.sqrt(hd)
    if attn_mask is not None:
        s = np.where(attn_mask, -np.inf, s) if attn_mask.dtype == bool else s + attn_mask
    if key_padding is not None:
        s = np.where(key_padding[:, None, None, :], -np.inf, s)
    weights = np_softmax(s)
    out = (weights @ heads(vp)).transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], e)
    out = out @ arr(mha.out_proj.weight).T + arr(mha.out_proj.bias)
    return out, weights


def _randomise(module):
    with fg.no_grad():
        for p in module.parameters():
            p.copy_(t(randn(*p.shape) * 0.5))


def test_multihead_attention_against_numpy():
    mha = nn.MultiheadAttention(8, 2, batch_first=True, dtype=fg.float64)
    _randomise(mha)
    q, k, v = randn(2, 3, 8), randn(2, 5, 8), randn(2, 5, 8)
    pad = np.array([[False, False, False, True, True], [False, False, False, False, False]])
    mask = np.triu(np.ones((3, 5), bool), k=2)
    out, weights = mha(t(q), t(k), t(v), key_padding_mask=t(pad), attn_mask=t(mask))
    ref_out, ref_w = np_mha(mha, q, k, v, key_padding=pad, attn_mask=mask)
    np.testing.assert_allclose(arr(out), ref_out, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(arr(weights), ref_w.mean(1), rtol=1e-11, atol=1e-12)
    _, per_head = mha(t(q), t(k), t(v), key_padding_mask=t(pad), attn_mask=t(mask), average_attn_weights=False)
    np.testing.assert_allclose(arr(per_head), ref_w, rtol=1e-11, atol=1e-12)
    # need_weights=False takes the SDPA path: same output, no weights.
    fast, none = mha(t(q), t(k), t(v), key_padding_mask=t(pad), attn_mask=t(mask), need_weights=False)
    assert none is None
    np.testing.assert_allclose(arr(fast), ref_out, rtol=1e-11, atol=1e-12)
    # A float mask is added.
    fmask = randn(3, 5)
    out, _ = mha(t(q), t(k), t(v), attn_mask=t(fmask))
    np.testing.assert_allclose(arr(out), np_mha(mha, q, k, v, attn_mask=fmask)[0], rtol=1e-11, atol=1e-12)


def test_multihead_attention_layouts():
    mha = nn.MultiheadAttention(4, 2, dtype=fg.float64)  # sequence first
    _randomise(mha)
    x = randn(2, 3, 4)  # (N, L, E)
    ref, _ = np_mha(mha, x, x, x)
    seq_first = t(x.transpose(1, 0, 2))
    out, weights = mha(seq_first, seq_first, seq_first)
    assert out.shape == (3, 2, 4) and weights.shape == (2, 3, 3)
    np.testing.assert_allclose(arr(out).transpose(1, 0, 2), ref, rtol=1e-11, atol=1e-12)
    single, w1 = mha(t(x[0]), t(x[0]), t(x[0]))  # unbatched (L, E)
    assert single.shape == (3, 4) and w1.shape == (3, 3)
    np.testing.assert_allclose(arr(single), ref[0], rtol=1e-11, atol=1e-12)
    causal = nn.Transformer.generate_square_subsequent_mask(3, dtype=fg.float64)
    np.testing.assert_array_equal(arr(causal), np.triu(np.full((3, 3), -np.inf), 1))
    hinted, _ = mha(seq_first, seq_first, seq_first, attn_mask=causal, is_causal=True, need_weights=False)
    masked, _ = mha(seq_first, seq_first, seq_first, attn_mask=causal)
    np.testing.assert_allclose(arr(hinted), arr(masked), rtol=1e-12, atol=1e-13)
    with pytest.raises(RuntimeError, match="is_causal"):
        mha(seq_first, seq_first, seq_first, is_causal=True)
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(6, 4)


def test_multihead_attention_gradcheck():
    mha = nn.MultiheadAttention(4, 2, batch_first=True, dtype=fg.float64)
    _randomise(mha)
    x = t(randn(1, 3, 4), grad=True)
    pad = t(np.array([[False, False, True]]))

    def run(x, w, wo):
        mha.in_proj_weight, mha.out_proj.weight = w, wo
        return mha(x, x, x, key_padding_mask=pad)[0]

    assert gradcheck(run, (x, mha.in_proj_weight, mha.out_proj.weight))
    out, _ = mha(x, x, x)
    out.sum().backward()
    assert all(p.grad is not None for p in mha.parameters())


def _copy_to_torch(ours, theirs):
    import torch

    theirs.load_state_dict({k: torch.from_numpy(arr(v).copy()) for k, v in ours.state_dict().items()})


def test_multihead_attention_variants_against_torch():
    torch = pytest.importorskip("torch")
    configs = [
        {"kdim": 3, "vdim": 5},
        {"add_bias_kv": True},
        {"add_zero_attn": True, "bias": False},
    ]
    for kwargs in configs:
        ours = nn.MultiheadAttention(6, 3, batch_first=True, dtype=fg.float64, **kwargs)
        theirs = torch.nn.MultiheadAttention(6, 3, batch_first=True, dtype=torch.float64, **kwargs)
        _randomise(ours)
        _copy_to_torch(ours, theirs)
        q = randn(2, 4, 6)
        k, v = randn(2, 5, kwargs.get("kdim", 6)), randn(2, 5, kwargs.get("vdim", 6))
        pad = RNG.random((2, 5)) > 0.7
        pad[:, 0] = False
        mask3 = RNG.random((6, 4, 5)) > 0.8  # (N * H, L, S)
        mask3[..., 0] = False
        a_out, a_w = ours(t(q), t(k), t(v), key_padding_mask=t(pad), attn_mask=t(mask3))
        b_out, b_w = theirs(*(torch.from_numpy(z) for z in (q, k, v)), key_padding_mask=torch.from_numpy(pad),
                            attn_mask=torch.from_numpy(mask3))
        np.testing.assert_allclose(arr(a_out), b_out.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(arr(a_w), b_w.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


# ---- transformer blocks ----------------------------------------------------------------------


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer_against_torch(norm_first, activation):
    torch = pytest.importorskip("torch")
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, batch_first=True,
                                      norm_first=norm_first, dtype=fg.float64)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=activation, batch_first=True,
                                              norm_first=norm_first, dtype=torch.float64)
    _randomise(ours)
    _copy_to_torch(ours, theirs)
    x = randn(2, 5, 8)
    pad = np.array([[False] * 5, [False, False, False, True, True]])
    xt, xr = t(x, grad=True), torch.tensor(x, requires_grad=True)
    a = ours(xt, src_key_padding_mask=t(pad))
    b = theirs(xr, src_key_padding_mask=torch.from_numpy(pad))
    np.testing.assert_allclose(arr(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = randn(2, 5, 8)
    a.backward(t(g))
    b.backward(torch.from_numpy(g))
    np.testing.assert_allclose(arr(xt.grad), xr.grad.numpy(), rtol=1e-9, atol=1e-11)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(arr(p.grad), grads[name].grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_against_torch():
    torch = pytest.importorskip("torch")
    kwargs = {"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 1, "dim_feedforward": 12,
              "dropout": 0.0}
    ours = nn.Transformer(**kwargs, dtype=fg.float64)
    theirs = torch.nn.Transformer(**kwargs, dtype=torch.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _copy_to_torch(ours, theirs)
    src, tgt = randn(6, 2, 8), randn(4, 2, 8)  # sequence first
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=fg.float64)
    a = ours(t(src), t(tgt), tgt_mask=mask)
    b = theirs(torch.from_numpy(src), torch.from_numpy(tgt), tgt_mask=torch.from_numpy(arr(mask).copy()))
    np.testing.assert_allclose(arr(a), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_encoder_stack_copies_layers_and_eval_disables_dropout():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 3
    w0, w1 = enc.layers[0].linear1.weight, enc.layers[1].linear1.weight
    assert w0 is not w1 and not w0.shares_memory_with(w1)
    np.testing.assert_array_equal(arr(w0), arr(w1))
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters())) + 2
    x = t(randn(2, 4, 8).astype(np.float32))
    enc.eval()
    np.testing.assert_array_equal(arr(enc(x)), arr(enc(x)))
    enc.train()
    fg.manual_seed(0)
    assert not np.array_equal(arr(enc(x)), arr(enc(x)))


def test_small_transformer_learns_to_copy_the_first_token():
    fg.manual_seed(0)
    vocab, d, length = 5, 16, 4

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(fg.randn(length, d) * 0.1)
            self.encoder = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0, batch_first=True), 1)
            self.head = nn.Linear(d, vocab)

        def forward(self, tokens):
            h = self.encoder(self.embed(tokens) + self.pos)
            return self.head(h[:, -1])

    model = Model()
    tokens = RNG.integers(0, vocab, (64, length))
    xs, ys = t(tokens), t(tokens[:, 0])
    losses = []
    for _ in range(60):
        model.zero_grad()
        loss = F.cross_entropy(model(xs), ys)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        with fg.no_grad():
            for p in model.parameters():
                p.sub_(p.grad * 0.3)
        losses.append(float(loss.item()))
    # (The same loop in PyTorch with copied weights follows the same losses.)
    assert losses[-1] < 0.1 * losses[0]
