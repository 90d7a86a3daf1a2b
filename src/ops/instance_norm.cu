// Fused instance norm + activation (see instance_norm.rs): one block per (sample, channel)
// plane computes the mean, the biased variance and the normalised, affine, activated output in
// one launch, where the composed candle ops take about ten.

// Sum over the block; every thread gets the result. `red` holds one partial per warp.
__device__ __forceinline__ float block_sum(float v, float* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();  // `red` may still be read from the previous reduction
    if (lane == 0) red[warp] = v;
    __syncthreads();
    const int nwarps = (blockDim.x + 31) >> 5;
    v = lane < nwarps ? red[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}

// act: 0 none, 1 LeakyReLU(slope), 2 ReLU. weight/bias are read only when `affine` is set.
__device__ __forceinline__ void instance_norm_plane(const float* __restrict__ x,
                                                    const float* __restrict__ weight,
                                                    const float* __restrict__ bias,
                                                    float* __restrict__ y, int C, int n,
                                                    float eps, int act, float slope,
                                                    bool affine) {
    __shared__ float red[32];
    const size_t plane = blockIdx.x;
    const int c = (int)(plane % C);
    const float* xp = x + plane * n;
    float* yp = y + plane * n;
    float s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += xp[i];
    const float mean = block_sum(s, red) / (float)n;
    float v = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float d = xp[i] - mean;
        v += d * d;
    }
    const float den = sqrtf(block_sum(v, red) / (float)n + eps);
    const float sc = affine ? weight[c] : 1.0f, sh = affine ? bias[c] : 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float t = (xp[i] - mean) / den;
        if (affine) t = t * sc + sh;
        if (act == 1) t = fmaxf(t, slope * t);
        else if (act == 2) t = fmaxf(t, 0.0f);
        yp[i] = t;
    }
}

// grid: one block per plane (B·C); x, y (B, C, n).
extern "C" __global__ void instance_norm_affine(const float* __restrict__ x,
                                                const float* __restrict__ weight,
                                                const float* __restrict__ bias,
                                                float* __restrict__ y, int C, int n, float eps,
                                                int act, float slope) {
    instance_norm_plane(x, weight, bias, y, C, n, eps, act, slope, true);
}

extern "C" __global__ void instance_norm_plain(const float* __restrict__ x, float* __restrict__ y,
                                               int C, int n, float eps, int act, float slope) {
    instance_norm_plane(x, nullptr, nullptr, y, C, n, eps, act, slope, false);
}
