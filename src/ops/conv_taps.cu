// CUDA kernels of the tap sums of our matrix-product convolutions (see conv_taps.rs): the
// accumulation after `Y = W × X`, in the CPU kernels' order (bias first, then tap by tap).
// One thread per element written; every index is derived from the element's own position.

// tap_sum: y (B, C, k², Hp, Wp) -> out (B, C, Hp-k+1, Wp-k+1).
extern "C" __global__ void tap_sum_fwd(const float* __restrict__ y, const float* __restrict__ bias,
                                       float* __restrict__ out, int B, int C, int hp, int wp,
                                       int k) {
    const int ho = hp - k + 1, wo = wp - k + 1;
    const size_t n = (size_t)B * C * ho * wo;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int pix = (int)(e % ((size_t)ho * wo));
    const size_t bc = e / ((size_t)ho * wo);
    const int row = pix / wo, col = pix % wo;
    const size_t pplane = (size_t)hp * wp;
    const float* planes = y + bc * k * k * pplane;
    float v = bias[bc % C];
    for (int ky = 0; ky < k; ++ky)
        for (int kx = 0; kx < k; ++kx)
            v += planes[(ky * k + kx) * pplane + (size_t)(row + ky) * wp + col + kx];
    out[e] = v;
}

// Adjoint of tap_sum: gy[b,c,ky·k+kx,py,px] = g[b,c,py-ky,px-kx] where that pixel exists.
extern "C" __global__ void tap_sum_bwd(const float* __restrict__ grad, float* __restrict__ gy,
                                       int B, int C, int hp, int wp, int k) {
    const int ho = hp - k + 1, wo = wp - k + 1;
    const size_t pplane = (size_t)hp * wp;
    const size_t n = (size_t)B * C * k * k * pplane;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int q = (int)(e % pplane);
    const int t = (int)((e / pplane) % (k * k));
    const size_t bc = e / (pplane * k * k);
    const int row = q / wp - t / k, col = q % wp - t % k;
    gy[e] = (row >= 0 && row < ho && col >= 0 && col < wo)
                ? grad[bc * ho * wo + (size_t)row * wo + col]
                : 0.0f;
}

// up_tap_sum: ConvTranspose2d(3, stride 2, padding 1, output_padding 1) from its nine tap planes
// y (B, C, 9, H+1, W+1) -> out (B, C, 2H, 2W). Output row 2m takes kernel row 1 at input row m;
// row 2m+1 kernel row 2 at row m, then kernel row 0 at row m+1; columns likewise.
extern "C" __global__ void up_tap_sum_fwd(const float* __restrict__ y,
                                          const float* __restrict__ bias,
                                          float* __restrict__ out, int B, int C, int h, int w) {
    const int oh = 2 * h, ow = 2 * w;
    const size_t n = (size_t)B * C * oh * ow;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int pix = (int)(e % ((size_t)oh * ow));
    const size_t bc = e / ((size_t)oh * ow);
    const int oy = pix / ow, ox = pix % ow;
    const int m = oy >> 1, nx = ox >> 1;
    // (input offset, kernel index) per parity, in the CPU kernel's order.
    const int cnt[2] = {1, 2};
    const int off[2][2] = {{0, 0}, {0, 1}};
    const int ker[2][2] = {{1, 0}, {2, 0}};
    const size_t pplane = (size_t)(h + 1) * (w + 1);
    const float* planes = y + bc * 9 * pplane;
    const int a = oy & 1, par = ox & 1;
    float v = bias[bc % C];
    for (int r = 0; r < cnt[a]; ++r)
        for (int s = 0; s < cnt[par]; ++s)
            v += planes[(ker[a][r] * 3 + ker[par][s]) * pplane +
                        (size_t)(m + off[a][r]) * (w + 1) + nx + off[par][s]];
    out[e] = v;
}

// Output coordinate that reads input position `i` through kernel index `kidx`, or -1:
// kernel 1 -> 2i, kernel 2 -> 2i+1 (both need i < n), kernel 0 -> 2i-1 (needs 1 <= i <= n).
__device__ __forceinline__ int up_reader(int kidx, int i, int n) {
    if (kidx == 1) return i < n ? 2 * i : -1;
    if (kidx == 2) return i < n ? 2 * i + 1 : -1;
    return (i >= 1 && i <= n) ? 2 * i - 1 : -1;
}

// Adjoint of up_tap_sum: each tap-plane element is read by at most one output pixel.
extern "C" __global__ void up_tap_sum_bwd(const float* __restrict__ grad, float* __restrict__ gy,
                                          int B, int C, int h, int w) {
    const size_t pplane = (size_t)(h + 1) * (w + 1);
    const size_t n = (size_t)B * C * 9 * pplane;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int q = (int)(e % pplane);
    const int t = (int)((e / pplane) % 9);
    const size_t bc = e / (pplane * 9);
    const int oy = up_reader(t / 3, q / (w + 1), h);
    const int ox = up_reader(t % 3, q % (w + 1), w);
    gy[e] = (oy >= 0 && ox >= 0) ? grad[bc * 4 * h * w + (size_t)oy * 2 * w + ox] : 0.0f;
}
