#include "bsf.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

extern "C" {
#include <libavutil/intreadwrite.h>
}

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

ParamsPtr Bsf::Params() const {
  ParamsPtr p = CopyParams(ctx_->par_out);
  if (!p || extradata_.empty()) return p;
  av_freep(&p->extradata);
  p->extradata = static_cast<uint8_t*>(av_mallocz(extradata_.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!p->extradata) return nullptr;
  memcpy(p->extradata, extradata_.data(), extradata_.size());
  p->extradata_size = (int)extradata_.size();
  return p;
}

bool Bsf::Filter(AVPacket* pkt) {
  if (av_bsf_send_packet(ctx_.get(), pkt) < 0) {
    av_packet_unref(pkt);
    return false;
  }
  if (av_bsf_receive_packet(ctx_.get(), pkt) < 0) return false;
  // New extradata goes to Params(), not on to a muxer: the file's header already has it, and a muxer
  // that takes it as a change (matroska rewrites CodecPrivate in place) would damage the file.
  size_t size = 0;
  if (const uint8_t* side = av_packet_get_side_data(pkt, AV_PKT_DATA_NEW_EXTRADATA, &size)) {
    extradata_.assign(side, side + size);
    av_packet_free_side_data(pkt);
  }
  return true;
}

int NalLengthSize(const AVCodecParameters* par) {
  const uint8_t* x = par->extradata;
  const int n = par->extradata_size;
  if (!x || n < 1 || x[0] != 1) return 0;  // configurationVersion 1: avcC / hvcC
  if (par->codec_id == AV_CODEC_ID_H264 && n >= 7) return (x[4] & 3) + 1;
  if (par->codec_id == AV_CODEC_ID_HEVC && n >= 23) return (x[21] & 3) + 1;
  return 0;
}

bool AnnexBToLengthPrefixed(AVPacket* pkt) {
  const uint8_t* const end = pkt->data + pkt->size;
  auto start_code = [end](const uint8_t* q) {
    for (; q + 3 <= end; q++)
      if (q[0] == 0 && q[1] == 0 && q[2] == 1) return q;
    return end;
  };
  std::vector<std::pair<const uint8_t*, size_t>> nals;
  size_t total = 0;
  for (const uint8_t* s = start_code(pkt->data); s < end;) {
    const uint8_t* nal = s + 3;
    s = start_code(nal);
    const uint8_t* e = s;
    while (e > nal && e[-1] == 0) e--;  // a 4-byte start code's leading zero, trailing zero words
    if (e > nal) {
      nals.push_back({nal, (size_t)(e - nal)});
      total += 4 + (size_t)(e - nal);
    }
  }
  if (nals.empty()) return false;
  AVBufferRef* buf = av_buffer_alloc(total + AV_INPUT_BUFFER_PADDING_SIZE);
  if (!buf) Fail(code::kWrite, "Out of memory");
  uint8_t* w = buf->data;
  for (const auto& [nal, size] : nals) {
    AV_WB32(w, (uint32_t)size);
    memcpy(w + 4, nal, size);
    w += 4 + size;
  }
  memset(w, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  av_buffer_unref(&pkt->buf);
  pkt->buf = buf;
  pkt->data = buf->data;
  pkt->size = (int)total;
  return true;
}

}  // namespace avr
