// One bitstream filter (aac_adtstoasc, h264_mp4toannexb…) over one track's packets: the packets of a
// container and of a live source differ in format (ADTS vs raw AAC, Annex B vs length-prefixed H.264),
// and a file needs one per track. Written once for the disk recorder and footage.
#pragma once

#include <cstdint>
#include <vector>

#include "av.h"

namespace avr {

class Bsf {
 public:
  // Throws avr::Exception (ERR_WRITE) when this FFmpeg lacks the filter.
  Bsf(const char* name, const AVCodecParameters* par);
  // The output's parameters (aac_adtstoasc: the AudioSpecificConfig once a packet went through).
  const AVCodecParameters* out() const { return ctx_->par_out; }
  // The output's parameters as of the packets filtered so far: aac_adtstoasc hands the AudioSpecificConfig
  // it built as the first packet's new-extradata side data, not in out(); Filter() keeps it here.
  ParamsPtr Params() const;
  // Filters pkt in place (these filters give one packet per packet); false: dropped (pkt is blank).
  bool Filter(AVPacket* pkt);

 private:
  BsfPtr ctx_;
  std::vector<uint8_t> extradata_;
};

// H.264/HEVC in an mp4 (avcC/hvcC extradata): the byte size of each NAL unit's length prefix, 0 when
// the parameters are Annex B (or another codec).
int NalLengthSize(const AVCodecParameters* par);

// Annex B (start codes) to 4-byte length prefixes, in a new buffer: what libavformat has no public
// filter for, so that a live source's packets can join an mp4 segment's without converting the
// segment's (larger) part. False when pkt holds no start code (left as it is).
bool AnnexBToLengthPrefixed(AVPacket* pkt);

}  // namespace avr
