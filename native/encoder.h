// Encode-once at ingest: raw video and PCM audio (lavfi, most USB cameras) become H.264/MJPEG and AAC,
// so the ring always holds compressed packets. Compressed input never comes through here.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "av.h"

namespace avr {

struct EncoderOptions {
  std::string video_codec;  // "" picks libx264 when this FFmpeg has it, else mjpeg
  std::string preset = "veryfast";
  double gop_seconds = 2;   // keyframe interval: the granularity of saves and eviction
  int64_t video_bitrate = 0;  // 0: quality-based (crf 23 / q 4)
  int64_t audio_bitrate = 128000;
};

class StreamEncoder {
 public:
  using Sink = std::function<void(AVPacket*)>;

  static bool NeedsEncoding(const AVCodecParameters* par);
  static std::unique_ptr<StreamEncoder> Open(const AVStream* in, const EncoderOptions& opts);

  // Feeds one demuxed packet, or nullptr to drain; sink gets each encoded packet in time_base().
  void Encode(const AVPacket* in, const Sink& sink);
  const AVCodecParameters* params() const { return par_.get(); }
  AVRational time_base() const { return enc_->time_base; }

 private:
  StreamEncoder() = default;
  void OpenVideo(const AVStream* in, const EncoderOptions& opts);
  void OpenAudio(const AVStream* in, const EncoderOptions& opts);
  void SendFrame(AVFrame* frame, const Sink& sink);
  void OnDecoded(AVFrame* frame, const Sink& sink);
  void DrainFifo(bool final, const Sink& sink);
  void Resync(int64_t pts, const Sink& sink);  // pts (1/sample_rate) of the next input samples, as the source says
  void WriteSilence(int64_t samples);
  void Convert(const uint8_t** in, int nb_samples);

  CodecPtr dec_, enc_;
  SwsPtr sws_;
  SwrPtr swr_;
  FifoPtr fifo_;
  FramePtr decoded_, converted_;
  PacketPtr out_;
  ParamsPtr par_;
  AVRational in_tb_{};
  int64_t fifo_pts_ = AV_NOPTS_VALUE;  // pts (1/sample_rate) of the first sample waiting in the fifo
  int64_t skip_ = 0;                   // converted samples still to drop (the source repeated that time)
};

}  // namespace avr
