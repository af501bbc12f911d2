/* av_player: decode a base layer (MP4/MKV with HEVC, AV1, H.264...) with libavformat/libavcodec, enhance the
 * luma of every frame in place through libmtvir, write the frames as Y4M.
 *
 *   av_player BL.mp4 EL.mtvir OUT.y4m      (- for stdout; 8-bit yuv420p and 10-bit yuv420p10 streams)
 *
 * An EL that cannot be opened or does not fit is reported once and the decoded frames go out untouched.
 */
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>

#include "mtvir.h"

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
    if (argc != 4) {
        fprintf(stderr, "usage: %s BL.mp4 EL.mtvir OUT.y4m\n", argv[0]);
        return 2;
    }
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
    avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar);
    if (avcodec_open2(dec, codec, NULL) < 0) return 1;
    int depth = dec->pix_fmt == AV_PIX_FMT_YUV420P10LE ? 10 : 8;
    if (dec->pix_fmt != AV_PIX_FMT_YUV420P && depth != 10) {
        fprintf(stderr, "av_player: %s not handled (yuv420p or yuv420p10le)\n", av_get_pix_fmt_name(dec->pix_fmt));
        return 1;
    }
    FILE *out = strcmp(argv[3], "-") ? fopen(argv[3], "wb") : stdout;
    if (!out) return 1;
    fprintf(out, "YUV4MPEG2 W%d H%d F25:1 Ip A1:1 C%s\n", dec->width, dec->height, depth == 8 ? "420jpeg" : "420p10");

    mtvir_el *el = NULL;
    if (mtvir_open_file(argv[2], &el) != MTVIR_OK) {
        fprintf(stderr, "av_player: EL not used (%s): the base layer plays alone\n", mtvir_last_error());
        el = NULL;
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
            avcodec_send_packet(dec, pkt);
        }
        av_packet_unref(pkt);
        while (avcodec_receive_frame(dec, frame) == 0) {
            /* decoded frames may be shared with the decoder's references: enhance a private copy */
            if (el && av_frame_make_writable(frame) == 0) {
                int e = mtvir_enhance(el, frame->data[0], frame->linesize[0], frame->width, frame->height, depth, index);
                if (e != MTVIR_OK && !warned) {
                    fprintf(stderr, "av_player: frame %d left as decoded (error %d: %s)\n", index, e, mtvir_last_error());
                    warned = 1;
                }
            }
            if (write_frame(out, frame, depth > 8 ? 2 : 1) != 0) return 1;
            index++;
        }
    }
    fprintf(stderr, "av_player: %d frames%s\n", index, el ? ", enhanced" : "");
    mtvir_close(el);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    if (out != stdout) fclose(out);
    return 0;
}
