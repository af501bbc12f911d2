/* av_player: decode a base layer (MP4/MKV/TS with HEVC, AV1, H.264...) with libavformat/libavcodec, enhance every
 * frame in place through libmtvir (luma, and chroma where the EL has models for it), write the frames as Y4M.
 *
 *   av_player BL.mp4 EL.mtvir OUT.y4m      (- for stdout; 8-bit yuv420p and 10-bit yuv420p10 streams)
 *   av_player --tier light BL.mp4 ...      the tier of a tiered EL (default auto: the most complex tier that
 *                                          runs in real time at the stream's frame rate here)
 *   av_player BL.mp4 OUT.y4m               the EL the BL carries in band: libavcodec hands each SEI "user data
 *                                          unregistered" message to the frame as side data (HEVC, H.264); AV1's
 *                                          metadata OBUs are read from the packets; an MTVIR message is a
 *                                          small EL for the group starting at that frame
 *
 * An EL that cannot be opened or does not fit is reported once and the decoded frames go out untouched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>

#include "mtvir.h"

/* MTVIR's SEI UUID (schemas/EL_v2.md, in-band carriage) */
static const uint8_t MTVIR_UUID[16] = {0x4d, 0xe0, 0xb0, 0x74, 0xe2, 0xc2, 0x52, 0x4c,
                                       0xba, 0xb7, 0x97, 0x98, 0xee, 0x27, 0x12, 0x83};

static const char *tier = "auto";
static double fps = 0;

static void say_tier(mtvir_el *el) {
    static const char *said = NULL;
    const char *name = mtvir_tier(el);
    if (name && (!said || strcmp(said, name))) {
        fprintf(stderr, "av_player: EL tier %s, %d MAC/px, planes %s\n", name, mtvir_macs_per_pixel(el),
                mtvir_planes(el));
        said = name;
    }
}

/* An in-band EL message: a small EL for the group starting at this frame; it replaces the handle in use. */
static mtvir_el *use_message(const uint8_t *message, size_t size, mtvir_el *el, int index) {
    mtvir_el *next = NULL;
    if (mtvir_open_memory_tier(message, size, tier, fps, &next) != MTVIR_OK) {
        fprintf(stderr, "av_player: the EL message at frame %d is not used (%s): its frames play as the BL\n",
                index, mtvir_last_error());
        next = NULL;
    } else {
        say_tier(next);
    }
    mtvir_close(el);
    return next;
}

/* HEVC, H.264: libavcodec hands the frame its SEI "user data unregistered" messages as side data. */
static mtvir_el *in_band(const AVFrame *f, mtvir_el *el, int index) {
    for (int k = 0; k < f->nb_side_data; k++) {
        const AVFrameSideData *sd = f->side_data[k];
        if (sd->type == AV_FRAME_DATA_SEI_UNREGISTERED && sd->size >= 16 && !memcmp(sd->data, MTVIR_UUID, 16))
            return use_message(sd->data + 16, sd->size - 16, el, index);
    }
    return el;
}

/* AV1: libdav1d skips user-private metadata, so the messages are read from each temporal unit's OBUs (metadata
 * type 6, the UUID, the message, trailing bits) and kept by the packet's pts until that frame comes out. */
enum { AV1_METADATA_TYPE = 6, PENDING = 64 };
static struct { int64_t pts; uint8_t *data; size_t size; } pending[PENDING];

static int leb128(const uint8_t *p, const uint8_t *end, uint64_t *value, const uint8_t **next) {
    *value = 0;
    for (int k = 0; k < 8 && p < end; k++, p++) {
        *value |= (uint64_t)(*p & 0x7f) << (7 * k);
        if (!(*p & 0x80)) {
            *next = p + 1;
            return 0;
        }
    }
    return -1;
}

static void keep_av1_messages(const AVPacket *pkt) {
    const uint8_t *p = pkt->data, *end = pkt->data + pkt->size;
    while (p < end) {
        uint8_t header = *p++;
        if (header & 0x80 || (header & 4 && p++ >= end)) return; /* forbidden bit; extension byte */
        uint64_t size = (uint64_t)(end - p);
        if (header & 2 && leb128(p, end, &size, &p)) return;
        if (size > (uint64_t)(end - p)) return;
        const uint8_t *obu = p;
        p += size;
        if ((header >> 3 & 15) != 5 || size < 18 || obu[0] != AV1_METADATA_TYPE || memcmp(obu + 1, MTVIR_UUID, 16))
            continue;
        size_t n = size - 17;
        while (n && obu[17 + n - 1] == 0) n--; /* trailing bits: 0x80, then zero bytes */
        if (!n || obu[17 + n - 1] != 0x80) continue;
        int slot = 0; /* a free slot, else the oldest message's: a hostile stream cannot grow this */
        for (int k = 0; k < PENDING; k++) {
            if (!pending[k].data) { slot = k; break; }
            if (pending[k].pts < pending[slot].pts) slot = k;
        }
        free(pending[slot].data);
        pending[slot].data = malloc(n - 1);
        if (!pending[slot].data) return;
        memcpy(pending[slot].data, obu + 17, n - 1);
        pending[slot].size = n - 1;
        pending[slot].pts = pkt->pts;
    }
}

static mtvir_el *in_band_av1(const AVFrame *f, mtvir_el *el, int index) {
    for (int k = 0; k < PENDING; k++) {
        if (!pending[k].data || pending[k].pts != f->pts) continue;
        el = use_message(pending[k].data, pending[k].size, el, index);
        free(pending[k].data);
        pending[k].data = NULL;
    }
    return el;
}

static int write_frame(FILE *out, const AVFrame *f, int sample) {
    fputs("FRAME\n", out);
    for (int p = 0; p < 3; p++) {
        int w = p ? (f->width + 1) / 2 : f->width, h = p ? (f->height + 1) / 2 : f->height;
        for (int y = 0; y < h; y++)
            if (fwrite(f->data[p] + (ptrdiff_t)y * f->linesize[p], sample, w, out) != (size_t)w) return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "--tier")) {
        tier = argv[2];
        argv[2] = argv[0];
        argc -= 2;
        argv += 2;
    }
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s [--tier auto|light|full|heavy] BL.mp4 [EL.mtvir] OUT.y4m\n", argv[0]);
        return 2;
    }
    const char *el_path = argc == 4 ? argv[2] : NULL, *out_path = argv[argc - 1];
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, argv[1], NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0) {
        fprintf(stderr, "av_player: cannot open %s\n", argv[1]);
        return 1;
    }
    const AVCodec *codec = NULL;
    int stream = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream < 0) {
        fprintf(stderr, "av_player: no video stream in %s\n", argv[1]);
        return 1;
    }
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    if (!dec || avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar) < 0
        || avcodec_open2(dec, codec, NULL) < 0 || dec->width <= 0 || dec->height <= 0) {
        fprintf(stderr, "av_player: cannot decode the video stream of %s\n", argv[1]);
        return 1;
    }
    fps = av_q2d(fmt->streams[stream]->avg_frame_rate);
    int depth = dec->pix_fmt == AV_PIX_FMT_YUV420P10LE ? 10 : 8;
    if (dec->pix_fmt != AV_PIX_FMT_YUV420P && depth != 10) {
        fprintf(stderr, "av_player: %s not handled (yuv420p or yuv420p10le)\n", av_get_pix_fmt_name(dec->pix_fmt));
        return 1;
    }
    FILE *out = strcmp(out_path, "-") ? fopen(out_path, "wb") : stdout;
    if (!out) return 1;
    fprintf(out, "YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C%s\n", dec->width, dec->height, depth == 8 ? "420jpeg" : "420p10");

    mtvir_el *el = NULL;
    int enhanced = 0;
    if (el_path && mtvir_open_file_tier(el_path, tier, fps, &el) != MTVIR_OK) {
        fprintf(stderr, "av_player: EL not used (%s): the base layer plays alone\n", mtvir_last_error());
        el = NULL;
    } else if (el) {
        say_tier(el);
    }
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int index = 0, warned = 0, eof = 0;
    while (!eof) {
        int rc = av_read_frame(fmt, pkt);
        if (rc < 0) {
            eof = 1;
            avcodec_send_packet(dec, NULL); /* flush */
        } else if (pkt->stream_index == stream) {
            if (!el_path && dec->codec_id == AV_CODEC_ID_AV1) keep_av1_messages(pkt);
            avcodec_send_packet(dec, pkt);
        }
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, frame) == 0) {
            if (frame->width != dec->width || frame->height != dec->height || frame->format != dec->pix_fmt) {
                /* a damaged stream that changes size or format mid-way: Y4M cannot follow it */
                fprintf(stderr, "av_player: frame %d is %dx%d, not the stream's %dx%d: stopped\n", index,
                        frame->width, frame->height, dec->width, dec->height);
                return 1;
            }
            if (!el_path)
                el = dec->codec_id == AV_CODEC_ID_AV1 ? in_band_av1(frame, el, index) : in_band(frame, el, index);
            /* decoded frames may be shared with the decoder's references: enhance a private copy */
            if (el && av_frame_make_writable(frame) == 0) {
                int e = mtvir_enhance_frame(el, frame->data[0], frame->linesize[0], frame->data[1], frame->linesize[1],
                                            frame->data[2], frame->linesize[2], frame->width, frame->height,
                                            (frame->width + 1) / 2, (frame->height + 1) / 2, depth, index);
                enhanced |= e == MTVIR_OK;
                if (e != MTVIR_OK && !warned) {
                    fprintf(stderr, "av_player: frame %d left as decoded (error %d: %s)\n", index, e, mtvir_last_error());
                    warned = 1;
                }
            }
            if (write_frame(out, frame, depth > 8 ? 2 : 1) != 0) return 1;
            index++;
        }
    }
    fprintf(stderr, "av_player: %d frames%s\n", index, enhanced ? ", enhanced" : "");
    mtvir_close(el);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    if (out != stdout) fclose(out);
    return 0;
}
