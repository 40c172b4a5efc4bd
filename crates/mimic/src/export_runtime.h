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
   accumulators and one for the others; clamped to ±127 for the next layer, or
   8 bits finer and unclamped for the logits. */

static inline void mimic_requantize_i8(const int32_t *acc, const int32_t *pm, const uint8_t *ps,
                                       const int32_t *nm, const uint8_t *ns, int out, int8_t *y) {
    int o;
    for (o = 0; o < out; o++) {
        int64_t v = acc[o] > 0 ? mimic_requantize(acc[o], pm[o], ps[o], 0)
                               : mimic_requantize(acc[o], nm[o], ns[o], 0);
        y[o] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
}

static inline void mimic_requantize_logits(const int32_t *acc, const int32_t *pm, const uint8_t *ps,
                                           const int32_t *nm, const uint8_t *ns, int out, int32_t *y) {
    int o;
    for (o = 0; o < out; o++) {
        int64_t v = acc[o] > 0 ? mimic_requantize(acc[o], pm[o], ps[o], 8)
                               : mimic_requantize(acc[o], nm[o], ns[o], 8);
        y[o] = (int32_t)(v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : v);
    }
}

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
