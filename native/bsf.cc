#include "bsf.h"

#include <cstring>
#include <string>

#include "errors.h"

namespace avr {

Bsf::Bsf(const char* name, const AVCodecParameters* par) {
  const AVBitStreamFilter* f = av_bsf_get_by_name(name);
  AVBSFContext* c = nullptr;
  if (!f || av_bsf_alloc(f, &c) < 0) Fail(code::kWrite, std::string("This FFmpeg has no ") + name + " bitstream filter");
  ctx_.reset(c);
  Check(avcodec_parameters_copy(c->par_in, par), code::kWrite, "Out of memory");
  c->time_base_in = kMicros;
  Check(av_bsf_init(c), code::kWrite, std::string("Could not set up ") + name);
}

ParamsPtr Bsf::ParamsWith(const AVPacket* out_pkt) const {
  ParamsPtr p = CopyParams(ctx_->par_out);
  if (!p) return p;
  size_t size = 0;
  const uint8_t* side = av_packet_get_side_data(out_pkt, AV_PKT_DATA_NEW_EXTRADATA, &size);
  if (side && size > 0) {
    av_freep(&p->extradata);
    p->extradata = static_cast<uint8_t*>(av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE));
    if (!p->extradata) return nullptr;
    memcpy(p->extradata, side, size);
    p->extradata_size = (int)size;
  }
  return p;
}

bool Bsf::Filter(AVPacket* pkt) {
  if (av_bsf_send_packet(ctx_.get(), pkt) < 0) {
    av_packet_unref(pkt);
    return false;
  }
  return av_bsf_receive_packet(ctx_.get(), pkt) >= 0;
}

}  // namespace avr
