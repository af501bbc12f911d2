// The light tier's network (schemas/EL_v2.md "The network": unshuffle by b, 3x3 convolutions with ReLU between,
// shuffle back, the global residual) in WebAssembly SIMD, with the spec's steps around it: samples in, samples out.
//
// Each convolution runs as Winograd's F(2x2, 3x3) (Lavin and Gray, 2016): a 2x2 block of outputs from a 4x4 block
// of inputs with 16 products per channel pair instead of 36; the spec leaves the order of summation free and its
// tolerance covers the rest. Pairs of rows stream through a ring of three pairs per layer, so a 1080p frame's
// activations stay in the cache; a call computes a band of output rows, so workers split a frame with nothing
// shared. Rows are HWC (channels in 4-wide vectors) with zero columns each side.
#include <stdint.h>
#include <wasm_simd128.h>

typedef v128_t V;
#define ALWAYS static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")
#ifdef RELAXED
#define MADD(a, b, c) wasm_f32x4_relaxed_madd(b, c, a)
#else
#define MADD(a, b, c) wasm_f32x4_add(a, wasm_f32x4_mul(b, c))
#endif
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub

enum { MAX_CONVS = 16, MAX_TILES = 8, MAX_CHANNELS = 32 };

// B^T d B of a 4x4 block of 4 channels (d[i][j]: row i, column j).
ALWAYS void input_transform(const V d[4][4], float *v, int ci_stride) {
  V t[4][4];
  UNROLL for (int j = 0; j < 4; j++) {
    t[0][j] = SUB(d[0][j], d[2][j]);
    t[1][j] = ADD(d[1][j], d[2][j]);
    t[2][j] = SUB(d[2][j], d[1][j]);
    t[3][j] = SUB(d[1][j], d[3][j]);
  }
  UNROLL for (int i = 0; i < 4; i++) {
    wasm_v128_store(v + (4 * i + 0) * ci_stride, SUB(t[i][0], t[i][2]));
    wasm_v128_store(v + (4 * i + 1) * ci_stride, ADD(t[i][1], t[i][2]));
    wasm_v128_store(v + (4 * i + 2) * ci_stride, SUB(t[i][2], t[i][1]));
    wasm_v128_store(v + (4 * i + 3) * ci_stride, SUB(t[i][1], t[i][3]));
  }
}

// The 16 products of n tiles (n <= P): m[tile][pos][co] = sum over ci of v[tile][pos][ci] u[pos][ci][co]. The CO
// outputs of the tiles stay in n * CO / 4 registers (8); each v is splat once and meets each weight vector once.
ALWAYS void products(const float *v, const float *u, float *m, const int CI, const int CO, const int n) {
  const int G = CO / 4;
  for (int pos = 0; pos < 16; pos++) {
    V acc[MAX_TILES];
    UNROLL for (int i = 0; i < n * G; i++) acc[i] = wasm_f32x4_splat(0.0f);
    const float *up = u + pos * CI * CO, *vp = v + pos * CI;
    for (int ci = 0; ci < CI; ci++, up += CO) {
      V wv[MAX_TILES];
      UNROLL for (int g = 0; g < G; g++) wv[g] = wasm_v128_load(up + 4 * g);
      UNROLL for (int p = 0; p < n; p++) {
        const V s = wasm_v128_load32_splat(vp + p * 16 * CI + ci);
        UNROLL for (int g = 0; g < G; g++) acc[p * G + g] = MADD(acc[p * G + g], s, wv[g]);
      }
    }
    UNROLL for (int p = 0; p < n; p++)
      UNROLL for (int g = 0; g < G; g++) wasm_v128_store(m + (p * 16 + pos) * CO + 4 * g, acc[p * G + g]);
  }
}

// A^T m A plus the bias (ReLU where asked) into the 2x2 outputs of one tile at column x of rows o0, o1.
ALWAYS void output_transform(const float *m, const float *bias, float *o0, float *o1, int x, int relu, const int CO) {
  const V zero = wasm_f32x4_splat(0.0f);
  UNROLL for (int g = 0; g < CO / 4; g++) {
    V r[2][4];
    UNROLL for (int j = 0; j < 4; j++) {
      const V m0 = wasm_v128_load(m + (0 + j) * CO + 4 * g), m1 = wasm_v128_load(m + (4 + j) * CO + 4 * g);
      const V m2 = wasm_v128_load(m + (8 + j) * CO + 4 * g), m3 = wasm_v128_load(m + (12 + j) * CO + 4 * g);
      r[0][j] = ADD(ADD(m0, m1), m2);
      r[1][j] = SUB(SUB(m1, m2), m3);
    }
    const V b = wasm_v128_load(bias + 4 * g);
    V y[4] = {ADD(ADD(ADD(r[0][0], r[0][1]), r[0][2]), b), ADD(SUB(SUB(r[0][1], r[0][2]), r[0][3]), b),
              ADD(ADD(ADD(r[1][0], r[1][1]), r[1][2]), b), ADD(SUB(SUB(r[1][1], r[1][2]), r[1][3]), b)};
    if (relu) UNROLL for (int k = 0; k < 4; k++) y[k] = wasm_f32x4_max(y[k], zero);
    wasm_v128_store(o0 + (x + 1) * CO + 4 * g, y[0]);
    wasm_v128_store(o0 + (x + 2) * CO + 4 * g, y[1]);
    wasm_v128_store(o1 + (x + 1) * CO + 4 * g, y[2]);
    wasm_v128_store(o1 + (x + 2) * CO + 4 * g, y[3]);
  }
}

// n tiles from column x on: transform, products, transform back.
ALWAYS void tiles(const float *const in[4], float *o0, float *o1, int x, const float *u, const float *bias, int relu,
                  float *v, float *m, const int CI, const int CO, const int n) {
  for (int p = 0; p < n; p++)
    UNROLL for (int c = 0; c < CI / 4; c++) {
      V d[4][4];
      UNROLL for (int i = 0; i < 4; i++)
        UNROLL for (int j = 0; j < 4; j++) d[i][j] = wasm_v128_load(in[i] + (x + 2 * p + j) * CI + 4 * c);
      input_transform(d, v + p * 16 * CI + 4 * c, CI);
    }
  products(v, u, m, CI, CO, n);
  for (int p = 0; p < n; p++) output_transform(m + p * 16 * CO, bias, o0, o1, x + 2 * p, relu, CO);
}

// Two output rows (o0, o1) from four input rows (in: the rows above, at, below and two below o0).
ALWAYS void conv_pair(const float *const in[4], float *o0, float *o1, int tiles_wide, const float *u,
                      const float *bias, int relu, const int CI, const int CO) {
  enum { SCRATCH = MAX_TILES * 16 * MAX_CHANNELS };
  float v[SCRATCH] __attribute__((aligned(16))), m[SCRATCH] __attribute__((aligned(16)));
  const int P = CO >= 32 ? 1 : 32 / CO;
  int t = 0;
  for (; t + P <= tiles_wide; t += P) tiles(in, o0, o1, 2 * t, u, bias, relu, v, m, CI, CO, P);
  for (; t < tiles_wide; t++) tiles(in, o0, o1, 2 * t, u, bias, relu, v, m, CI, CO, 1);
}

typedef void (*conv_fn)(const float *const[4], float *, float *, int, const float *, const float *, int);
#define INSTANCE(ci, co)                                                                                          \
  static void conv_##ci##_##co(const float *const in[4], float *o0, float *o1, int n, const float *u,            \
                               const float *b, int relu) {                                                       \
    conv_pair(in, o0, o1, n, u, b, relu, ci, co);                                                                 \
  }
#define FOUR(ci) INSTANCE(ci, 4) INSTANCE(ci, 8) INSTANCE(ci, 16) INSTANCE(ci, 32)
FOUR(4) FOUR(8) FOUR(16) FOUR(32)
static const conv_fn CONVS[4][4] = {
    {conv_4_4, conv_4_8, conv_4_16, conv_4_32},     {conv_8_4, conv_8_8, conv_8_16, conv_8_32},
    {conv_16_4, conv_16_8, conv_16_16, conv_16_32}, {conv_32_4, conv_32_8, conv_32_16, conv_32_32}};
static int slot(int c) { return c == 4 ? 0 : c == 8 ? 1 : c == 16 ? 2 : c == 32 ? 3 : -1; }

// One row y of samples into the unshuffled layer's row d (c = B * B channels), centred. B is 2 or 4.
ALWAYS void unshuffle_row(float *d, const uint8_t *s8, const uint16_t *s16, int wide, int width, int i,
                          const float *table, float offset, const unsigned B) {
  for (unsigned x = 0; x < (unsigned)width; x++)
    d[(x / B + 1) * B * B + i * B + x % B] = table[wide ? s16[x] : s8[x]] - offset;
}

// One row of the last layer (B * B channels) back to samples: shuffle, add the input, clip, scale, round half to
// even, each step binary32 as the spec says. Returns 1 where a value is not finite.
ALWAYS int finish_row(const float *net, const uint8_t *s8, const uint16_t *s16, int wide, int width, int residual,
                      const float *table, float peak, void *out, const unsigned B) {
  int bad = 0;
  for (unsigned x = 0; x < (unsigned)width; x++) {
    float v = net[(x / B + 1) * B * B + x % B];
    if (residual) v += table[wide ? s16[x] : s8[x]];
    bad |= v - v != 0.0f;
    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    const float r = __builtin_nearbyintf(v * peak);
    if (wide) ((uint16_t *)out)[x] = (uint16_t)r; else ((uint8_t *)out)[x] = (uint8_t)r;
  }
  return bad;
}

static void zero(float *p, int n) {
  for (int i = 0; i < n; i++) p[i] = 0.0f;
}

/** Output rows [row0, row1) (even, or row1 = h) of the low-resolution grid (h x w: the plane extended to multiples
 * of block, over block). samples: the plane's rows from first_row on (uint8, or uint16 where wide); out: its rows
 * from row0 * block on. shape: cin, cout, relu per convolution; weights: each one's Winograd weights
 * [position][cin][cout], then its cout biases; ring: ring_floats(...) floats. Returns 0, or 1 where a value is
 * not finite. */
int light_forward(const void *samples, int wide, int width, int height, int first_row, int row0, int row1,
                  const float *table, float offset, float peak, int residual, int block, int convs, const int *shape,
                  const float *weights, float *ring, void *out) {
  const int w = (width + block - 1) / block, h = (height + block - 1) / block;
  const int tw = (w + 1) / 2, stride = 2 * tw + 2; // pixels of a ring row: a zero column, 2 tw, one more
  const float *u[MAX_CONVS];
  float *rings[MAX_CONVS + 1];
  int chans[MAX_CONVS + 1];
  chans[0] = block * block;
  rings[0] = ring;
  for (int l = 0; l < convs; l++) {
    u[l] = weights;
    weights += 16 * shape[3 * l] * shape[3 * l + 1] + shape[3 * l + 1];
    chans[l + 1] = shape[3 * l + 1];
    rings[l + 1] = rings[l] + 6 * stride * chans[l];
  }
  const uint8_t *s8 = samples;
  const uint16_t *s16 = samples;
  int bad = 0;
  // step t: layer l makes its pair of rows t - l, from its input's pairs t - l - 1 .. t - l + 1 (the last made now)
  const int pair0 = row0 / 2, pair1 = (row1 + 1) / 2;
  for (int t = pair0 - convs; t < pair1 + convs; t++)
    for (int l = 0; l <= convs; l++) {
      const int q = t - l, c = chans[l], last = l == convs, row = stride * c;
      if (q < pair0 - (convs - l) || q >= pair1 + (convs - l)) continue;
      float *d0 = rings[l] + ((q + 3 * MAX_CONVS) % 3) * 2 * row, *d1 = d0 + row;
      if (!last && (2 * q + 1 < 0 || 2 * q >= h)) { // zero padding beyond the grid
        zero(d0, 2 * row);
        continue;
      }
      if (l == 0) { // unshuffle, centred: channel i block + j holds sample (i, j) of each block; beyond the plane 0
        zero(d0, 2 * row);
        for (int k = 0; k < 2; k++)
          for (int i = 0; i < block && 2 * q + k < h; i++) {
            const int y = (2 * q + k) * block + i;
            if (y < 0 || y >= height) continue;
            const int at = (y - first_row) * width;
            if (block == 2) unshuffle_row(d0 + k * row, s8 + at, s16 + at, wide, width, i, table, offset, 2);
            else unshuffle_row(d0 + k * row, s8 + at, s16 + at, wide, width, i, table, offset, 4);
          }
        continue;
      }
      const int cin = shape[3 * (l - 1)], cout = shape[3 * (l - 1) + 1];
      const float *src = rings[l - 1];
      const int in_row = stride * cin;
      const float *in[4];
      for (int k = 0; k < 4; k++) {
        const int r = 2 * q - 1 + k; // rows 2q - 1 .. 2q + 2 of the layer's input
        in[k] = src + ((((r >> 1) + 3 * MAX_CONVS) % 3) * 2 + (r & 1)) * in_row;
      }
      CONVS[slot(cin)][slot(cout)](in, d0, d1, tw, u[l - 1], u[l - 1] + 16 * cin * cout, shape[3 * (l - 1) + 2]);
      if (!last) { // the zero columns, and the rows and column beyond the grid
        for (int k = 0; k < 2; k++) {
          float *d = d0 + k * row;
          if (2 * q + k >= h) zero(d, row);
          zero(d, cout);
          zero(d + (w + 1) * cout, (stride - w - 1) * cout);
        }
        continue;
      }
      for (int k = 0; k < 2; k++)
        for (int i = 0; i < block; i++) {
          const int y = (2 * q + k) * block + i;
          if (y >= height) break;
          const int at = (y - first_row) * width;
          char *o = (char *)out + (y - row0 * block) * width * (wide ? 2 : 1);
          const float *net = d0 + k * row + i * block;
          bad |= block == 2 ? finish_row(net, s8 + at, s16 + at, wide, width, residual, table, peak, o, 2)
                            : finish_row(net, s8 + at, s16 + at, wide, width, residual, table, peak, o, 4);
        }
    }
  return bad;
}

/** Floats of ring that light_forward needs. */
int ring_floats(int width, int block, int convs, const int *shape) {
  const int w = (width + block - 1) / block, stride = 2 * ((w + 1) / 2) + 2;
  int n = 6 * stride * block * block;
  for (int l = 0; l < convs; l++) n += 6 * stride * shape[3 * l + 1];
  return n;
}
