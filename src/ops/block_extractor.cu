// CUDA kernels of block_extractor (see block_extractor.rs for the op and its CPU kernels; the
// formulas, clamping and accumulation order here are the same, tap for tap).
//
// Layout: source (B, C, Hs, Ws), flow (B, 2, Hf, Wf), output (B, C, Hf·k, Wf·k), all contiguous.
// Each thread owns one output pixel of one batch item and walks a chunk of channels, so the
// bilinear taps are computed once per pixel rather than once per element.

// Rust's `as i64`: saturating, NaN -> 0, so a hostile flow never indexes out of range.
__device__ __forceinline__ long long sat_ll(float v) {
    if (!(v == v)) return 0;
    v = fminf(fmaxf(v, -9.0e18f), 9.0e18f);
    return (long long)v;
}

__device__ __forceinline__ int clamp_idx(long long v, int n) {
    return (int)(v < 0 ? 0 : (v >= n ? n - 1 : v));
}

struct Taps {
    int idx[4];
    float w[4];
    float fx, fy;
};

// The taps of output pixel (yo, xo) of one batch item; flow_b points at its (2, Hf, Wf) flow.
__device__ __forceinline__ Taps taps_at(const float* flow_b, int hf, int wf, int hs, int ws,
                                        int k, int yo, int xo) {
    const int yf = yo / k, xf = xo / k;
    const float half = (float)(k / 2);
    const float oy = (float)(yo % k) - half, ox = (float)(xo % k) - half;
    const int cell = yf * wf + xf;
    // Same association as the reference kernel: (flow + offset) + cell index.
    const float px = (flow_b[cell] + ox) + (float)xf;
    const float py = (flow_b[hf * wf + cell] + oy) + (float)yf;
    const float x0f = floorf(px), y0f = floorf(py);
    Taps t;
    t.fx = px - x0f;
    t.fy = py - y0f;
    const long long x0 = sat_ll(x0f), y0 = sat_ll(y0f);
    const int cx0 = clamp_idx(x0, ws), cx1 = clamp_idx(x0 + 1, ws);
    const int cy0 = clamp_idx(y0, hs), cy1 = clamp_idx(y0 + 1, hs);
    t.idx[0] = cy0 * ws + cx0;
    t.idx[1] = cy0 * ws + cx1;
    t.idx[2] = cy1 * ws + cx0;
    t.idx[3] = cy1 * ws + cx1;
    t.w[0] = (1.0f - t.fx) * (1.0f - t.fy);
    t.w[1] = t.fx * (1.0f - t.fy);
    t.w[2] = (1.0f - t.fx) * t.fy;
    t.w[3] = t.fx * t.fy;
    return t;
}

// grid: (ceil(Ho·Wo / block), B, ceil(C / cpb)).
extern "C" __global__ void block_extractor_fwd(const float* __restrict__ src,
                                               const float* __restrict__ flow,
                                               float* __restrict__ out, int C, int hs, int ws,
                                               int hf, int wf, int k, int cpb) {
    const int wo = wf * k;
    const int npix = hf * k * wo;
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= npix) return;
    const int b = blockIdx.y;
    const int c0 = blockIdx.z * cpb;
    const int c1 = min(C, c0 + cpb);
    const Taps t = taps_at(flow + (size_t)b * 2 * hf * wf, hf, wf, hs, ws, k, p / wo, p % wo);
    const size_t splane = (size_t)hs * ws;
    for (int c = c0; c < c1; ++c) {
        const float* s = src + ((size_t)b * C + c) * splane;
        float v = t.w[0] * s[t.idx[0]];
        v += t.w[1] * s[t.idx[1]];
        v += t.w[2] * s[t.idx[2]];
        v += t.w[3] * s[t.idx[3]];
        out[((size_t)b * C + c) * npix + p] = v;
    }
}

// Gradient w.r.t. the source: the bilinear weights scatter the output gradient back onto the
// four taps. g_src must be zeroed. grid as the forward.
extern "C" __global__ void block_extractor_bwd_source(const float* __restrict__ flow,
                                                      const float* __restrict__ grad,
                                                      float* __restrict__ g_src, int C, int hs,
                                                      int ws, int hf, int wf, int k, int cpb) {
    const int wo = wf * k;
    const int npix = hf * k * wo;
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= npix) return;
    const int b = blockIdx.y;
    const int c0 = blockIdx.z * cpb;
    const int c1 = min(C, c0 + cpb);
    const Taps t = taps_at(flow + (size_t)b * 2 * hf * wf, hf, wf, hs, ws, k, p / wo, p % wo);
    const size_t splane = (size_t)hs * ws;
    for (int c = c0; c < c1; ++c) {
        float* gs = g_src + ((size_t)b * C + c) * splane;
        const float g = grad[((size_t)b * C + c) * npix + p];
        for (int n = 0; n < 4; ++n) atomicAdd(gs + t.idx[n], t.w[n] * g);
    }
}

// Gradient w.r.t. the flow: derivative of the bilinear interpolant (zero where both corners
// were clamped onto the same pixel), summed over the cell's k×k patch and all channels.
// One thread per (cell, channel chunk); g_flow must be zeroed.
// grid: (ceil(Hf·Wf / block), B, ceil(C / cpb)).
extern "C" __global__ void block_extractor_bwd_flow(const float* __restrict__ src,
                                                    const float* __restrict__ flow,
                                                    const float* __restrict__ grad,
                                                    float* __restrict__ g_flow, int C, int hs,
                                                    int ws, int hf, int wf, int k, int cpb) {
    const int ncell = hf * wf;
    const int cell = blockIdx.x * blockDim.x + threadIdx.x;
    if (cell >= ncell) return;
    const int b = blockIdx.y;
    const int c0 = blockIdx.z * cpb;
    const int c1 = min(C, c0 + cpb);
    const int wo = wf * k;
    const int npix = hf * k * wo;
    const int yf = cell / wf, xf = cell % wf;
    const float* flow_b = flow + (size_t)b * 2 * ncell;
    const size_t splane = (size_t)hs * ws;
    float gx = 0.0f, gy = 0.0f;
    for (int i = 0; i < k; ++i) {
        for (int j = 0; j < k; ++j) {
            const int yo = yf * k + i, xo = xf * k + j;
            const Taps t = taps_at(flow_b, hf, wf, hs, ws, k, yo, xo);
            const int p = yo * wo + xo;
            for (int c = c0; c < c1; ++c) {
                const float* s = src + ((size_t)b * C + c) * splane;
                const float s00 = s[t.idx[0]], s01 = s[t.idx[1]];
                const float s10 = s[t.idx[2]], s11 = s[t.idx[3]];
                const float g = grad[((size_t)b * C + c) * npix + p];
                gx += g * ((1.0f - t.fy) * (s01 - s00) + t.fy * (s11 - s10));
                gy += g * ((1.0f - t.fx) * (s10 - s00) + t.fx * (s11 - s01));
            }
        }
    }
    atomicAdd(g_flow + (size_t)b * 2 * ncell + cell, gx);
    atomicAdd(g_flow + (size_t)b * 2 * ncell + ncell + cell, gy);
}
