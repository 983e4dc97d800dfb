// Sum of the luma plane into *sum (zeroed by the caller). Integer sums, so
// the mean equals the CPU's exactly. One warp-level reduction per 32
// threads keeps the atomics few.
extern "C" __global__ void gpustat_luma_sum(const unsigned char *y, int pitch, int width, int height,
                                            unsigned long long *sum) {
    unsigned long long s = 0;
    for (int row = blockIdx.y; row < height; row += gridDim.y) {
        const unsigned char *r = y + (size_t)row * pitch;
        for (int x = blockIdx.x * blockDim.x + threadIdx.x; x < width; x += gridDim.x * blockDim.x) {
            s += r[x];
        }
    }
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if ((threadIdx.x & 31) == 0) atomicAdd(sum, s);
}
