// Compressed audio → planar float at the stream's own rate and channels: the decode → resample chain
// (doc/examples/transcode_aac.c's first half), written once for every consumer that needs samples
// (the audio meter; MP3 export reuses it with another output format).
#pragma once

#include <cstdint>
#include <functional>

#include "av.h"

namespace avr {

class AudioDecoder {
 public:
  // planes[c][i]: sample i of channel c; first_us: timeline time of sample 0 (from the packet's pts);
  // rate: this frame's own sample rate.
  using Sink = std::function<void(const float* const* planes, int channels, int samples, int64_t first_us, int rate)>;

  // Throws avr::Exception when the codec cannot be opened.
  explicit AudioDecoder(const AVCodecParameters* par);
  ~AudioDecoder() { av_channel_layout_uninit(&swr_layout_); }
  AudioDecoder(const AudioDecoder&) = delete;
  AudioDecoder& operator=(const AudioDecoder&) = delete;

  // One packet (timestamps in µs), or nullptr to drain. Undecodable packets are skipped, as a player does.
  void Decode(const AVPacket* pkt, const Sink& sink);
  int sample_rate() const { return dec_->sample_rate; }
  int channels() const { return dec_->ch_layout.nb_channels; }
  int64_t errors() const { return errors_; }

 private:
  void Emit(AVFrame* frame, const Sink& sink);

  CodecPtr dec_;
  SwrPtr swr_;
  FramePtr frame_;
  FramePtr out_;
  int swr_rate_ = 0, swr_format_ = -1;
  AVChannelLayout swr_layout_{};
  int64_t errors_ = 0;
};

}  // namespace avr
