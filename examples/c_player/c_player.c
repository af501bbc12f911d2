/* c_player: enhance every frame of a decoded base layer (Y4M, 8 or 10-bit 4:2:0) through libmtvir: luma, and
 * chroma where the EL has models for it (mtvir_enhance_frame).
 *
 *   c_player EL.mtvir IN.y4m OUT.y4m        (- for stdin / stdout)
 *
 * If the EL cannot be opened or does not fit the video, the frames are copied through untouched, as a player
 * keeps showing the base layer, and the reason goes to stderr. Exit status: 0 when frames came out, 1 on a
 * broken Y4M or an I/O failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtvir.h"

static int parse_header(const char *line, int *w, int *h, int *depth) {
    const char *p = line;
    *w = *h = 0;
    *depth = 8;
    if (strncmp(p, "YUV4MPEG2", 9) != 0) return -1;
    while ((p = strchr(p, ' ')) != NULL) {
        p++;
        if (*p == 'W') *w = atoi(p + 1);
        else if (*p == 'H') *h = atoi(p + 1);
        else if (*p == 'C') {
            if (strncmp(p + 1, "420p10", 6) == 0) *depth = 10;
            else if (strncmp(p + 1, "420p12", 6) == 0) *depth = 12;
            else if (strncmp(p + 1, "420", 3) != 0) return -1; /* 4:2:0 only */
        }
    }
    return (*w > 0 && *h > 0 && *w <= 16384 && *h <= 16384) ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s EL.mtvir IN.y4m OUT.y4m   (- for stdin/stdout)\n", argv[0]);
        return 2;
    }
    FILE *in = strcmp(argv[2], "-") ? fopen(argv[2], "rb") : stdin;
    FILE *out = strcmp(argv[3], "-") ? fopen(argv[3], "wb") : stdout;
    if (!in || !out) {
        perror("c_player");
        return 1;
    }
    char line[512];
    int w, h, depth;
    if (!fgets(line, sizeof line, in) || parse_header(line, &w, &h, &depth) != 0) {
        fprintf(stderr, "c_player: not a 4:2:0 Y4M stream\n");
        return 1;
    }
    fputs(line, out);

    mtvir_el *el = NULL;
    mtvir_info info;
    int rc = mtvir_open_file(argv[1], &el);
    if (rc == MTVIR_OK && (rc = mtvir_get_info(el, &info)) == MTVIR_OK &&
        ((info.width && (info.width != w || info.height != h)) || (info.bit_depth && info.bit_depth != depth))) {
        fprintf(stderr, "c_player: the EL is for %dx%d %d-bit, the video is %dx%d %d-bit\n", info.width,
                info.height, info.bit_depth, w, h, depth);
        rc = MTVIR_ERR_MISMATCH;
    }
    if (rc != MTVIR_OK) {
        fprintf(stderr, "c_player: EL not used (error %d: %s): the base layer plays alone\n", rc, mtvir_last_error());
        mtvir_close(el);
        el = NULL;
    } else {
        fprintf(stderr, "c_player: libmtvir %s, %s, planes %s\n", mtvir_version(), mtvir_provider(el),
                mtvir_planes(el));
    }

    size_t sample = depth > 8 ? 2 : 1;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    size_t luma = (size_t)w * h * sample, chroma = 2 * (size_t)cw * ch * sample;
    unsigned char *frame = malloc(luma + chroma);
    if (!frame) return 1;
    int index = 0;
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, "FRAME", 5) != 0 || fread(frame, 1, luma + chroma, in) != luma + chroma) {
            fprintf(stderr, "c_player: broken Y4M frame %d\n", index);
            return 1;
        }
        unsigned char *u = frame + luma, *v = u + chroma / 2;
        if (el && (rc = mtvir_enhance_frame(el, frame, (ptrdiff_t)(w * sample), u, (ptrdiff_t)(cw * sample), v,
                                            (ptrdiff_t)(cw * sample), w, h, cw, ch, depth, index)) != MTVIR_OK) {
            fprintf(stderr, "c_player: frame %d left as decoded (error %d: %s)\n", index, rc, mtvir_last_error());
        }
        fputs("FRAME\n", out);
        if (fwrite(frame, 1, luma + chroma, out) != luma + chroma) {
            perror("c_player");
            return 1;
        }
        index++;
    }
    mtvir_close(el);
    free(frame);
    if (out != stdout) fclose(out);
    fprintf(stderr, "c_player: %d frames\n", index);
    return 0;
}
