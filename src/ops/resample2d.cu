// CUDA kernel of resample2d (see resample2d.rs): a normalised Gaussian average over the K×K
// pixels around the flowed position, border-clamped; same loops and order as the CPU kernel.

__device__ __forceinline__ long long sat_ll(float v) {
    if (!(v == v)) return 0;
    v = fminf(fmaxf(v, -9.0e18f), 9.0e18f);
    return (long long)v;
}

// input (B, C, Hi, Wi), flow (B, 2, H, W) -> out (B, C, H, W); one thread per output element.
extern "C" __global__ void resample2d_fwd(const float* __restrict__ input,
                                          const float* __restrict__ flow,
                                          float* __restrict__ out, int B, int C, int hi, int wi,
                                          int h, int w, int kernel_size, int dilation,
                                          float sigma) {
    const size_t plane = (size_t)h * w;
    const size_t n = (size_t)B * C * plane;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int p = (int)(e % plane);
    const size_t bc = e / plane;
    const int b = (int)(bc / C);
    const int y = p / w, x = p % w;
    const float* s = input + bc * (size_t)hi * wi;
    const float* f = flow + (size_t)b * 2 * plane;
    const float px = (float)x + f[p], py = (float)y + f[plane + p];
    const float x0f = floorf(px), y0f = floorf(py);
    const float alpha = px - x0f, beta = py - y0f;
    const long long x0 = sat_ll(x0f), y0 = sat_ll(y0f);
    const long long d = dilation;
    const float df = (float)dilation;
    const float two_s2 = 2.0f * sigma * sigma;
    float num = 0.0f, den = 0.0f;
    for (long long fy = 0; fy < kernel_size / 2; ++fy) {
        const long long rows[2] = {y0 - fy * d, y0 + (fy + 1) * d};
        const float dys[2] = {(float)fy * df + beta, (float)(fy + 1) * df - beta};
        for (long long fx = 0; fx < kernel_size / 2; ++fx) {
            const long long cols[2] = {x0 - fx * d, x0 + (fx + 1) * d};
            const float dxs[2] = {(float)fx * df + alpha, (float)(fx + 1) * df - alpha};
            for (int r = 0; r < 2; ++r) {
                for (int c = 0; c < 2; ++c) {
                    const float wgt = expf(-(dys[r] * dys[r]) / two_s2) *
                                      expf(-(dxs[c] * dxs[c]) / two_s2);
                    const long long rr = rows[r] < 0 ? 0 : (rows[r] >= hi ? hi - 1 : rows[r]);
                    const long long cc = cols[c] < 0 ? 0 : (cols[c] >= wi ? wi - 1 : cols[c]);
                    num += wgt * s[rr * wi + cc];
                    den += wgt;
                }
            }
        }
    }
    // The reference kernel divides by 1e-8 when every weight underflowed.
    out[e] = num / (den == 0.0f ? 1e-8f : den);
}
