#include "video_decoder.h"

#include "decoder.h"
#include "errors.h"

namespace avr {

VideoDecoder::VideoDecoder(const AVCodecParameters* par, AVRational pkt_tb, int threads, std::atomic<int64_t>* decoded)
    : decoded_(decoded) {
  dec_ = OpenDecoder(par, pkt_tb, threads, code::kDecode);
  frame_ = MakeFrame();
  if (!frame_) Fail(code::kDecode, "Out of memory");
}

}  // namespace avr
