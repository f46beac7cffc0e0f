#!/usr/bin/env python3
"""The peer a user would run instead of scalecl on a GPU (or a CPU), timed as `scalecl bench attention|mlstm` time:
PyTorch in float32 with TF32 off (scalecl's kernels are float32), batch 1.

- attention: torch.nn.functional.scaled_dot_product_attention, causal, (1, NH, S, dh).
- decode: one decoding step as `bench attention` times it: the new k and v written at position L of a preallocated
  cache (1, NH, L + 1, dh), then the new query against the L + 1 keys through scaled_dot_product_attention; with
  --kv-cache f16 the cache, the query and the attention are float16, as a PyTorch user keeps a half cache (scalecl
  stores halves and computes in float32).
- mlstm: the chunkwise mLSTM of ../shared/spec/xlstm.md section 1.4 (the formulas of the official native chunkwise
  form, m0 = 0, eps 1e-6 after the max) written in plain torch ops, with autograd for the backward; forget gates
  around +3 as `bench mlstm` draws them.

Forward and forward+backward (decode: the step), one warm-up call, then the median of --samples calls, each between
two device synchronisations. One JSON object per line on stdout and in --out FILE (`"peer": "torch"`, the shape,
`fwd_ms`, `fwd_bwd_ms`, `tokens_per_s` of each; decode: `cache_len`, `kv_cache`, `step_ms`), a summary on stderr. --check compares the chunkwise mLSTM with the quadratic parallel form
in float64 at a small shape and exits (0: they agree).

    python3 platforms/peer-torch.py [--device cuda|cpu] [--seq N] [--heads N] [--head-dims LIST]
                                    [--mlstm-dims DQK:DV,...] [--chunk L] [--decode-lens LIST] [--kv-cache f32|f16]
                                    [--samples N] [--out FILE] [--check]
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

EPS = 1e-6


def mlstm_chunkwise(q, k, v, i, f, L):
    """h (B, NH, S, dv) of the chunkwise form; q, k (B, NH, S, dqk), v (B, NH, S, dv), i, f (B, NH, S); S % L == 0."""
    B, NH, S, dqk = q.shape
    dv = v.shape[-1]
    nc = S // L
    scale = dqk ** -0.5
    qc, kc, vc = (x.reshape(B, NH, nc, L, x.shape[-1]) for x in (q, k, v))
    ic = i.reshape(B, NH, nc, L)
    b = torch.cumsum(F.logsigmoid(f).reshape(B, NH, nc, L), dim=-1)  # inclusive log decay within the chunk
    g = b[..., -1]  # (B, NH, nc)
    a = g.unsqueeze(-1) - b + ic  # log weight of step tau at the chunk's end
    # Inter-chunk recurrence: the states before each chunk.
    C = q.new_zeros(B, NH, dqk, dv)
    n = q.new_zeros(B, NH, dqk)
    m = q.new_zeros(B, NH)
    Cs, ns, ms = [], [], []
    for c in range(nc):
        Cs.append(C), ns.append(n), ms.append(m)
        m_next = torch.maximum(g[..., c] + m, a[..., c, :].max(dim=-1).values)
        w = torch.exp(a[..., c, :] - m_next.unsqueeze(-1))  # (B, NH, L)
        decay = torch.exp(g[..., c] + m - m_next)
        C = decay[..., None, None] * C + torch.einsum("bhl,bhld,bhle->bhde", w, kc[:, :, c], vc[:, :, c])
        n = decay[..., None] * n + torch.einsum("bhl,bhld->bhd", w, kc[:, :, c])
        m = m_next
    Ck, nk, mk = torch.stack(Cs, 2), torch.stack(ns, 2), torch.stack(ms, 2)  # (B, NH, nc, ...)
    # Intra-chunk outputs.
    causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    logD = b.unsqueeze(-1) - b.unsqueeze(-2) + ic.unsqueeze(-2)
    logD = logD.masked_fill(~causal, float("-inf"))
    mc = torch.maximum(b + mk.unsqueeze(-1), logD.max(dim=-1).values)  # (B, NH, nc, L)
    Dp = torch.exp(logD - mc.unsqueeze(-1))
    M = torch.einsum("bhcld,bhcsd->bhcls", qc, kc) * scale * Dp
    qbar = qc * (torch.exp(b + mk.unsqueeze(-1) - mc) * scale).unsqueeze(-1)
    num = torch.einsum("bhcld,bhcde->bhcle", qbar, Ck) + M @ vc
    den = torch.einsum("bhcld,bhcd->bhcl", qbar, nk) + M.sum(-1)
    h = num / (torch.maximum(den.abs(), torch.exp(-mc)) + EPS).unsqueeze(-1)
    return h.reshape(B, NH, S, dv)


def mlstm_parallel(q, k, v, i, f):
    """The quadratic parallel form with m0 = 0 (the row max taken with F_t, as the recurrent form's), for --check."""
    S, dqk = q.shape[-2], q.shape[-1]
    Fc = torch.cumsum(F.logsigmoid(f), dim=-1)
    logD = Fc.unsqueeze(-1) - Fc.unsqueeze(-2) + i.unsqueeze(-2)
    causal = torch.ones(S, S, dtype=torch.bool, device=q.device).tril()
    logD = logD.masked_fill(~causal, float("-inf"))
    m = torch.maximum(logD.max(dim=-1).values, Fc)
    Ct = (q @ k.transpose(-1, -2)) * dqk ** -0.5 * torch.exp(logD - m.unsqueeze(-1))
    n = torch.maximum(Ct.sum(-1).abs(), torch.exp(-m))
    return (Ct @ v) / (n + EPS).unsqueeze(-1)


def check():
    g = torch.Generator().manual_seed(0)
    B, NH, S, dqk, dv, L = 1, 2, 96, 16, 24, 32
    q, k = (torch.randn(B, NH, S, dqk, generator=g, dtype=torch.float64) for _ in range(2))
    v = torch.randn(B, NH, S, dv, generator=g, dtype=torch.float64)
    i = torch.randn(B, NH, S, generator=g, dtype=torch.float64)
    f = 3 + torch.randn(B, NH, S, generator=g, dtype=torch.float64)
    got, want = mlstm_chunkwise(q, k, v, i, f, L), mlstm_parallel(q, k, v, i, f)
    err = ((got - want).abs().max() / want.abs().max()).item()
    print("peer-torch --check: chunkwise vs parallel mLSTM, float64, max error / max |h| = %.2e" % err, file=sys.stderr)
    return 0 if err < 1e-9 else 1


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev, samples):
    fn()
    sync(dev)
    ts = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def both_passes(run, inputs, dout, dev, samples):
    """Median seconds of the forward (no autograd) and of forward+backward."""

    def fwd():
        with torch.no_grad():
            run(*inputs)

    def fwd_bwd():
        for x in inputs:
            x.grad = None
        run(*inputs).backward(dout)

    return timed(fwd, dev, samples), timed(fwd_bwd, dev, samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seq", type=int, default=8192, help="sequence length; 0: decode steps only")
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--head-dims", default="64,128,256")
    ap.add_argument("--mlstm-dims", default="64:64,128:128,256:256")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--decode-lens", default="", help="cache lengths of decode steps at --head-dims (default none)")
    ap.add_argument("--kv-cache", choices=("f32", "f16"), default="f32")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--out", help="also write the JSON lines to this file")
    ap.add_argument("--check", action="store_true")
    o = ap.parse_args()
    if o.check:
        return check()
    out = open(o.out, "w") if o.out else None

    def emit(row):
        line = json.dumps(row)
        print(line, flush=True)
        if out:
            print(line, file=out, flush=True)

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(o.device)
    g = torch.Generator(device=dev).manual_seed(0)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu (%d threads)" % torch.get_num_threads()
    base = {"peer": "torch", "torch": torch.__version__, "device": name, "dtype": "float32", "batch": 1,
            "heads": o.heads, "seq_len": o.seq}

    def rand(*shape, lo=-1.0, hi=1.0):
        x = torch.rand(*shape, generator=g, device=dev) * (hi - lo) + lo
        return x.requires_grad_()

    for dh in (int(x) for x in o.head_dims.split(",") if x and o.seq > 0):
        shape = (1, o.heads, o.seq, dh)
        qkv = [rand(*shape) for _ in range(3)]
        tf, tb = both_passes(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), qkv,
                             torch.rand(*shape, generator=g, device=dev), dev, o.samples)
        row = dict(base, op="attention", head_dim=dh, fwd_ms=tf * 1e3, fwd_bwd_ms=tb * 1e3,
                   fwd_tokens_per_s=o.heads * o.seq / tf, fwd_bwd_tokens_per_s=o.heads * o.seq / tb)
        emit(row)
        print("torch sdpa causal dh%d: fwd %.3f ms, fwd+bwd %.3f ms" % (dh, tf * 1e3, tb * 1e3), file=sys.stderr)
        del qkv
    half = o.kv_cache == "f16"
    for dh in (int(x) for x in o.head_dims.split(",") if o.decode_lens and x):
        for L in (int(x) for x in o.decode_lens.split(",") if x):
            dt = torch.float16 if half else torch.float32
            kc, vc = (torch.rand(1, o.heads, L + 1, dh, generator=g, device=dev).to(dt) for _ in range(2))
            q, k, v = (torch.rand(1, o.heads, 1, dh, generator=g, device=dev).to(dt) for _ in range(3))

            def step():
                with torch.no_grad():
                    kc[:, :, L:] = k
                    vc[:, :, L:] = v
                    F.scaled_dot_product_attention(q, kc, vc)

            t = timed(step, dev, o.samples)
            emit(dict(base, op="decode", dtype="float16" if half else "float32", head_dim=dh, cache_len=L,
                      kv_cache=o.kv_cache, step_ms=t * 1e3, tokens_per_s=1 / t))
            print("torch sdpa decode dh%d cache %d %s: step %.3f ms" % (dh, L, o.kv_cache, t * 1e3), file=sys.stderr)
            del kc, vc
    for pair in (x for x in o.mlstm_dims.split(",") if x and o.seq > 0):
        dqk, dv = (int(x) for x in pair.split(":"))
        S = math.ceil(o.seq / o.chunk) * o.chunk
        ins = [rand(1, o.heads, S, dqk), rand(1, o.heads, S, dqk), rand(1, o.heads, S, dv), rand(1, o.heads, S),
               rand(1, o.heads, S, lo=2.0, hi=4.0)]
        tf, tb = both_passes(lambda q, k, v, i, f: mlstm_chunkwise(q, k, v, i, f, o.chunk), ins,
                             torch.rand(1, o.heads, S, dv, generator=g, device=dev), dev, o.samples)
        row = dict(base, op="mlstm", dqk=dqk, dv=dv, chunk=o.chunk, fwd_ms=tf * 1e3, fwd_bwd_ms=tb * 1e3,
                   fwd_tokens_per_s=o.heads * S / tf, fwd_bwd_tokens_per_s=o.heads * S / tb)
        emit(row)
        print("torch chunkwise mlstm %d:%d L%d: fwd %.3f ms, fwd+bwd %.3f ms" % (dqk, dv, o.chunk, tf * 1e3,
                                                                                 tb * 1e3), file=sys.stderr)
        del ins
    return 0


if __name__ == "__main__":
    sys.exit(main())
