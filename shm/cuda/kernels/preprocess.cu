// NV12 -> planar RGB float32, bilinear resize, per-channel normalisation.
// One thread per output pixel. The math mirrors PreprocessNV12 in
// shm/cuda/preprocess.go step for step (compiled with --fmad=false), so the
// two agree to float rounding; change both together.

#define KY 1.164383f
#define KRV 1.596027f
#define KGU 0.391762f
#define KGV 0.812968f
#define KBU 2.017232f

__device__ static float clamp255(float v) { return fminf(fmaxf(v, 0.0f), 255.0f); }

__device__ static void nv12_rgb(const unsigned char *src, int pitch, int height,
                                int x, int y, float *r, float *g, float *b) {
    float yy = (float)src[y * pitch + x] - 16.0f;
    const unsigned char *c = src + (size_t)height * pitch + (y >> 1) * pitch + (x >> 1) * 2;
    float u = (float)c[0] - 128.0f;
    float v = (float)c[1] - 128.0f;
    *r = clamp255(KY * yy + KRV * v);
    *g = clamp255(KY * yy - KGU * u - KGV * v);
    *b = clamp255(KY * yy + KBU * u);
}

// Half-pixel centres (align_corners=false), clamped at the edges.
__device__ static void src_coord(int d, int dst_n, int src_n, int *i0, int *i1, float *f) {
    float s = ((float)d + 0.5f) * (float)src_n / (float)dst_n - 0.5f;
    s = fmaxf(s, 0.0f);
    int i = min((int)s, src_n - 1);
    *i0 = i;
    *i1 = min(i + 1, src_n - 1);
    *f = s - (float)i;
}

__device__ static float lerp2(float v00, float v01, float v10, float v11, float fx, float fy) {
    float top = v00 + (v01 - v00) * fx;
    float bot = v10 + (v11 - v10) * fx;
    return top + (bot - top) * fy;
}

extern "C" __global__ void lsie_nv12_to_planar(
    const unsigned char *src, int pitch, int width, int height,
    float *dst, int out_w, int out_h,
    float mean0, float mean1, float mean2,
    float std0, float std1, float std2) {
    int ox = blockIdx.x * blockDim.x + threadIdx.x;
    int oy = blockIdx.y * blockDim.y + threadIdx.y;
    if (ox >= out_w || oy >= out_h) return;
    int x0, x1, y0, y1;
    float fx, fy;
    src_coord(ox, out_w, width, &x0, &x1, &fx);
    src_coord(oy, out_h, height, &y0, &y1, &fy);
    float r00, g00, b00, r01, g01, b01, r10, g10, b10, r11, g11, b11;
    nv12_rgb(src, pitch, height, x0, y0, &r00, &g00, &b00);
    nv12_rgb(src, pitch, height, x1, y0, &r01, &g01, &b01);
    nv12_rgb(src, pitch, height, x0, y1, &r10, &g10, &b10);
    nv12_rgb(src, pitch, height, x1, y1, &r11, &g11, &b11);
    size_t plane = (size_t)out_w * out_h;
    size_t i = (size_t)oy * out_w + ox;
    dst[i] = (lerp2(r00, r01, r10, r11, fx, fy) / 255.0f - mean0) / std0;
    dst[plane + i] = (lerp2(g00, g01, g10, g11, fx, fy) / 255.0f - mean1) / std1;
    dst[2 * plane + i] = (lerp2(b00, b01, b10, b11, fx, fy) / 255.0f - mean2) / std2;
}
