#include "frame_grab.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "decoder.h"
#include "errors.h"

namespace avr {

namespace {

// Decodes one connection's video packets (doc/examples/decode_video.c): send, then receive all.
class VideoDecoder {
 public:
  explicit VideoDecoder(const AVCodecParameters* par) {
    // One grab is bounded work on a worker: use the cores.
    dec_ = OpenDecoder(par, kMicros, 0, code::kDecode);
    frame_ = MakeFrame();
    if (!frame_) Fail(code::kDecode, "Out of memory");
  }
  // `take(frame)` returns false to stop. pkt null drains.
  template <typename Take>
  bool Decode(const AVPacket* pkt, Take take) {
    const int ret = avcodec_send_packet(dec_.get(), pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) return true;  // a damaged packet: go on
    for (;;) {
      const int r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r < 0) return true;
      const bool more = take(frame_.get());
      av_frame_unref(frame_.get());
      if (!more) return false;
    }
  }

 private:
  CodecPtr dec_;
  FramePtr frame_;
};

AVPixelFormat RawFormat(const std::string& f) {
  if (f == "rgb24") return AV_PIX_FMT_RGB24;
  if (f == "rgba") return AV_PIX_FMT_RGBA;
  if (f == "gray") return AV_PIX_FMT_GRAY8;
  return AV_PIX_FMT_NONE;
}

// The output size: both given, one given (the other from the frame's display aspect, even for 4:2:0
// encoders), or the frame's own.
void OutputSize(const AVFrame* f, const GrabOptions& o, bool even, int* w, int* h) {
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

std::vector<uint8_t> Encode(const AVFrame* in, const GrabOptions& o, int w, int h) {
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

Grabbed GrabFrame(const PacketRing& ring, const GrabOptions& o) {
  RangeQuery q;
  q.slack = 0;
  const RingStats stats = ring.Stats();
  if (stats.empty) Fail(code::kRangeNotBuffered, "Nothing is buffered yet");
  // The frame on screen at t: the last presented at or before it. Every packet it needs decodes at or
  // before t (dts <= pts), from the keyframe at or before t.
  int64_t t = INT64_MAX;
  if (o.at == GrabOptions::At::kInstant) {
    t = o.t;
    if (t < stats.oldest || t >= stats.newest)
      Fail(code::kRangeNotBuffered, "No frame at " + std::to_string(t / 1e6) + " s: the buffer holds " +
                                        std::to_string(stats.oldest / 1e6) + " s to " + std::to_string(stats.newest / 1e6) +
                                        " s of the timeline");
    q.from = t;
    q.to = t + 1;  // [t, t]: packets decoding at or before t
  } else {
    q.from = stats.newest - 1;  // the keyframe at or before the newest instant
    q.to = INT64_MAX / 4;
  }
  RangeResult r = ring.Query(q);
  // Video is the key track when there is video at all.
  const int vt = r.key_track;
  std::vector<const RingEntry*> pk;
  for (const RingEntry& e : r.packets)
    if (e.track == vt) pk.push_back(&e);
  const TrackParams* tp = !pk.empty() && pk[0]->session && vt < (int)pk[0]->session->size() ? &(*pk[0]->session)[vt] : nullptr;
  if (!tp || !tp->par || tp->type != AVMEDIA_TYPE_VIDEO) Fail(code::kNoVideo, "The source has no video track");
  if (!pk[0]->key) Fail(code::kRangeNotBuffered, "No keyframe is buffered before that instant");

  if (o.keyframe_only) t = INT64_MAX;  // whatever the keyframe shows
  VideoDecoder dec(tp->par.get());
  FramePtr best = MakeFrame();
  bool have = false, best_key = false;
  int64_t best_pts = INT64_MIN;
  // Frames come out in presentation order: the one on screen at t is the last with pts <= t.
  auto take = [&](AVFrame* f) {
    const int64_t pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    if (have && pts > t) return false;
    if (pts <= t || !have) {
      av_frame_unref(best.get());
      av_frame_ref(best.get(), f);
      best_pts = pts;
      best_key = f->key_frame;
      have = true;
    }
    return pts <= t;
  };
  PacketPtr pkt = MakePacket();
  bool more = true;
  for (size_t i = 0; i < pk.size() && more; i++) {
    const RingEntry& e = *pk[i];
    if (e.session != pk[0]->session) break;  // a reconnect with other parameters: this GOP ends here
    if ((o.at == GrabOptions::At::kKeyframe || o.keyframe_only) && i > 0) break;  // the fast path: one decode
    e.pkt.Fill(pkt.get());
    pkt->pts = e.pts;
    pkt->dts = e.dts;
    pkt->duration = e.duration;
    if (e.key) pkt->flags |= AV_PKT_FLAG_KEY;
    more = dec.Decode(pkt.get(), take);
    av_packet_unref(pkt.get());
  }
  if (more) dec.Decode(nullptr, take);
  if (!have) Fail(code::kDecode, "No frame could be decoded there");

  Grabbed g;
  g.pts = best_pts;
  g.key = best_key;
  const AVPixelFormat raw = RawFormat(o.format);
  OutputSize(best.get(), o, raw == AV_PIX_FMT_NONE && o.format == "jpeg", &g.width, &g.height);
  if (raw != AV_PIX_FMT_NONE) {
    FramePtr out = Scale(best.get(), raw, g.width, g.height);
    const int bpp = raw == AV_PIX_FMT_GRAY8 ? 1 : raw == AV_PIX_FMT_RGB24 ? 3 : 4;
    g.stride = g.width * bpp;  // tight rows
    g.data.resize((size_t)g.stride * g.height);
    for (int y = 0; y < g.height; y++) memcpy(&g.data[(size_t)y * g.stride], out->data[0] + (size_t)y * out->linesize[0], g.stride);
  } else {
    g.data = Encode(best.get(), o, g.width, g.height);
  }
  return g;
}

}  // namespace avr
