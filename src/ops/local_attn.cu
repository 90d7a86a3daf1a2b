// CUDA kernels of the fused local attention pool (see local_attn.rs): attention (B, k², h, w),
// patches (B, C, h·k, w·k), output (B, C, h, w); one thread per element of what it writes.

// out[b,c,y,x] = (1/k²) Σ_{i,j} A[b, i·k+j, y, x] · P[b, c, y·k+i, x·k+j]
extern "C" __global__ void local_attn_fwd(const float* __restrict__ attn,
                                          const float* __restrict__ patches,
                                          float* __restrict__ out, int B, int C, int h, int w,
                                          int k) {
    const size_t n = (size_t)B * C * h * w;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int plane = h * w;
    const int pix = (int)(e % plane);
    const size_t bc = e / plane;
    const int b = (int)(bc / C);
    const int y = pix / w, x = pix % w;
    const int kk = k * k, pw = w * k;
    const float* a = attn + (size_t)b * kk * plane + pix;
    const float* p = patches + bc * (size_t)plane * kk;
    float acc = 0.0f;
    for (int i = 0; i < k; ++i) {
        const float* row = p + (size_t)(y * k + i) * pw + x * k;
        for (int j = 0; j < k; ++j) acc += a[(size_t)(i * k + j) * plane] * row[j];
    }
    out[e] = acc * (1.0f / (float)kk);
}

// d/dP: gP[b,c,y·k+i,x·k+j] = A[b,i·k+j,y,x] · (g[b,c,y,x] / k²); one thread per patch element.
extern "C" __global__ void local_attn_bwd_patches(const float* __restrict__ attn,
                                                  const float* __restrict__ grad,
                                                  float* __restrict__ g_patches, int B, int C,
                                                  int h, int w, int k) {
    const int pw = w * k, ph = h * k;
    const size_t n = (size_t)B * C * ph * pw;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int pplane = ph * pw;
    const int q = (int)(e % pplane);
    const size_t bc = e / pplane;
    const int b = (int)(bc / C);
    const int py = q / pw, px = q % pw;
    const int y = py / k, i = py % k, x = px / k, j = px % k;
    const int plane = h * w;
    const float gv = grad[bc * plane + y * w + x] * (1.0f / (float)(k * k));
    g_patches[e] = attn[((size_t)b * k * k + i * k + j) * plane + y * w + x] * gv;
}

// d/dA: gA[b,i·k+j,y,x] = Σ_c (g[b,c,y,x] / k²) · P[b,c,y·k+i,x·k+j]; one thread per element.
extern "C" __global__ void local_attn_bwd_attn(const float* __restrict__ patches,
                                               const float* __restrict__ grad,
                                               float* __restrict__ g_attn, int B, int C, int h,
                                               int w, int k) {
    const int kk = k * k, plane = h * w, pw = w * k;
    const size_t n = (size_t)B * kk * plane;
    const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n) return;
    const int pix = (int)(e % plane);
    const int t = (int)((e / plane) % kk);
    const int b = (int)(e / ((size_t)plane * kk));
    const int y = pix / w, x = pix % w, i = t / k, j = t % k;
    const size_t off = (size_t)(y * k + i) * pw + x * k + j;
    const float scale = 1.0f / (float)kk;
    float acc = 0.0f;
    for (int c = 0; c < C; ++c) {
        const size_t bc = (size_t)b * C + c;
        acc += grad[bc * plane + pix] * scale * patches[bc * (size_t)plane * kk + off];
    }
    g_attn[e] = acc;
}
