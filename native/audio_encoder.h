// Samples → (libswresample: rate, layout, format) → FIFO of whole encoder frames → encoder → packets,
// keeping the audio where the source's timestamps put it: a hole becomes silence, time the source
// repeats is dropped. Written once for the raw-input AAC encoder at ingest and for MP3 export.
#pragma once

#include <cstdint>
#include <functional>

#include "av.h"

namespace avr {

using PacketSink = std::function<void(AVPacket*)>;

// Sends one frame (nullptr drains) and hands every packet that comes out to sink. Throws ERR_ENCODE.
void EncodeFrame(AVCodecContext* enc, const AVFrame* frame, AVPacket* scratch, const PacketSink& sink);

class AudioEncoder {
 public:
  // enc: an opened audio encoder. The input: what Write() gets. max_fill: the longest hole (in output
  // samples) filled with silence; after a longer one the current frame is padded and the audio starts
  // again at the source's timestamp.
  AudioEncoder(CodecPtr enc, AVSampleFormat in_format, int in_rate, const AVChannelLayout& in_layout, int64_t max_fill);
  AudioEncoder(const AudioEncoder&) = delete;
  AudioEncoder& operator=(const AudioEncoder&) = delete;

  // nb_samples of input; pts: the first one's time in the encoder's time base (1/its rate), or
  // AV_NOPTS_VALUE to follow on from the previous samples.
  void Write(const uint8_t* const* data, int nb_samples, int64_t pts, const PacketSink& sink);
  // Silence of this many output samples, in place (a reconnect gap kept as time).
  void WriteSilence(int64_t samples);
  // The resampler's last samples, the last (partial) frame, the encoder's drain.
  void Finish(const PacketSink& sink);

  AVCodecContext* codec() const { return enc_.get(); }
  int64_t samples_in() const { return samples_in_; }  // output samples queued so far, silence included

 private:
  void Resync(int64_t pts, const PacketSink& sink);
  void Convert(const uint8_t* const* in, int nb_samples);
  void Drain(bool final, const PacketSink& sink);

  CodecPtr enc_;
  SwrPtr swr_;
  FifoPtr fifo_;
  PacketPtr pkt_;
  int64_t max_fill_;
  int64_t fifo_pts_ = AV_NOPTS_VALUE;  // pts of the first sample waiting in the fifo
  int64_t skip_ = 0;                   // converted samples still to drop (the source repeated that time)
  int64_t samples_in_ = 0;
};

}  // namespace avr
