// One bitstream filter (aac_adtstoasc, h264_mp4toannexb…) over one track's packets: the packets of a
// container and of a live source differ in format (ADTS vs raw AAC, Annex B vs length-prefixed H.264),
// and a file needs one per track. Written once for the disk recorder and footage.
#pragma once

#include "av.h"

namespace avr {

class Bsf {
 public:
  // Throws avr::Exception (ERR_WRITE) when this FFmpeg lacks the filter.
  Bsf(const char* name, const AVCodecParameters* par);
  // The output's parameters (aac_adtstoasc: the AudioSpecificConfig once a packet went through).
  const AVCodecParameters* out() const { return ctx_->par_out; }
  // The output's parameters as of `out_pkt`, a packet this filter gave: aac_adtstoasc hands the
  // AudioSpecificConfig it built as the first packet's new-extradata side data, not in out().
  ParamsPtr ParamsWith(const AVPacket* out_pkt) const;
  // Filters pkt in place (these filters give one packet per packet); false: dropped (pkt is blank).
  bool Filter(AVPacket* pkt);

 private:
  BsfPtr ctx_;
};

}  // namespace avr
