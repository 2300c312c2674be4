// Compressed video → frames (doc/examples/decode_video.c: send, then receive all), written once for frame
// grabs, the frame cache of 'latest' grabs and snapshot().
#pragma once

#include <atomic>
#include <cstdint>

#include "av.h"

namespace avr {

class VideoDecoder {
 public:
  // threads: 0 lets libavcodec choose (frame threads: fastest for a whole GOP, but frames come out
  // late); 1 gives each frame back as soon as its packet is in, when the codec does not reorder.
  // decoded: a counter of frames decoded, shared with whoever reports it (may be null).
  VideoDecoder(const AVCodecParameters* par, AVRational pkt_tb, int threads, std::atomic<int64_t>* decoded);

  // Sends one packet (nullptr drains) and hands each frame that comes out to take(frame), which returns
  // false to stop. Returns false when take() stopped. A damaged packet is skipped, as a player does.
  template <typename Take>
  bool Decode(const AVPacket* pkt, Take take) {
    const int ret = avcodec_send_packet(dec_.get(), pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) return true;
    if (pkt) sent_++;
    for (;;) {
      const int r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r < 0) return true;
      received_++;
      if (decoded_) (*decoded_)++;
      const bool more = take(frame_.get());
      av_frame_unref(frame_.get());
      if (!more) return false;
    }
  }
  // Frames the decoder holds back (reordering, frame threads): packets in minus frames out.
  int64_t held() const { return sent_ - received_; }

 private:
  CodecPtr dec_;
  FramePtr frame_;
  std::atomic<int64_t>* decoded_;
  int64_t sent_ = 0, received_ = 0;
};

}  // namespace avr
