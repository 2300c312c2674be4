#include "image.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errors.h"

namespace avr {

namespace {

AVPixelFormat RawFormat(const std::string& f) {
  if (f == "rgb24") return AV_PIX_FMT_RGB24;
  if (f == "rgba") return AV_PIX_FMT_RGBA;
  if (f == "gray") return AV_PIX_FMT_GRAY8;
  return AV_PIX_FMT_NONE;
}

// The output size: both given, one given (the other from the frame's display aspect, even for 4:2:0
// encoders), or the frame's own.
void OutputSize(const AVFrame* f, const ImageOptions& o, bool even, int* w, int* h) {
  const AVRational sar = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio : AVRational{1, 1};
  const double dar = (double)f->width * sar.num / (f->height * (double)sar.den);
  *w = o.width;
  *h = o.height;
  if (!*w && !*h) {
    *w = f->width;
    *h = f->height;
  } else if (!*w) {
    *w = std::max(1, (int)std::lround(*h * dar));
  } else if (!*h) {
    *h = std::max(1, (int)std::lround(*w / dar));
  }
  if (even) {
    *w = std::max(2, *w & ~1);
    *h = std::max(2, *h & ~1);
  }
}

FramePtr Scale(const AVFrame* in, AVPixelFormat fmt, int w, int h) {
  SwsPtr sws(sws_getContext(in->width, in->height, (AVPixelFormat)in->format, w, h, fmt, SWS_BICUBIC, nullptr,
                            nullptr, nullptr));
  if (!sws) Fail(code::kEncode, "Could not set up the scaler");
  FramePtr out = MakeFrame();
  if (!out) Fail(code::kEncode, "Out of memory");
  out->format = fmt;
  out->width = w;
  out->height = h;
  Check(av_frame_get_buffer(out.get(), 0), code::kEncode, "Out of memory");
  sws_scale(sws.get(), in->data, in->linesize, 0, in->height, out->data, out->linesize);
  return out;
}

std::vector<uint8_t> Encode(const AVFrame* in, const ImageOptions& o, int w, int h) {
  const bool jpeg = o.format == "jpeg";
  const AVCodec* codec = avcodec_find_encoder(jpeg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
  if (!codec) Fail(code::kEncode, std::string("This FFmpeg has no ") + (jpeg ? "mjpeg" : "png") + " encoder");
  const AVPixelFormat fmt = jpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_RGB24;
  FramePtr scaled = Scale(in, fmt, w, h);
  CodecPtr enc(avcodec_alloc_context3(codec));
  if (!enc) Fail(code::kEncode, "Out of memory");
  enc->width = w;
  enc->height = h;
  enc->pix_fmt = fmt;
  enc->time_base = {1, 25};
  if (jpeg) {
    // quality 100 → qscale 2 (best), 1 → 31.
    const int q = 2 + (100 - std::clamp(o.quality, 1, 100)) * 29 / 99;
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = q * FF_QP2LAMBDA;
    scaled->quality = enc->global_quality;
  }
  Check(avcodec_open2(enc.get(), codec, nullptr), code::kEncode, "Could not open the image encoder");
  Check(avcodec_send_frame(enc.get(), scaled.get()), code::kEncode, "Could not encode the frame");
  Check(avcodec_send_frame(enc.get(), nullptr), code::kEncode, "Could not encode the frame");
  PacketPtr pkt = MakePacket();
  std::vector<uint8_t> out;
  while (avcodec_receive_packet(enc.get(), pkt.get()) >= 0) {
    out.insert(out.end(), pkt->data, pkt->data + pkt->size);
    av_packet_unref(pkt.get());
  }
  if (out.empty()) Fail(code::kEncode, "The image encoder produced nothing");
  return out;
}

}  // namespace

Image RenderImage(const AVFrame* f, const ImageOptions& o) {
  Image img;
  const AVPixelFormat raw = RawFormat(o.format);
  OutputSize(f, o, o.format == "jpeg", &img.width, &img.height);
  if (raw == AV_PIX_FMT_NONE) {
    img.data = Encode(f, o, img.width, img.height);
    return img;
  }
  FramePtr out = Scale(f, raw, img.width, img.height);
  const int bpp = raw == AV_PIX_FMT_GRAY8 ? 1 : raw == AV_PIX_FMT_RGB24 ? 3 : 4;
  img.stride = img.width * bpp;  // tight rows
  img.data.resize((size_t)img.stride * img.height);
  for (int y = 0; y < img.height; y++)
    memcpy(&img.data[(size_t)y * img.stride], out->data[0] + (size_t)y * out->linesize[0], img.stride);
  return img;
}

}  // namespace avr
