#include "decoder.h"

#include <string>

#include "errors.h"

namespace avr {

CodecPtr OpenDecoder(const AVCodecParameters* par, AVRational pkt_timebase, int threads, const char* err_code) {
  const char* kind = av_get_media_type_string(par->codec_type);
  const std::string what = kind ? kind : "stream";
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  if (!codec) Fail(err_code, "No decoder for the " + what + " codec " + avcodec_get_name(par->codec_id));
  CodecPtr dec(avcodec_alloc_context3(codec));
  if (!dec) Fail(err_code, "Out of memory");
  Check(avcodec_parameters_to_context(dec.get(), par), err_code, "Could not configure the " + what + " decoder");
  dec->pkt_timebase = pkt_timebase;
  dec->thread_count = threads;
  Check(avcodec_open2(dec.get(), codec, nullptr), err_code, "Could not open the " + what + " decoder");
  return dec;
}

}  // namespace avr
