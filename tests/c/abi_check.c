/* Checks of the C ABI that a player relies on: error codes, untouched planes on failure, several threads with
 * their own handles giving the same result as one. Prints "ok ..." lines; exits non-zero on the first failure.
 *   abi_check EL.mtvir WIDTH HEIGHT    (an 8-bit EL for frames of that size; the frame is synthetic) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtvir.h"

#define CHECK(cond, what)                                                           \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "FAILED: %s (last error: %s)\n", what, mtvir_last_error()); \
            exit(1);                                                                \
        }                                                                           \
        printf("ok %s\n", what);                                                    \
    } while (0)

static const char *el_path;
static int W, H;
static unsigned char *expected;

static void fill(unsigned char *p, int stride) {
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) p[y * stride + x] = (unsigned char)((x * 7 + y * 13 + (x * y) % 29) & 0xff);
}

static void *worker(void *arg) {
    mtvir_el *el = NULL;
    unsigned char *p = malloc((size_t)W * H);
    int failures = 0;
    if (mtvir_open_file(el_path, &el) != MTVIR_OK) return (void *)1;
    for (int round = 0; round < 3; round++) {
        fill(p, W);
        if (mtvir_enhance(el, p, W, W, H, 8, 0) != MTVIR_OK || memcmp(p, expected, (size_t)W * H)) failures++;
    }
    mtvir_close(el);
    free(p);
    (void)arg;
    return (void *)(size_t)failures;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    el_path = argv[1];
    W = atoi(argv[2]);
    H = atoi(argv[3]);
    CHECK(mtvir_abi_version() == MTVIR_ABI_VERSION, "abi version");
    CHECK(strlen(mtvir_version()) > 0, "version string");

    mtvir_el *el = NULL;
    CHECK(mtvir_open_file("/nonexistent/x.mtvir", &el) == MTVIR_ERR_IO && el == NULL, "missing file -> MTVIR_ERR_IO");
    CHECK(strstr(mtvir_last_error(), "nonexistent") != NULL, "last error names the file");
    const uint8_t junk[16] = "not an EL at all";
    CHECK(mtvir_open_memory(junk, sizeof junk, &el) == MTVIR_ERR_FORMAT && el == NULL, "junk -> MTVIR_ERR_FORMAT");
    CHECK(mtvir_open_memory(NULL, 0, &el) == MTVIR_ERR_ARGUMENT, "NULL buffer -> MTVIR_ERR_ARGUMENT");

    FILE *f = fopen(el_path, "rb");
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(mtvir_open_memory(buf, n, &el) == MTVIR_OK && el != NULL, "open from memory");
    mtvir_info info;
    CHECK(mtvir_get_info(el, &info) == MTVIR_OK && info.width == W && info.height == H && info.bit_depth == 8,
          "info");
    CHECK(strstr(mtvir_provider(el), "ExecutionProvider") != NULL, "provider");

    /* one frame in a plane with padding: stride > width, the padding must stay as it was */
    int stride = W + 32;
    unsigned char *plane = malloc((size_t)stride * H), *before = malloc((size_t)stride * H);
    memset(plane, 0xAB, (size_t)stride * H);
    fill(plane, stride);
    memcpy(before, plane, (size_t)stride * H);
    CHECK(mtvir_enhance(el, plane, stride, W, H, 8, 0) == MTVIR_OK, "enhance with a stride");
    int changed = 0, padding_ok = 1;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) changed += plane[y * stride + x] != before[y * stride + x];
        for (int x = W; x < stride; x++) padding_ok &= plane[y * stride + x] == 0xAB;
    }
    CHECK(changed > 0, "the EL changes the picture");
    CHECK(padding_ok, "padding beyond the width untouched");
    expected = malloc((size_t)W * H);
    for (int y = 0; y < H; y++) memcpy(expected + (size_t)y * W, plane + (size_t)y * stride, W);

    memcpy(plane, before, (size_t)stride * H);
    CHECK(mtvir_enhance(el, plane, stride, W + 2, H, 8, 0) == MTVIR_ERR_MISMATCH, "wrong size -> MTVIR_ERR_MISMATCH");
    CHECK(memcmp(plane, before, (size_t)stride * H) == 0, "plane untouched after a mismatch");
    CHECK(mtvir_enhance(el, plane, stride, W, H, 10, 0) != MTVIR_OK, "wrong bit depth refused");
    CHECK(mtvir_enhance(el, plane, W - 1, W, H, 8, 0) == MTVIR_ERR_ARGUMENT, "short stride -> MTVIR_ERR_ARGUMENT");
    CHECK(mtvir_enhance(el, NULL, stride, W, H, 8, 0) == MTVIR_ERR_ARGUMENT, "NULL plane -> MTVIR_ERR_ARGUMENT");
    CHECK(mtvir_enhance((mtvir_el *)plane, plane, stride, W, H, 8, 0) == MTVIR_ERR_ARGUMENT,
          "unknown handle -> MTVIR_ERR_ARGUMENT");
    CHECK(memcmp(plane, before, (size_t)stride * H) == 0, "plane untouched after every failure");
    /* the whole-frame call: luma as mtvir_enhance gives it; chroma this luma EL has no model for stays as it is */
    CHECK(strcmp(mtvir_planes(el), "y") == 0, "planes of a luma EL");
    int cw = (W + 1) / 2, ch = (H + 1) / 2;
    unsigned char *u = malloc((size_t)cw * ch), *v = malloc((size_t)cw * ch);
    memset(u, 100, (size_t)cw * ch), memset(v, 150, (size_t)cw * ch);
    CHECK(mtvir_enhance_frame(el, plane, stride, u, cw, v, cw, W, H, cw, ch, 8, 0) == MTVIR_OK, "enhance a frame");
    int same = 1, untouched = 1;
    for (int y = 0; y < H; y++) same &= memcmp(plane + (size_t)y * stride, expected + (size_t)y * W, W) == 0;
    for (size_t i = 0; i < (size_t)cw * ch; i++) untouched &= u[i] == 100 && v[i] == 150;
    CHECK(same && untouched, "frame call: luma as mtvir_enhance, uncovered chroma untouched");
    memcpy(plane, before, (size_t)stride * H);
    CHECK(mtvir_enhance_frame(el, plane, stride, u, cw, NULL, cw, W, H, cw, ch, 8, 0) == MTVIR_ERR_ARGUMENT,
          "u without v -> MTVIR_ERR_ARGUMENT");
    CHECK(mtvir_enhance_frame(el, plane, stride, NULL, 0, NULL, 0, W, H, 0, 0, 8, 0) == MTVIR_OK,
          "frame call with luma alone");
    memcpy(plane, before, (size_t)stride * H);
    free(u), free(v);
    mtvir_close(el);
    CHECK(mtvir_enhance(el, plane, stride, W, H, 8, 0) == MTVIR_ERR_ARGUMENT, "closed handle -> MTVIR_ERR_ARGUMENT");
    mtvir_close(NULL);

    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, NULL);
    size_t failures = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(threads[i], &r);
        failures += (size_t)r;
    }
    CHECK(failures == 0, "4 threads, a handle each, same result as one");
    free(plane), free(before), free(expected);
    return 0;
}
