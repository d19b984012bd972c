#!/usr/bin/env python3
"""The GPU report's cases in PyTorch eager f32 (TF32 off), for ratios against ours on the same machine.

Reads {"cases": [...], "reps": n} as JSON on stdin and prints one JSON object on stdout:
  {"available": false, "reason": "..."}                      when torch or a CUDA device is missing, or
  {"available": true, "torch": ver, "cuda": ver, "device": name, "vit_impl": "timm x.y" | "plain nn",
   "cases": [{"id": ..., "ms": median ms} | {"id": ..., "error": "..."}]}
Each case: one warm-up run, then the median of `reps` runs timed with CUDA events.
Case kinds: matmul {batch, M, K, N, transposeB}, attention {B, H, N, D, backward, dtype f32|f16} (scaled_dot_product_attention; composed before torch 2.0),
vit {batch, size, backward, patch, embed_dim, depth, num_heads, mlp_ratio} (timm's VisionTransformer when
importable, else a plain nn ViT of the same shapes).
"""
import json
import math
import statistics
import sys

DEVICE = "cuda"


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def time_ms(torch, fn, reps):
    fn()  # warm-up (and cuDNN / cuBLAS heuristics)
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def attention_fn(torch):
    """scaled_dot_product_attention (torch >= 2.0), else the composed softmax(q·kᵀ/√d)·v of older versions."""
    F = torch.nn.functional
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if sdpa is not None:
        return sdpa
    return lambda q, k, v: torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1) @ v


def plain_vit(torch, c):
    nn = torch.nn
    F = torch.nn.functional
    D, heads = c["embed_dim"], c["num_heads"]
    attend = attention_fn(torch)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(D, eps=1e-6)
            self.qkv = nn.Linear(D, 3 * D)
            self.proj = nn.Linear(D, D)
            self.norm2 = nn.LayerNorm(D, eps=1e-6)
            hidden = int(D * c["mlp_ratio"])
            self.fc1 = nn.Linear(D, hidden)
            self.fc2 = nn.Linear(hidden, D)

        def forward(self, x):
            B, T, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).reshape(B, T, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
            a = attend(q, k, v).transpose(1, 2).reshape(B, T, D)
            x = x + self.proj(a)
            return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            p = c["patch"]
            n = (c["size"] // p) ** 2
            self.patch = nn.Conv2d(3, D, p, p)
            self.cls = nn.Parameter(torch.zeros(1, 1, D))
            self.pos = nn.Parameter(torch.zeros(1, n + 1, D))
            self.blocks = nn.ModuleList([Block() for _ in range(c["depth"])])
            self.norm = nn.LayerNorm(D, eps=1e-6)

        def forward_features(self, x):
            x = self.patch(x).flatten(2).transpose(1, 2)
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
            for b in self.blocks:
                x = b(x)
            return self.norm(x)

    return ViT()


def make_vit(torch, c):
    try:
        import timm
        from timm.models.vision_transformer import VisionTransformer

        m = VisionTransformer(img_size=c["size"], patch_size=c["patch"], embed_dim=c["embed_dim"], depth=c["depth"],
                              num_heads=c["num_heads"], mlp_ratio=c["mlp_ratio"], num_classes=0)
        return m, "timm " + timm.__version__
    except ImportError:
        return plain_vit(torch, c), "plain nn"


def run_case(torch, c, reps, impl):
    dev = DEVICE
    kind = c["kind"]
    if kind == "matmul":
        lead = [c["batch"]] if c["batch"] > 1 else []
        a = torch.randn(*lead, c["M"], c["K"], device=dev)
        b = torch.randn(*lead, c["N"], c["K"], device=dev) if c["transposeB"] else torch.randn(*lead, c["K"], c["N"], device=dev)
        fn = (lambda: torch.matmul(a, b.transpose(-1, -2))) if c["transposeB"] else (lambda: torch.matmul(a, b))
        with torch.no_grad():
            return time_ms(torch, fn, reps)
    if kind == "attention":
        shape = (c["B"], c["H"], c["N"], c["D"])
        dtype = torch.float16 if c.get("dtype") == "f16" else torch.float32
        q, k, v = (torch.randn(*shape, device=dev, dtype=dtype, requires_grad=c["backward"]) for _ in range(3))
        g = torch.randn(*shape, device=dev, dtype=dtype)
        attend = attention_fn(torch)
        if not c["backward"]:
            with torch.no_grad():
                return time_ms(torch, lambda: attend(q, k, v), reps)

        def fwd_bwd():
            attend(q, k, v).backward(g)
            q.grad = k.grad = v.grad = None

        return time_ms(torch, fwd_bwd, reps)
    if kind == "vit":
        model, name = make_vit(torch, c)
        impl.add(name)
        model = model.to(dev)
        x = torch.randn(c["batch"], 3, c["size"], c["size"], device=dev)
        if not c["backward"]:
            model.eval()
            with torch.no_grad():
                return time_ms(torch, lambda: model.forward_features(x), reps)

        def fwd_bwd():
            model.forward_features(x).sum().backward()
            model.zero_grad(set_to_none=True)

        return time_ms(torch, fwd_bwd, reps)
    raise ValueError(f"unknown case kind {kind!r}")


def main():
    spec = json.load(sys.stdin)
    try:
        import torch
    except ImportError as e:
        return out({"available": False, "reason": f"python3 has no torch ({e})"})
    if not torch.cuda.is_available():
        return out({"available": False, "reason": f"torch {torch.__version__} sees no CUDA device"})
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    reps = int(spec.get("reps", 5))
    impl = set()
    results = []
    for c in spec["cases"]:
        try:
            results.append({"id": c["id"], "ms": run_case(torch, c, reps, impl)})
        except Exception as e:  # one failing case is reported, the others still run
            results.append({"id": c["id"], "error": f"{type(e).__name__}: {e}"})
        torch.cuda.empty_cache()
    out({
        "available": True,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "vit_impl": ", ".join(sorted(impl)) or None,
        "cases": results,
    })


if __name__ == "__main__":
    main()
