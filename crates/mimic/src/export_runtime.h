#include <stdint.h>

/* A float layer: y = f(W·x + b), W stored transposed (wt[i*out + o]). The k-th
   nonzero input goes to partial sum k mod 4; the sums are added as
   (s0 + s1) + (s2 + s3), then the bias, as mimic's Rust kernels do. Compile with
   -ffp-contract=off for the same floats as Rust. */
static inline void mimic_dense_f32(const float *wt, const float *bias, int in, int out,
                                   float slope, const float *x, float *y, float *sums) {
    int i, o, k = 0;
    for (i = 0; i < 4 * out; i++) sums[i] = 0.0f;
    for (i = 0; i < in; i++) {
        if (x[i] != 0.0f) {
            float *s = sums + (k % 4) * out;
            for (o = 0; o < out; o++) s[o] += x[i] * wt[i * out + o];
            k++;
        }
    }
    for (o = 0; o < out; o++) {
        float z = ((sums[o] + sums[out + o]) + (sums[2 * out + o] + sums[3 * out + o])) + bias[o];
        y[o] = z > 0.0f ? z : slope * z;
    }
}

/* round(acc · multiplier · 2^-(shift - extra)), halves up, as mimic's Requantize. */
static inline int64_t mimic_requantize(int32_t acc, int32_t multiplier, uint8_t shift, int extra) {
    int s = (int)shift - extra;
    int64_t product = (int64_t)acc * (int64_t)multiplier;
    return (product + ((int64_t)1 << (s - 1))) >> s;
}

/* An int8 layer's accumulators: acc = bias + Σ x·w in wrapping 32-bit arithmetic
   (exact, so the order does not matter), skipping zero inputs. */
#define MIMIC_ACCUMULATE(NAME, XTYPE)                                                   \
    static inline void NAME(const int8_t *wt, const int32_t *bias, int in, int out,      \
                            const XTYPE *x, int32_t *acc) {                              \
        int i, o;                                                                        \
        for (o = 0; o < out; o++) acc[o] = bias[o];                                      \
        for (i = 0; i < in; i++) {                                                       \
            int32_t v = (int32_t)x[i];                                                   \
            if (v == 0) continue;                                                        \
            for (o = 0; o < out; o++)                                                    \
                acc[o] = (int32_t)((uint32_t)acc[o] + (uint32_t)(v * (int32_t)wt[i * out + o])); \
        }                                                                                \
    }
MIMIC_ACCUMULATE(mimic_accumulate_u8, uint8_t)
MIMIC_ACCUMULATE(mimic_accumulate_i8, int8_t)

/* The activation and rescaling: one fixed-point multiply for positive
   accumulators and one for the others, per output channel (`plane` consecutive
   accumulators share a channel: 1 for a dense layer, OH*OW for a convolution);
   clamped to ±127 for the next layer, or 8 bits finer and unclamped for the
   logits. */

static inline void mimic_requantize_i8(const int32_t *acc, const int32_t *pm, const uint8_t *ps,
                                       const int32_t *nm, const uint8_t *ns, int out, int plane,
                                       int8_t *y) {
    int o;
    for (o = 0; o < out; o++) {
        int c = o / plane;
        int64_t v = acc[o] > 0 ? mimic_requantize(acc[o], pm[c], ps[c], 0)
                               : mimic_requantize(acc[o], nm[c], ns[c], 0);
        y[o] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
}

static inline void mimic_requantize_logits(const int32_t *acc, const int32_t *pm, const uint8_t *ps,
                                           const int32_t *nm, const uint8_t *ns, int out, int plane,
                                           int32_t *y) {
    int o;
    for (o = 0; o < out; o++) {
        int c = o / plane;
        int64_t v = acc[o] > 0 ? mimic_requantize(acc[o], pm[c], ps[c], 8)
                               : mimic_requantize(acc[o], nm[c], ns[c], 8);
        y[o] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
    }
}

/* A float convolution: x is C×H×W, y CO×OH×OW, w [CO][C][K][K], stride s,
   zero padding p. Each output sums w·x over input channel, kernel row, kernel
   column in that order from +0, then adds the bias, as mimic's Conv2d does;
   terms in the padding are skipped (Rust adds w·0 there, which leaves a sum
   that started at +0 unchanged for finite weights: the same floats). */
static inline void mimic_conv_f32(const float *w, const float *bias, int c, int h, int wd, int co,
                                  int oh, int ow, int k, int s, int p, float slope, const float *x,
                                  float *y) {
    int o, r, q, ci, kh, kw;
    for (o = 0; o < co; o++)
        for (r = 0; r < oh; r++)
            for (q = 0; q < ow; q++) {
                float sum = 0.0f, z;
                for (ci = 0; ci < c; ci++)
                    for (kh = 0; kh < k; kh++) {
                        int ih = r * s + kh - p;
                        if (ih < 0 || ih >= h) continue;
                        for (kw = 0; kw < k; kw++) {
                            int iw = q * s + kw - p;
                            if (iw < 0 || iw >= wd) continue;
                            sum += w[((o * c + ci) * k + kh) * k + kw] * x[(ci * h + ih) * wd + iw];
                        }
                    }
                z = sum + bias[o];
                y[(o * oh + r) * ow + q] = z > 0.0f ? z : slope * z;
            }
}

/* An int8 convolution's accumulators: acc = bias + Σ x·w over each filter in
   wrapping 32-bit arithmetic (exact, so the order does not matter); the padding
   is the value 0 and adds nothing. */
#define MIMIC_CONV(NAME, XTYPE)                                                          \
    static inline void NAME(const int8_t *w, const int32_t *bias, int c, int h, int wd,    \
                            int co, int oh, int ow, int k, int s, int p, const XTYPE *x,   \
                            int32_t *acc) {                                                \
        int o, r, q, ci, kh, kw;                                                           \
        for (o = 0; o < co; o++)                                                           \
            for (r = 0; r < oh; r++)                                                       \
                for (q = 0; q < ow; q++) {                                                 \
                    uint32_t sum = (uint32_t)bias[o];                                      \
                    for (ci = 0; ci < c; ci++)                                             \
                        for (kh = 0; kh < k; kh++) {                                       \
                            int ih = r * s + kh - p;                                       \
                            if (ih < 0 || ih >= h) continue;                               \
                            for (kw = 0; kw < k; kw++) {                                   \
                                int iw = q * s + kw - p;                                   \
                                if (iw < 0 || iw >= wd) continue;                          \
                                sum += (uint32_t)((int32_t)w[((o * c + ci) * k + kh) * k + kw] \
                                                  * (int32_t)x[(ci * h + ih) * wd + iw]);  \
                            }                                                              \
                        }                                                                  \
                    acc[(o * oh + r) * ow + q] = (int32_t)sum;                             \
                }                                                                          \
    }
MIMIC_CONV(mimic_conv_u8, uint8_t)
MIMIC_CONV(mimic_conv_i8, int8_t)

/* Float pooling of each k×k window in steps of s: the largest value (a NaN is
   the largest, the first in reading order wins ties) or the mean (summed row by
   row from +0, then divided by k·k), as mimic's Pool2d. */
static inline void mimic_pool_f32(const float *x, int c, int h, int wd, int oh, int ow, int k,
                                  int s, int mean, float *y) {
    int ch, r, q, i, j;
    for (ch = 0; ch < c; ch++)
        for (r = 0; r < oh; r++)
            for (q = 0; q < ow; q++) {
                const float *window = x + (ch * h + r * s) * wd + q * s;
                float best = window[0], sum = 0.0f;
                for (i = 0; i < k; i++)
                    for (j = 0; j < k; j++) {
                        float v = window[i * wd + j];
                        if (best == best && (v > best || v != v)) best = v;
                        sum += v;
                    }
                y[(ch * oh + r) * ow + q] = mean ? sum / (float)(k * k) : best;
            }
}

/* ⌊a / b⌋ for b > 0 (C's division truncates towards 0). */
static inline int64_t mimic_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* Integer pooling, `extra` bits finer than the input: the largest value, or the
   mean rounded half up, ⌊(Σ·2^extra + n/2) / n⌋ with n = k·k, as mimic's
   QuantizedPool2d; the _logits form is 8 bits finer, as int32. */
#define MIMIC_POOL(NAME, LOGITS, XTYPE)                                                  \
    static inline int64_t NAME##_window(const XTYPE *x, int wd, int k, int mean,           \
                                        int extra) {                                       \
        int i, j;                                                                          \
        int64_t best = x[0], sum = 0, n = (int64_t)k * k;                                  \
        for (i = 0; i < k; i++)                                                            \
            for (j = 0; j < k; j++) {                                                      \
                int64_t v = x[i * wd + j];                                                 \
                if (v > best) best = v;                                                    \
                sum += v;                                                                  \
            }                                                                              \
        return mean ? mimic_floor_div(sum * ((int64_t)1 << extra) + n / 2, n)              \
                    : best * ((int64_t)1 << extra);                                        \
    }                                                                                      \
    static inline void NAME(const XTYPE *x, int c, int h, int wd, int oh, int ow, int k,   \
                            int s, int mean, XTYPE *y) {                                   \
        int ch, r, q;                                                                      \
        for (ch = 0; ch < c; ch++)                                                         \
            for (r = 0; r < oh; r++)                                                       \
                for (q = 0; q < ow; q++)                                                   \
                    y[(ch * oh + r) * ow + q] = (XTYPE)NAME##_window(                      \
                        x + (ch * h + r * s) * wd + q * s, wd, k, mean, 0);                \
    }                                                                                      \
    static inline void LOGITS(const XTYPE *x, int c, int h, int wd, int oh, int ow, int k, \
                              int s, int mean, int32_t *y) {                               \
        int ch, r, q;                                                                      \
        for (ch = 0; ch < c; ch++)                                                         \
            for (r = 0; r < oh; r++)                                                       \
                for (q = 0; q < ow; q++)                                                   \
                    y[(ch * oh + r) * ow + q] = (int32_t)NAME##_window(                    \
                        x + (ch * h + r * s) * wd + q * s, wd, k, mean, 8);                \
    }
MIMIC_POOL(mimic_pool_u8, mimic_pool_logits_u8, uint8_t)
MIMIC_POOL(mimic_pool_i8, mimic_pool_logits_i8, int8_t)

/* Values as logits, 8 bits finer (an int8 network that ends in a flatten). */
#define MIMIC_WIDEN(NAME, XTYPE)                                                         \
    static inline void NAME(const XTYPE *x, int n, int32_t *y) {                           \
        int i;                                                                             \
        for (i = 0; i < n; i++) y[i] = (int32_t)x[i] * 256;                                \
    }
MIMIC_WIDEN(mimic_widen_logits_u8, uint8_t)
MIMIC_WIDEN(mimic_widen_logits_i8, int8_t)

/* The index of the largest value, the first on ties (NaNs never win). */
static inline int mimic_argmax_f32(const float *v, int n) {
    int i, best = 0;
    for (i = 1; i < n; i++) if (v[i] > v[best] || v[best] != v[best]) best = i;
    return best;
}

static inline int mimic_argmax_i32(const int32_t *v, int n) {
    int i, best = 0;
    for (i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return best;
}
