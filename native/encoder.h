// Encode-once at ingest: raw video and PCM audio (lavfi, most USB cameras) become H.264/MJPEG and AAC,
// so the ring always holds compressed packets. Compressed input never comes through here.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "audio_encoder.h"
#include "av.h"

namespace avr {

struct EncoderOptions {
  std::string video_codec;  // "" picks libx264 when this FFmpeg has it, else mjpeg
  std::string preset = "veryfast";
  double gop_seconds = 2;   // keyframe interval: the granularity of saves and eviction
  int64_t video_bitrate = 0;  // 0: quality-based (crf 23 / q 4)
  int64_t audio_bitrate = 128000;
  int threads = 2;  // the video encoder's: many cameras in one process must not each take every core
};

class StreamEncoder {
 public:
  using Sink = std::function<void(AVPacket*)>;

  static bool NeedsEncoding(const AVCodecParameters* par);
  static std::unique_ptr<StreamEncoder> Open(const AVStream* in, const EncoderOptions& opts);

  // Feeds one demuxed packet, or nullptr to drain; sink gets each encoded packet in time_base().
  void Encode(const AVPacket* in, const Sink& sink);
  const AVCodecParameters* params() const { return par_.get(); }
  AVRational time_base() const { return codec()->time_base; }

 private:
  StreamEncoder() = default;
  void OpenVideo(const AVStream* in, const EncoderOptions& opts);
  void OpenAudio(const AVStream* in, const EncoderOptions& opts);
  void OnDecoded(AVFrame* frame, const Sink& sink);
  AVCodecContext* codec() const { return audio_ ? audio_->codec() : enc_.get(); }

  CodecPtr dec_, enc_;  // enc_: video (audio's encoder lives in audio_)
  std::unique_ptr<AudioEncoder> audio_;
  SwsPtr sws_;
  FramePtr decoded_, converted_;
  PacketPtr out_;
  ParamsPtr par_;
  AVRational in_tb_{};
};

}  // namespace avr
