/* mtvir.h: the C ABI of the MTVIR decoder SDK (libmtvir, built with `python -m mtvir_decoder.capi.build`).
 *
 * A player opens an enhancement layer (EL) once and enhances the luma plane of each decoded base-layer frame in
 * place. Every call returns an error code (MTVIR_OK is 0, failures are negative) and never aborts; on failure
 * the plane is left untouched and mtvir_last_error() describes what went wrong. Handles are independent:
 * several threads may each use their own handle at the same time. The library embeds CPython (cffi) and runs
 * the network with ONNX Runtime (CUDA when it loads, else CPU). It starts the Python environment it was built
 * from (recorded at build time), whatever the caller's PATH, working folder or PYTHON* variables.
 */
#ifndef MTVIR_H
#define MTVIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cffi-begin: everything up to cffi-end is also the declaration cffi builds the library from */
#define MTVIR_ABI_VERSION 3  /* 2 added the tiers, 3 the whole frame (colour); every earlier call is unchanged */

#define MTVIR_OK 0
#define MTVIR_ERR_ARGUMENT -1  /* a null pointer, a bad size, stride or bit depth, an unknown handle */
#define MTVIR_ERR_IO -2        /* the EL file cannot be read */
#define MTVIR_ERR_FORMAT -3    /* the bytes are not a valid EL (corrupt, truncated, unsupported version) */
#define MTVIR_ERR_REFERENCE -4 /* the EL needs a reference model that is not installed, or another one */
#define MTVIR_ERR_MISMATCH -5  /* the frame does not match the EL: size, bit depth, frame index */
#define MTVIR_ERR_RUNTIME -6   /* ONNX Runtime failed */
#define MTVIR_ERR_INTERNAL -7  /* anything else (a bug: please report it with mtvir_last_error()) */
#define MTVIR_ERR_ENVIRONMENT -8 /* the library's own Python environment could not start (moved, deleted,
                                    broken): every call then fails with this code; mtvir_last_error() says why */

typedef struct mtvir_el mtvir_el;  /* opaque */

typedef struct mtvir_info {
    int width;        /* frame size the EL applies to; 0 means any */
    int height;
    int bit_depth;    /* 8..16; 0 means any */
    int frame_count;  /* frames of the video; 0 means any */
    int groups;       /* models in the EL (0: the EL enhances nothing) */
} mtvir_info;

/* ABI version (MTVIR_ABI_VERSION) and the SDK's version string (both answer without starting Python). */
int mtvir_abi_version(void);
const char *mtvir_version(void);

/* Open an EL from a file or from memory (the buffer is copied). *out is set only on success. */
int mtvir_open_file(const char *path, mtvir_el **out);
int mtvir_open_memory(const uint8_t *data, size_t size, mtvir_el **out);

/* The same, choosing the tier of a tiered EL: tier "auto" (or NULL: the most complex tier this machine runs in
 * real time at fps frames per second, timed once on a probe; fps <= 0 means 30), "light", "full" or "heavy" (a
 * tier the EL lacks: MTVIR_ERR_MISMATCH). An EL without tiers is its own "full" tier. */
int mtvir_open_file_tier(const char *path, const char *tier, double fps, mtvir_el **out);
int mtvir_open_memory_tier(const uint8_t *data, size_t size, const char *tier, double fps, mtvir_el **out);

/* The tier in use ("light", "full", "heavy"; NULL on failure) and its multiply-accumulates per pixel (negative:
 * an error code). */
const char *mtvir_tier(mtvir_el *el);
int mtvir_macs_per_pixel(mtvir_el *el);

/* What the EL applies to (*info is written only on success), and the ONNX Runtime execution provider in use
 * ("CPUExecutionProvider"...; NULL on failure). */
int mtvir_get_info(mtvir_el *el, mtvir_info *info);
const char *mtvir_provider(mtvir_el *el);

/* Enhance one luma plane in place. samples: 8-bit planes are uint8_t (bit_depth 8); deeper ones uint16_t in
 * native byte order (bit_depth 9..16). stride: bytes from one row to the next (>= width * sample size).
 * frame_index: the frame's number in display order (-1: the EL's only group). */
int mtvir_enhance(mtvir_el *el, void *plane, ptrdiff_t stride, int width, int height, int bit_depth,
                  int frame_index);

/* ABI 3. The planes the EL enhances in the tier in use: "y", "yuv", "uv", "v"... (chroma only from an EL of
 * version 4; NULL on failure). A player that shows chroma calls mtvir_enhance_frame, one that enhances luma alone
 * mtvir_enhance, which never reads a chroma model. */
const char *mtvir_planes(mtvir_el *el);

/* ABI 3. Enhance a whole decoded frame in place: luma, and each chroma plane the tier has a model for (planes it
 * has none for are left as they are; so is chroma when u and v are NULL). Samples and strides as in
 * mtvir_enhance; width x height is the luma size, chroma_width x chroma_height the size of U and V (in 4:2:0:
 * (width + 1) / 2 x (height + 1) / 2; chroma of another size than the EL's chroma format gives is
 * MTVIR_ERR_MISMATCH). On any failure no plane is changed. */
int mtvir_enhance_frame(mtvir_el *el, void *y, ptrdiff_t y_stride, void *u, ptrdiff_t u_stride, void *v,
                        ptrdiff_t v_stride, int width, int height, int chroma_width, int chroma_height,
                        int bit_depth, int frame_index);

/* The last failure of the calling thread, in English; valid until its next call into the library. */
const char *mtvir_last_error(void);

/* Release the handle (a null handle is ignored). */
void mtvir_close(mtvir_el *el);
/* cffi-end */

#ifdef __cplusplus
}
#endif

#endif /* MTVIR_H */
