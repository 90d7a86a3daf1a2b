#!/usr/bin/env python3
"""A small PyTorch ("peer") implementation of the GFLA and PoNA generators, written from
/work/shared/spec/gfla.md and pona.md, to time PyTorch eager against `marionette bench` with the
same weights.

  check  runs every parity fixture (GFLA: gfla_*.json except the ops one; PoNA: *.json) and
         prints the max abs diff of the outputs against the stored reference.
  bench  builds the official-shape model of a preset with seeded random weights, optionally
         saves them as safetensors under the official key names (`--save-weights`, readable by
         `marionette bench --weights`), and times batch-1 forward passes.

Only torch, numpy, safetensors and the standard library: the GPU machine has no internet.
The modules below are laid out so that `state_dict()` yields exactly the official key names;
loading is `load_state_dict(strict=True)`, which checks that every key is used and every shape
matches.
"""

import argparse
import glob
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

# Full float32 everywhere. Ampere+ GPUs would otherwise run matmuls/convs in TF32 (10-bit
# mantissa); our candle implementation computes in true float32, so TF32 would make the
# comparison unfair (and break the 1e-4 fixture tolerances).
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")

# Attention implementation for PoNA: "bmm" (what the authors' code does) or "sdpa"
# (torch's fused scaled_dot_product_attention, scale=1). Set from the command line.
PONA_ATTENTION = "bmm"


# ================================================================================================
# GFLA (spec gfla.md). Blocks are pre-activation: norm -> act -> conv.
# ================================================================================================

def lrelu():
    # LeakyReLU slope 0.1 everywhere (spec §2); parameterless, so sharing or not changes no keys.
    return nn.LeakyReLU(0.1)


def inorm_affine(c):
    # Affine InstanceNorm without running statistics: train and eval are identical.
    return nn.InstanceNorm2d(c, eps=1e-5, affine=True, track_running_stats=False)


def conv_t(cin, cout):
    # 3/2/1 with output_padding 1 maps H -> 2H exactly; weight stored (in, out, 3, 3).
    return nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)


class EncoderBlock(nn.Module):
    """IN -> act -> conv4/s2/p1 -> IN -> act -> conv3/s1/p1 (halves H, W)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.model = nn.Sequential(inorm_affine(cin), lrelu(), nn.Conv2d(cin, cout, 4, 2, 1),
                                   inorm_affine(cout), lrelu(), nn.Conv2d(cout, cout, 3, 1, 1))

    def forward(self, x):
        return self.model(x)


class ResBlock(nn.Module):
    """Identity-skip residual block, width c."""

    def __init__(self, c):
        super().__init__()
        self.model = nn.Sequential(inorm_affine(c), lrelu(), nn.Conv2d(c, c, 3, 1, 1),
                                   inorm_affine(c), lrelu(), nn.Conv2d(c, c, 3, 1, 1))

    def forward(self, x):
        return x + self.model(x)


class ResBlocks(nn.Module):
    """Container: keys `<prefix>.model.<j>.model.*` (official target decoders hold one block)."""

    def __init__(self, n, c):
        super().__init__()
        self.model = nn.Sequential(*[ResBlock(c) for _ in range(n)])

    def forward(self, x):
        return self.model(x)


class ResBlockDecoder(nn.Module):
    """Doubles H, W. The shortcut transposed conv sees the RAW input (no norm/act)."""

    def __init__(self, cin, cout, hidden):
        super().__init__()
        self.model = nn.Sequential(inorm_affine(cin), lrelu(), nn.Conv2d(cin, hidden, 3, 1, 1),
                                   inorm_affine(hidden), lrelu(), conv_t(hidden, cout))
        self.shortcut = nn.Sequential(conv_t(cin, cout))

    def forward(self, x):
        return self.model(x) + self.shortcut(x)


class PadConv(nn.Module):
    """Jump (c->c) and Output (c->3, tanh): act -> reflection pad 1 -> conv3/p0, no norm.
    The authors register the conv twice (`conv1` and `model.2`), so the state dict holds both
    keys for one tensor; registering the same module twice reproduces that."""

    def __init__(self, cin, cout, tanh):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 0)
        layers = [lrelu(), nn.ReflectionPad2d(1), self.conv1] + ([nn.Tanh()] if tanh else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def block_extractor(source, flow, k):
    """Spec §6.1, pure PyTorch. Output (B, C, Hf*k, Wf*k): the k x k patch around the flowed
    position of each flow cell, bilinear with border clamping.

    Sampling position of output pixel (Y, X): cell (yf, xf) = (Y//k, X//k), offset
    (oy, ox) = (Y%k - k//2, X%k - k//2); p = (flow + offset) + cell index, in source pixels.
    Clamping each bilinear corner index while keeping the unclamped weights is exactly
    grid_sample(bilinear, padding_mode='border', align_corners=True) at that absolute position,
    so we convert pixels to the [-1, 1] grid convention and let grid_sample do the gather."""
    b, _, hs, ws = source.shape
    hf, wf = flow.shape[2:]
    dev, dt = flow.device, flow.dtype
    # nearest ×k upsampling of the flow = the flow of each output pixel's cell
    f = flow.repeat_interleave(k, dim=2).repeat_interleave(k, dim=3)
    oy = (torch.arange(hf * k, device=dev) % k - k // 2).to(dt)
    ox = (torch.arange(wf * k, device=dev) % k - k // 2).to(dt)
    cy = torch.div(torch.arange(hf * k, device=dev), k, rounding_mode="floor").to(dt)
    cx = torch.div(torch.arange(wf * k, device=dev), k, rounding_mode="floor").to(dt)
    px = (f[:, 0] + ox.view(1, 1, -1)) + cx.view(1, 1, -1)  # (B, Hf*k, Wf*k)
    py = (f[:, 1] + oy.view(1, -1, 1)) + cy.view(1, -1, 1)
    # align_corners=True: -1 is pixel 0, +1 is pixel W-1. A 1-pixel axis always reads pixel 0.
    gx = px * (2.0 / (ws - 1)) - 1.0 if ws > 1 else torch.zeros_like(px)
    gy = py * (2.0 / (hs - 1)) - 1.0 if hs > 1 else torch.zeros_like(py)
    grid = torch.stack([gx, gy], dim=-1)  # grid_sample wants (x, y) last
    return F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=True)


class ExtractorAttn(nn.Module):
    """Local attention (spec §5.4): per target cell, a softmax over the k² source patch elements
    around the flowed position; the k x k average pool makes the result 1/k² of the weighted mean
    (part of the trained model, kept)."""

    def __init__(self, c, k, hidden):
        super().__init__()
        self.k = k
        self.fully_connect_layer = nn.Sequential(nn.Conv2d(2 * c, hidden, k, k, 0), lrelu(),
                                                 nn.Conv2d(hidden, k * k, 1))

    def forward(self, source, target, flow):
        k = self.k
        bs = block_extractor(source, flow, k)
        bt = block_extractor(target, torch.zeros_like(flow), k)
        # concat order: target patches first, then source patches
        a = torch.softmax(self.fully_connect_layer(torch.cat([bt, bs], 1)), dim=1)
        # local_attn_reshape == pixel_shuffle: channel i*k+j -> (row i, column j) of the patch
        return F.avg_pool2d(F.pixel_shuffle(a, k) * bs, k, k)


def mult(j, img_f, ngf):
    return min(2 ** j, img_f // ngf)


class SourceNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ngf, img_f, L = cfg["ngf"], cfg["img_f"], cfg["layers"]
        self.block0 = EncoderBlock(cfg["image_nc"], ngf)
        self.encoders = []
        for i in range(L - 1):
            m = EncoderBlock(ngf * mult(i, img_f, ngf), ngf * mult(i + 1, img_f, ngf))
            setattr(self, f"encoder{i}", m)
            self.encoders.append(m)

    def forward(self, x):
        out = [x, self.block0(x)]
        for m in self.encoders:
            out.append(m(out[-1]))
        return out[::-1]  # deepest first, the image itself last


class FlowNet(nn.Module):
    """Global flow estimator; its widths (fngf/fimg_f/E) are its own, independent of ngf."""

    def __init__(self, cfg):
        super().__init__()
        fngf, fimg_f, E = cfg["flow_ngf"], cfg["flow_img_f"], cfg["flow_layers"]
        self.E, self.attn_layer = E, cfg["attn_layer"]
        c = [fngf * mult(j, fimg_f, fngf) for j in range(E)]
        self.block0 = EncoderBlock(cfg["image_nc"] + 2 * cfg["structure_nc"], c[0])
        for j in range(1, E):
            setattr(self, f"encoder{j - 1}", EncoderBlock(c[j - 1], c[j]))
        self.steps = E - min(self.attn_layer)
        for i in range(self.steps):
            cin, cout = c[E - 1 - i], c[E - 2 - i]
            # flow-net decoder: hidden width = output width
            setattr(self, f"decoder{i}", ResBlockDecoder(cin, cout, cout))
            setattr(self, f"jump{i}", PadConv(cout, cout, tanh=False))
            if E - 1 - i in self.attn_layer:
                setattr(self, f"output{i}", nn.Conv2d(cout, 2, 3, 1, 1))
                setattr(self, f"mask{i}", nn.Sequential(nn.Conv2d(cout, 1, 3, 1, 1), nn.Sigmoid()))

    def forward(self, p1, bp1, bp2):
        r = [self.block0(torch.cat([p1, bp1, bp2], 1))]  # order: image, source pose, target pose
        for j in range(1, self.E):
            r.append(getattr(self, f"encoder{j - 1}")(r[-1]))
        x, flows, masks = r[-1], [], []
        for i in range(self.steps):
            x = getattr(self, f"decoder{i}")(x) + getattr(self, f"jump{i}")(r[self.E - 2 - i])
            if self.E - 1 - i in self.attn_layer:
                flows.append(getattr(self, f"output{i}")(x))
                masks.append(getattr(self, f"mask{i}")(x))
        return flows, masks  # deepest level first


class TargetNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ngf, img_f, L = cfg["ngf"], cfg["img_f"], cfg["layers"]
        self.L, self.attn_layer = L, cfg["attn_layer"]
        self.block0 = EncoderBlock(cfg["structure_nc"], ngf)
        for i in range(L - 1):
            setattr(self, f"encoder{i}",
                    EncoderBlock(ngf * mult(i, img_f, ngf), ngf * mult(i + 1, img_f, ngf)))
        for i in range(L):
            a = ngf * mult(L - 1 - i, img_f, ngf)
            b = ngf * mult(L - 2 - i, img_f, ngf) if i < L - 1 else ngf
            # registered in the official key order: decoder{i} then attn{i}
            setattr(self, f"decoder{i}", nn.Sequential(ResBlocks(cfg["num_blocks"] - 1, a),
                                                       ResBlockDecoder(a, b, a)))
            if L - i in self.attn_layer:
                k = cfg["kernel_size"][L - i]
                setattr(self, f"attn{i}", ExtractorAttn(a, k, cfg["attn_hidden"]))
        self.outconv = PadConv(ngf, cfg["output_nc"], tanh=True)

    def forward(self, bp2, feats, flows, masks):
        x = self.block0(bp2)
        for i in range(self.L - 1):
            x = getattr(self, f"encoder{i}")(x)
        c = 0
        for i in range(self.L):
            if self.L - i in self.attn_layer:
                a = getattr(self, f"attn{i}")(feats[i], x, flows[c])
                x = x * (1 - masks[c]) + a * masks[c]
                c += 1
            x = getattr(self, f"decoder{i}")(x)
        return self.outconv(x)


class GflaGenerator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        # registration order = state-dict order of the official checkpoint
        self.source = SourceNet(cfg)
        self.target = TargetNet(cfg)
        self.flow_net = FlowNet(cfg)

    def forward(self, p1, bp1, bp2):
        feats = self.source(p1)
        flows, masks = self.flow_net(p1, bp1, bp2)
        return self.target(bp2, feats, flows, masks), flows, masks


GFLA_PRESETS = {
    # official DeepFashion / Market shapes (spec §1); annotation frame for the heat-maps
    "fashion": dict(image_nc=3, structure_nc=18, output_nc=3, ngf=64, img_f=512, layers=3,
                    num_blocks=2, attn_layer=[2, 3], kernel_size={2: 5, 3: 3}, flow_ngf=32,
                    flow_img_f=256, flow_layers=5, attn_hidden=128,
                    input_hw=(256, 256), frame_hw=(256, 176)),
    "market": dict(image_nc=3, structure_nc=18, output_nc=3, ngf=64, img_f=512, layers=3,
                   num_blocks=2, attn_layer=[2], kernel_size={2: 3}, flow_ngf=32,
                   flow_img_f=256, flow_layers=5, attn_hidden=128,
                   input_hw=(128, 64), frame_hw=(128, 64)),
}


def gfla_cfg_from_fixture(j):
    c = j["config"]
    return dict(image_nc=c["image_nc"], structure_nc=c["structure_nc"], output_nc=c["output_nc"],
                ngf=c["ngf"], img_f=c["img_f"], layers=c["layers"], num_blocks=c["num_blocks"],
                attn_layer=list(c["attn_layer"]),
                kernel_size={int(k): v for k, v in c["kernel_size"].items()},
                flow_ngf=c["flow_net"]["ngf"], flow_img_f=c["flow_net"]["img_f"],
                flow_layers=c["flow_net"]["encoder_layer"], attn_hidden=c["attn_hidden_nc"])


# ================================================================================================
# PoNA (spec pona.md)
# ================================================================================================

def pona_norm(kind, c):
    # --norm only affects encoders/decoder: BN (eval: running stats) or parameter-free IN.
    if kind == "batch":
        return nn.BatchNorm2d(c, eps=1e-5)
    return nn.InstanceNorm2d(c, eps=1e-5, affine=False, track_running_stats=False)


def pona_encoder(cin, F_, norm):
    bias = norm == "instance"  # encoder/decoder convs have a bias only with instance norm
    return nn.Sequential(
        nn.ReflectionPad2d(3), nn.Conv2d(cin, F_, 7, 1, 0, bias=bias), pona_norm(norm, F_),
        nn.ReLU(),
        nn.Conv2d(F_, 2 * F_, 3, 2, 1, bias=bias), pona_norm(norm, 2 * F_), nn.ReLU(),
        nn.Conv2d(2 * F_, 4 * F_, 3, 2, 1, bias=bias), pona_norm(norm, 4 * F_), nn.ReLU())


def pona_decoder(F_, norm, out_nc):
    bias = norm == "instance"
    return nn.Sequential(
        nn.ConvTranspose2d(4 * F_, 2 * F_, 3, 2, 1, output_padding=1, bias=bias),
        pona_norm(norm, 2 * F_), nn.ReLU(),
        nn.ConvTranspose2d(2 * F_, F_, 3, 2, 1, output_padding=1, bias=bias),
        pona_norm(norm, F_), nn.ReLU(),
        nn.ReflectionPad2d(3), nn.Conv2d(F_, out_nc, 7, 1, 0), nn.Tanh())  # last conv: bias


class DoubleConv(nn.Module):
    """conv3 -> IN -> ReLU -> Dropout (identity at eval, but takes index 3) -> conv3 -> IN -> ReLU;
    `x + seq(x)` when residual. Inside PoNA blocks: always parameter-free IN, always bias."""

    def __init__(self, cin, cout, residual):
        super().__init__()
        self.residual = residual
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cin, 3, 1, 1), pona_norm("instance", cin), nn.ReLU(), nn.Dropout(0.5),
            nn.Conv2d(cin, cout, 3, 1, 1), pona_norm("instance", cout), nn.ReLU())

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


def nonlocal_attention(q, k, v):
    """softmax_j(sum_c q[c,i] k[c,j]) (NO 1/sqrt(d) scaling); returns O = V·Aᵀ as (B, Cv, h, w)."""
    b, cv, h, w = v.shape
    n = h * w
    qf, kf, vf = q.reshape(b, -1, n), k.reshape(b, -1, n), v.reshape(b, cv, n)
    if PONA_ATTENTION == "sdpa":
        o = F.scaled_dot_product_attention(qf.transpose(1, 2).unsqueeze(1),
                                           kf.transpose(1, 2).unsqueeze(1),
                                           vf.transpose(1, 2).unsqueeze(1), scale=1.0)
        return o.squeeze(1).transpose(1, 2).reshape(b, cv, h, w)
    a = torch.softmax(torch.bmm(qf.transpose(1, 2), kf), dim=-1)  # (B, N, N), rows sum to 1
    return torch.bmm(vf, a.transpose(1, 2)).reshape(b, cv, h, w)


class SelfAttn(nn.Module):
    """Fusion self-attention `att2` on 2C channels: Z' = gamma·O + beta·Z + Z."""

    def __init__(self, c2):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.zeros(1))
        self.query_conv = nn.Conv2d(c2, c2 // 8, 1)
        self.key_conv = nn.Conv2d(c2, c2 // 8, 1)
        self.value_conv = nn.Conv2d(c2, c2, 1)

    def forward(self, z):
        o = nonlocal_attention(self.query_conv(z), self.key_conv(z), self.value_conv(z))
        return self.gamma * o + self.beta * z + z


class PonaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        # registration order = the official dict order within a block
        self.gamma = nn.Parameter(torch.zeros(1))
        self.query_conv = nn.Conv2d(c, c // 8, 1)
        self.key_conv = nn.Conv2d(c, c // 8, 1)
        self.value_conv = nn.Conv2d(c, c, 1)
        self.conv = DoubleConv(c, c, True)
        self.dconv = DoubleConv(2 * c, 2 * c, True)
        self.conv2 = DoubleConv(c, c, True)
        self.dconv2 = DoubleConv(2 * c, c, False)
        self.att2 = SelfAttn(2 * c)

    def forward(self, x, p):
        z = self.att2(torch.cat([x, p], 1))  # image first, then pose
        # the residual units add their input exactly once: z + seq(z), x + seq(x)
        z = self.dconv(z)
        x2 = self.conv2(self.conv(x))        # image path, blind to the pose
        p_new = self.dconv2(z)               # no residual: the new pose code
        o = nonlocal_attention(self.query_conv(p_new), self.key_conv(p_new), self.value_conv(x2))
        return self.gamma * o + x2, p_new


class PonaInner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        F_, norm = cfg["ngf"], cfg["norm"]
        self.stream1_down = pona_encoder(cfg["image_nc"], F_, norm)
        self.stream2_down = pona_encoder(2 * cfg["pose_nc"], F_, norm)
        self.att = nn.ModuleList([PonaBlock(4 * F_) for _ in range(cfg["n_blocks"])])
        self.stream1_up = pona_decoder(F_, norm, cfg["image_nc"])

    def forward(self, image, pose):
        x, p = self.stream1_down(image), self.stream2_down(pose)
        for blk in self.att:
            x, p = blk(x, p)  # the last block's pose code is unused
        return self.stream1_up(x)


class PonaGenerator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.model = PonaInner(cfg)  # every key starts with `model.`

    def forward(self, image, bp1, bp2):
        return self.model(image, torch.cat([bp1, bp2], 1))  # condition pose first


PONA_PRESETS = {
    "fashion": dict(ngf=64, norm="instance", n_blocks=3, image_nc=3, pose_nc=18,
                    input_hw=(256, 176), heatmap="onehot"),
    "market": dict(ngf=64, norm="batch", n_blocks=3, image_nc=3, pose_nc=18,
                   input_hw=(128, 64), heatmap="gaussian"),
}


def pona_cfg_from_fixture(j):
    c = j["config"]
    assert c["n_downsampling"] == 2, "the key layout (.1/.4/.7) assumes two down-samplings"
    return dict(ngf=c["ngf"], norm=c["norm"], n_blocks=c["n_blocks"],
                image_nc=c["image_channels"], pose_nc=c["heatmap_channels_per_pose"])


# ================================================================================================
# weights, inputs
# ================================================================================================

def load_strict(model, path):
    sd = load_file(path)
    # strict=True: raises on missing or unused keys and on any shape mismatch
    model.load_state_dict(sd, strict=True)
    return len(sd)


def save_weights(model, path):
    # Jump/Output convs appear under two keys sharing storage; safetensors refuses shared
    # tensors, so each entry gets its own contiguous float32 copy (as in the fixtures).
    sd = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    save_file(sd, path)
    return len(sd)


@torch.no_grad()
def random_init(model, seed):
    """Deterministic random weights (CPU generator, so every machine gets the same numbers)
    with a scale that keeps activations O(1): conv weights N(0, 1/fan_in), small biases,
    norm affines near identity, non-zero attention gammas so every path contributes."""
    g = torch.Generator().manual_seed(seed)
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight
            kk = w.shape[2] * w.shape[3]
            # a stride-2 transposed conv feeds each output from ~1/4 of its taps
            fan_in = w.shape[1] * kk if isinstance(m, nn.Conv2d) else max(1, w.shape[0] * kk // 4)
            w.copy_(torch.randn(w.shape, generator=g) / fan_in ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
        elif isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)) and m.weight is not None:
            m.weight.copy_(0.8 + 0.4 * torch.rand(m.weight.shape, generator=g))
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    for name, p in model.named_parameters():
        if name.endswith("gamma") or name.endswith("beta"):
            p.copy_(0.3 + 0.5 * torch.rand(p.shape, generator=g))


# A standing person, (x, y) as fractions of the keypoint frame, COCO-18 order (the same template
# as `marionette bench`): nose, neck, right arm, left arm, hips, legs, eyes, ears.
TEMPLATE = [(0.50, 0.12), (0.50, 0.22), (0.38, 0.22), (0.34, 0.38), (0.33, 0.52), (0.62, 0.22),
            (0.66, 0.38), (0.67, 0.52), (0.43, 0.52), (0.43, 0.70), (0.43, 0.88), (0.57, 0.52),
            (0.57, 0.70), (0.57, 0.88), (0.47, 0.10), (0.53, 0.10), (0.45, 0.11), (0.55, 0.11)]
R_WRIST = 4


def bench_poses(frame_hw):
    """(source, target) keypoints as (y, x) floats in frame pixels; the target raises the right
    wrist (x - 0.1 W, y - 0.3 H)."""
    fh, fw = frame_hw
    src = [(y * fh, x * fw) for x, y in TEMPLATE]
    tgt = list(src)
    y, x = tgt[R_WRIST]
    tgt[R_WRIST] = (y - 0.3 * fh, x - 0.1 * fw)
    return src, tgt


def heatmaps(kps, frame_hw, out_hw, kind, rescale):
    """(1, 18, H, W) float32. GFLA (spec §8.3): scale from the annotation frame in float64, then
    truncate; PoNA: keypoints already in the image frame, truncate. Gaussian sigma 6 in float64,
    or (PoNA DeepFashion) a one-hot pixel (the uint8-truncated Gaussian)."""
    H, W = out_hw
    rows = np.arange(H, dtype=np.float64)[:, None]
    cols = np.arange(W, dtype=np.float64)[None, :]
    out = np.zeros((1, len(kps), H, W), dtype=np.float32)
    for j, (y, x) in enumerate(kps):
        if rescale:
            y, x = y / frame_hw[0] * H, x / frame_hw[1] * W
        yi, xi = int(y), int(x)  # truncation toward zero, as the data scripts do
        if kind == "gaussian":
            out[0, j] = np.exp(-((rows - yi) ** 2 + (cols - xi) ** 2) / (2 * 6.0 ** 2))
        elif 0 <= yi < H and 0 <= xi < W:
            out[0, j, yi, xi] = 1.0
    return torch.from_numpy(out)


def max_diff(a, b):
    return (a.float().cpu() - b.float().cpu()).abs().max().item()


# ================================================================================================
# commands
# ================================================================================================

def cmd_check(args):
    dev = torch.device(args.device)
    passed = failed = 0

    def report(ok, line):
        nonlocal passed, failed
        passed, failed = passed + ok, failed + (not ok)
        print(("PASS " if ok else "FAIL ") + line, flush=True)

    gfla = sorted(glob.glob(os.path.join(args.gfla_fixtures, "gfla_*.json")))
    pona = sorted(glob.glob(os.path.join(args.pona_fixtures, "*.json")))
    for path in gfla:
        meta = json.load(open(path))
        if meta.get("fixture") == "ops":
            continue
        stem = path[:-len(".json")]
        name = os.path.basename(stem)
        try:
            model = GflaGenerator(gfla_cfg_from_fixture(meta))
            nkeys = load_strict(model, stem + "_weights.safetensors")
            model = model.to(dev).eval()
            io = load_file(stem + "_io.safetensors")
            with torch.inference_mode():
                img, flows, masks = model(*(io[f"input.{n}"].to(dev) for n in
                                            ("source_image", "source_pose", "target_pose")))
            d = max_diff(img, io["output.image"])
            parts = [f"image {d:.2e}"]
            for j, (f, m) in enumerate(zip(flows, masks)):
                parts.append(f"flow.{j} {max_diff(f, io[f'output.flow.{j}']):.2e}")
                parts.append(f"mask.{j} {max_diff(m, io[f'output.mask.{j}']):.2e}")
            assert f"output.flow.{len(flows)}" not in io, "fewer flows than the reference"
            report(d <= 1e-3, f"gfla {name} ({nkeys} keys): " + ", ".join(parts))
        except Exception as e:  # one broken fixture should not hide the others
            report(False, f"gfla {name}: {type(e).__name__}: {e}")
    for path in pona:
        meta = json.load(open(path))
        stem = path[:-len(".json")]
        name = os.path.basename(stem)
        try:
            model = PonaGenerator(pona_cfg_from_fixture(meta))
            nkeys = load_strict(model, stem + "_weights.safetensors")
            model = model.to(dev).eval()  # eval: BN running stats, dropout off
            io = load_file(stem + "_io.safetensors")
            with torch.inference_mode():
                img = model(*(io[f"input.{n}"].to(dev) for n in
                              ("cond_image", "cond_heatmap", "target_heatmap")))
            d = max_diff(img, io["output.image"])
            report(d <= 1e-3, f"pona {name} ({nkeys} keys): image {d:.2e}")
        except Exception as e:
            report(False, f"pona {name}: {type(e).__name__}: {e}")
    print(f"torch_peer_check {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


def parse_hw(s):
    h, w = s.lower().split("x")
    return int(h), int(w)


def cmd_bench(args):
    global PONA_ATTENTION
    PONA_ATTENTION = args.attention
    dev = torch.device(args.device)
    torch.backends.cudnn.benchmark = True  # pick the fastest cuDNN algorithm per shape
    if args.model == "gfla":
        cfg = dict(GFLA_PRESETS[args.config])
        if args.size:  # the keypoint frame becomes the input size (as in marionette bench)
            cfg["input_hw"] = cfg["frame_hw"] = args.size
        assert cfg["input_hw"][0] % 32 == 0 and cfg["input_hw"][1] % 32 == 0, "GFLA needs /32"
        model = GflaGenerator(cfg)
        kind, rescale = "gaussian", True
    else:
        cfg = dict(PONA_PRESETS[args.config])
        if args.size:
            cfg["input_hw"] = args.size
        cfg["frame_hw"] = cfg["input_hw"]
        model = PonaGenerator(cfg)
        kind, rescale = cfg["heatmap"], False
    random_init(model, args.seed)
    model.eval()
    nparam = sum(p.numel() for p in model.parameters())
    if args.save_weights:
        n = save_weights(model, args.save_weights)
        print(f"saved {n} tensors to {args.save_weights}")
    model = model.to(dev)

    H, W = cfg["input_hw"]
    g = torch.Generator().manual_seed(args.seed + 1)
    image = (torch.randn((1, 3, H, W), generator=g) * 0.5).clamp(-1, 1).to(dev)
    src, tgt = bench_poses(cfg["frame_hw"])
    bp1 = heatmaps(src, cfg["frame_hw"], (H, W), kind, rescale).to(dev)
    bp2 = heatmaps(tgt, cfg["frame_hw"], (H, W), kind, rescale).to(dev)

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, device {dev} ({name}), threads {torch.get_num_threads()}, "
          f"cudnn {torch.backends.cudnn.version() if dev.type == 'cuda' else '-'}, TF32 off")
    print(f"{args.model} {args.config} {H}x{W}, {nparam:,} parameters, batch 1"
          + (f", attention {args.attention}" if args.model == "pona" else ""))

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            sync()
            t0 = time.perf_counter()
            out = model(image, bp1, bp2)
            sync()
            if i >= args.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    img = out[0] if isinstance(out, tuple) else out
    assert torch.isfinite(img).all(), "non-finite output"
    print(f"output {tuple(img.shape)}, mean {img.mean().item():.4f}, std {img.std().item():.4f}")
    print("runs (ms): " + " ".join(f"{t:.2f}" for t in times))
    print(f"torch_{args.model}_ms {statistics.median(times):.2f}")
    if args.profile:
        profile_ops(model, (image, bp1, bp2), args.profile)
    return 0


# Op-type groups shared with `marionette bench --ops` (src/ops/profile.rs GROUPS), so the
# two tables line up row by row.
OP_GROUPS = [
    ("conv", ("conv2d", "conv_transpose2d", "mkldnn_convolution", "convolution", "_convolution",
              "slow_conv_transpose2d", "mkldnn_convolution_transpose")),
    ("norm+act", ("instance_norm", "batch_norm", "native_batch_norm",
                  "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
                  "leaky_relu", "relu", "relu_")),
    ("matmul", ("bmm", "matmul", "mm", "addmm", "linear", "baddbmm")),
    ("sampling", ("grid_sampler_2d", "grid_sampler", "grid_sample", "avg_pool2d", "unfold",
                  "im2col", "upsample_nearest2d", "upsample_bilinear2d")),
    ("copies", ("reflection_pad2d", "constant_pad_nd", "pad", "cat", "copy_", "contiguous",
                "clone", "pixel_shuffle", "index", "gather", "repeat", "stack")),
    ("softmax", ("softmax", "_softmax")),
]


def profile_ops(model, inputs, runs):
    """Self CPU time per op type over `runs` forward passes (torch.profiler), per pass."""
    from torch.profiler import ProfilerActivity, profile
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(runs):
            model(*inputs)
    groups = {name: 0.0 for name, _ in OP_GROUPS}
    groups["other"] = 0.0
    rows = []
    for ev in prof.key_averages():
        key = ev.key.removeprefix("aten::")
        us = ev.self_cpu_time_total / runs
        rows.append((us, key))
        for name, ops in OP_GROUPS:
            if key in ops:
                groups[name] += us
                break
        else:
            groups["other"] += us
    total = sum(groups.values())
    print(f"per op type (self CPU ms per forward, torch.profiler over {runs} runs):")
    for name, us in groups.items():
        print(f"  {name:<16} {us / 1e3:8.1f}  {100 * us / max(total, 1e-9):5.1f} %")
    for name, us in groups.items():  # for `marionette bench --ops --reference-python`
        print(f"torch_op {name} {us / 1e3:.3f}")
    print("top ops:")
    for us, key in sorted(rows, reverse=True)[:12]:
        print(f"  {key:<40} {us / 1e3:8.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="compare against the parity fixtures")
    c.add_argument("--gfla-fixtures", required=True)
    c.add_argument("--pona-fixtures", required=True)
    c.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    b = sub.add_parser("bench", help="time forward passes of an official-shape model")
    b.add_argument("--model", choices=["gfla", "pona"], required=True)
    b.add_argument("--config", choices=["fashion", "market"], default="fashion")
    b.add_argument("--size", type=parse_hw, help="input HxW (default: the preset's)")
    b.add_argument("--runs", type=int, default=50)
    b.add_argument("--warmup", type=int, default=10)
    b.add_argument("--device", default="cuda")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--save-weights", help="write the random weights as safetensors (official keys)")
    b.add_argument("--attention", choices=["bmm", "sdpa"], default="bmm",
                   help="PoNA non-local attention: bmm+softmax as the authors, or fused SDPA")
    b.add_argument("--profile", type=int, default=0, metavar="RUNS",
                   help="after timing, profile RUNS more passes and print self time per op type")
    args = ap.parse_args()
    sys.exit(cmd_check(args) if args.cmd == "check" else cmd_bench(args))


if __name__ == "__main__":
    main()
