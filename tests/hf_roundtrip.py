"""Hugging Face round trip of both architectures, through transformers itself (not our reading of its format).

scalecl init -> AutoModelForCausalLM.from_pretrained: the same logits and loss as scalecl eval --dump (T = 100,
not a multiple of the xLSTM chunk size) and the same gradient of every parameter as --dump-grads; HF
save_pretrained of a perturbed model -> scalecl eval: the same logits and loss. Needs torch and transformers: run by a python that has them
($SCALECL_PEERS_PYTHON, else ~/.cache/scalecl-peers-venv from ../shared/peers/setup-torch.sh), else skipped (77).
Usage: hf_roundtrip.py SCALECL WORKDIR PRESET..."""
import os
import subprocess
import sys


def peers_python():
    if os.environ.get("SCALECL_HF_REEXEC"):  # already the peers' python: it lacks them too
        return None
    os.environ["SCALECL_HF_REEXEC"] = "1"
    for py in (os.environ.get("SCALECL_PEERS_PYTHON"), os.path.expanduser("~/.cache/scalecl-peers-venv/bin/python")):
        if py and os.access(py, os.X_OK):
            return py
    return None


try:
    import numpy as np
    import torch
    from safetensors.numpy import load_file, save_file
    from transformers import AutoModelForCausalLM
except ImportError as e:
    py = peers_python()
    if py:
        os.execv(py, [py] + sys.argv)
    print(f"hf_roundtrip: skipped: {e} (set SCALECL_PEERS_PYTHON to a python with torch and transformers)")
    sys.exit(77)

B, T = 2, 100
TOL = 1e-4  # relative to the largest |value| of the compared tensor (float32 on both sides)


def run(sc, *args):
    r = subprocess.run([sc, *args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"hf_roundtrip: scalecl {' '.join(args)} exited {r.returncode}:\n{r.stderr}")


def rel_err(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def hf_pass(m, ids, grads):
    m.zero_grad(set_to_none=True)
    x = torch.tensor(ids)
    with torch.set_grad_enabled(grads):
        o = m(input_ids=x, labels=x)
        if grads:
            o.loss.backward()
    return o.logits.detach().float().numpy(), o.loss.item()


def from_scalecl_rows(key, g, cfg):
    """scalecl keeps Llama q/k rows in adjacent-pair RoPE order (the dump's metadata says so); HF rotate-half."""
    if cfg.model_type != "llama" or not key.endswith(("q_proj.weight", "k_proj.weight")):
        return g
    dh = cfg.hidden_size // cfg.num_attention_heads
    h = g.reshape(-1, dh // 2, 2, g.shape[1])
    return np.concatenate([h[:, :, 0], h[:, :, 1]], axis=1).reshape(g.shape)


def check(preset, sc, work):
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    worst = 0.0

    def report(what, err):
        nonlocal worst
        worst = max(worst, err)
        print(f"{preset}: {what}: max relative error {err:.2e}")

    def sc_eval(ck, ids, grads):
        save_file({"input_ids": ids}, f"{work}/ids.safetensors")
        extra = ["--dump-grads", f"{work}/grads.safetensors"] if grads else []
        run(sc, "eval", "--checkpoint", ck, "--tokens", f"{work}/ids.safetensors", "--dump", f"{work}/out.safetensors",
            "--no-doc-reset", *extra)
        d = load_file(f"{work}/out.safetensors")
        return d["logits"], float(d["loss"].reshape(-1)[0])

    def compare(what, ck, m, ids):
        logits, loss = sc_eval(ck, ids, False)
        hl, hloss = hf_pass(m, ids, False)
        report(f"{what} logits, T {ids.shape[1]}", rel_err(logits, hl))
        report(f"{what} loss", abs(loss - hloss) / hloss)

    ids = rng.integers(0, 256, (B, T)).astype(np.int64)
    run(sc, "init", "--model", preset, "--seed", "7", "--out", f"{work}/sc")
    compare("scalecl init -> HF", f"{work}/sc", AutoModelForCausalLM.from_pretrained(f"{work}/sc", dtype=torch.float32),
            ids)

    # HF's xLSTM has a backward only in mode "train", whose chunkwise kernel takes whole chunks
    Tg = 128
    gids = rng.integers(0, 256, (B, Tg)).astype(np.int64)
    kw = {"mode": "train", "use_cache": False} if "xlstm" in preset else {}
    m = AutoModelForCausalLM.from_pretrained(f"{work}/sc", dtype=torch.float32, **kw)
    sc_eval(f"{work}/sc", gids, True)
    hf_pass(m, gids, True)
    g = load_file(f"{work}/grads.safetensors")
    named = dict(m.named_parameters())
    differ = sorted(set(named) ^ set(g))
    if differ:
        sys.exit(f"hf_roundtrip: {preset}: gradient keys differ from HF's parameters: {differ[:5]}")
    # a gradient that cancels to almost nothing (the input-gate bias at its -10 init: 4e-5 where others reach 0.1)
    # keeps float32's absolute error: scale each tensor's error by at least 1% of the largest gradient
    floor = 0.01 * max(float(p.grad.abs().max()) for p in named.values())
    err, key = max((float(np.abs(from_scalecl_rows(k, g[k], m.config) - named[k].grad.numpy()).max()) /
                    max(float(named[k].grad.abs().max()), floor), k) for k in g)
    report(f"gradients of {len(g)} parameters, T {Tg} (worst: {key})", err)

    m = AutoModelForCausalLM.from_pretrained(f"{work}/sc", dtype=torch.float32)
    torch.manual_seed(3)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    m.save_pretrained(f"{work}/hf")
    compare("HF save_pretrained (perturbed) -> scalecl", f"{work}/hf", m, ids)
    return worst


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    worst = max(check(p, sys.argv[1], os.path.join(sys.argv[2], p)) for p in sys.argv[3:])
    print(f"hf_roundtrip: worst relative error {worst:.2e} (tolerance {TOL:.0e})")
    sys.exit(0 if worst <= TOL else 1)
