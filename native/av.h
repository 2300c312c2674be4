// libav includes and RAII owners for every libav object the core touches.
#pragma once

// libav is C: without extern "C" the build succeeds and Node dies at call time with an undefined symbol.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace avr {

constexpr AVRational kMicros = {1, 1000000};

struct PacketDeleter { void operator()(AVPacket* p) const { av_packet_free(&p); } };
struct FrameDeleter { void operator()(AVFrame* f) const { av_frame_free(&f); } };
struct CodecDeleter { void operator()(AVCodecContext* c) const { avcodec_free_context(&c); } };
struct InputDeleter { void operator()(AVFormatContext* f) const { avformat_close_input(&f); } };
struct SwsDeleter { void operator()(SwsContext* s) const { sws_freeContext(s); } };
struct SwrDeleter { void operator()(SwrContext* s) const { swr_free(&s); } };
struct FifoDeleter { void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); } };
struct BsfDeleter { void operator()(AVBSFContext* b) const { av_bsf_free(&b); } };
struct ParamsDeleter { void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); } };

using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecDeleter>;
using InputPtr = std::unique_ptr<AVFormatContext, InputDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, SwrDeleter>;
using FifoPtr = std::unique_ptr<AVAudioFifo, FifoDeleter>;
using BsfPtr = std::unique_ptr<AVBSFContext, BsfDeleter>;
using ParamsPtr = std::unique_ptr<AVCodecParameters, ParamsDeleter>;

// An output context owns its AVIOContext too; closing both is the muxer's teardown.
struct OutputDeleter {
  void operator()(AVFormatContext* f) const {
    if (f->pb && !(f->oformat->flags & AVFMT_NOFILE)) avio_closep(&f->pb);
    avformat_free_context(f);
  }
};
using OutputPtr = std::unique_ptr<AVFormatContext, OutputDeleter>;

// AVDictionary owner; av_dict_free also frees the entries libav left unconsumed.
class Dict {
 public:
  Dict() = default;
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  ~Dict() { av_dict_free(&d_); }
  void Set(const std::string& k, const std::string& v) { av_dict_set(&d_, k.c_str(), v.c_str(), 0); }
  AVDictionary** Addr() { return &d_; }
  AVDictionary* Get() const { return d_; }

 private:
  AVDictionary* d_ = nullptr;
};

inline PacketPtr MakePacket() { return PacketPtr(av_packet_alloc()); }
inline FramePtr MakeFrame() { return FramePtr(av_frame_alloc()); }

inline std::string AvErrorString(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

inline ParamsPtr CopyParams(const AVCodecParameters* src) {
  if (!src) return nullptr;
  ParamsPtr p(avcodec_parameters_alloc());
  if (p && avcodec_parameters_copy(p.get(), src) < 0) p.reset();
  return p;
}

}  // namespace avr
