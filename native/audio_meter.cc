#include "audio_meter.h"

#include <algorithm>
#include <cmath>

#include "audio_decoder.h"
#include "errors.h"
#include "subscription.h"

namespace avr {

namespace {
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
float Db(double v) { return v > 0 ? std::max(kSilenceDb, (float)(20.0 * std::log10(v))) : kSilenceDb; }
// Live packets a meter may fall behind by before it loses its own (about 20 s of AAC).
constexpr size_t kQueue = 1024;
// What is read back from the ring reaches JavaScript in batches this large.
constexpr size_t kBatch = 4096;
}  // namespace

AudioMeter::AudioMeter(std::shared_ptr<PacketRing> ring, int track, int64_t window_us, OnLevels on_levels,
                       OnError on_error)
    : ring_(std::move(ring)),
      track_(track),
      window_us_(window_us),
      on_levels_(std::move(on_levels)),
      on_error_(std::move(on_error)) {
  // Subscribe before reading what is buffered: no packet falls between the two.
  sub_ = ring_->Subscribe(1u << track_, kQueue);
  thread_ = std::thread([this] { Run(); });
}

AudioMeter::~AudioMeter() {
  stop_ = true;
  sub_->Close();
  if (thread_.joinable()) thread_.join();
}

void AudioMeter::WaitDone() {
  std::unique_lock<std::mutex> lock(done_mu_);
  done_cv_.wait(lock, [this] { return done_; });
}

void AudioMeter::Finish() {
  if (thread_.joinable()) thread_.join();
}

std::vector<Level> AudioMeter::Range(int64_t from, int64_t to) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::lower_bound(levels_.begin(), levels_.end(), from,
                             [](const Level& l, int64_t v) { return l.start < v; });
  std::vector<Level> out;
  for (; it != levels_.end() && it->start < to; ++it) out.push_back(*it);
  return out;
}

void AudioMeter::Run() {
  struct Done {  // however Run returns
    AudioMeter* m;
    ~Done() {
      {
        std::lock_guard<std::mutex> lock(m->done_mu_);
        m->done_ = true;
      }
      m->done_cv_.notify_all();
    }
  } done{this};
  try {
    // What is buffered already, so levels cover the whole buffer.
    ReadFromRing(INT64_MAX / 4, /*backfill=*/true);
    LivePacket lp;
    while (!stop_) {
      if (!sub_->Pop(&lp, 100'000)) {
        if (sub_->ended()) break;
        continue;
      }
      if (lp.entry.dts <= last_dts_) continue;  // already read from the buffer
      if (lp.dropped_before > 0) ReadFromRing(lp.entry.dts, false);
      Feed(lp.entry);
      Publish(false);
    }
    // Packets the queue dropped at the very end are told by no later packet: read them from the ring.
    if (!stop_ && sub_->dropped() > 0) ReadFromRing(INT64_MAX / 4, false);
    if (!stop_ && decoder_) {  // the source ended: the decoder's last samples, the last partial window
      decoder_->Decode(nullptr, [&](const float* const* p, int c, int n, int64_t t, int rate) {
        Samples(p, c, n, t, rate);
      });
      Flush();
      Publish(false);
    }
  } catch (const Exception& e) {
    on_error_(e.failure().message);
  } catch (const std::exception& e) {
    on_error_(std::string("The audio meter failed: ") + e.what());
  }
}

void AudioMeter::Publish(bool backfill) {
  if (batch_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    levels_.insert(levels_.end(), batch_.begin(), batch_.end());
    // Evicted with the ring: nothing older than its oldest packet.
    const int64_t oldest = ring_->Oldest();
    while (!levels_.empty() && levels_.front().start + window_us_ <= oldest) levels_.pop_front();
  }
  on_levels_(std::move(batch_), backfill);
  batch_.clear();
}

void AudioMeter::ReadFromRing(int64_t before, bool backfill) {
  // Everything buffered when the meter starts; later, what the live queue dropped when the meter fell
  // behind (a file read at full speed, a busy machine): still in the buffer, unless already evicted.
  try {
    RangeQuery q;
    q.from = last_dts_ == INT64_MIN ? INT64_MIN / 4 : last_dts_ + 1;
    q.to = before;
    q.tracks = 1u << track_;
    q.from_keyframe = false;
    q.slack = 0;
    RangeResult r = ring_->Query(q);
    for (const RingEntry& e : r.packets) {
      if (stop_) return;
      if (e.dts <= last_dts_ || e.dts >= before) continue;
      Feed(e);
      if (batch_.size() >= kBatch) Publish(backfill);
    }
  } catch (const Exception&) {
    Flush();  // nothing buffered yet, or evicted meanwhile: a hole in the levels, not a smear
  }
  Publish(backfill);
}

void AudioMeter::Feed(const RingEntry& e) {
  const AVCodecParameters* par =
      e.session && e.track < (int)e.session->size() ? (*e.session)[e.track].par.get() : nullptr;
  if (!par) return;
  if (!decoder_ || decoder_par_ != par) {
    if (decoder_) Flush();
    decoder_ = std::make_unique<AudioDecoder>(par);  // a new connection may bring new parameters
    decoder_par_ = par;
  }
  PacketPtr pkt = MakePacket();
  if (!pkt) return;
  e.pkt.Fill(pkt.get());
  pkt->pts = e.pts;
  pkt->dts = e.dts;
  pkt->duration = e.duration;
  last_dts_ = e.dts;
  decoder_->Decode(pkt.get(), [&](const float* const* p, int c, int n, int64_t t, int rate) { Samples(p, c, n, t, rate); });
}

void AudioMeter::Samples(const float* const* planes, int channels, int samples, int64_t first_us, int rate) {
  if (samples <= 0 || rate <= 0 || channels <= 0) return;
  // Samples follow each other at the sample rate; a timestamp off by more than half a window is a hole
  // (or a jump): the window being filled ends there and alignment restarts from the new timestamp.
  // Times come from a sample count since that restart, so rounding never accumulates.
  const double us_per_sample = 1e6 / rate;
  const auto expected = [&] { return base_us_ + (int64_t)std::llround(base_n_ * us_per_sample); };
  if (first_us != AV_NOPTS_VALUE &&
      (base_us_ == INT64_MIN || rate != base_rate_ || std::llabs(first_us - expected()) > window_us_ / 2)) {
    Flush();
    base_us_ = first_us;
    base_n_ = 0;
    base_rate_ = rate;
  }
  if (base_us_ == INT64_MIN) return;  // no time to place them at
  const double t0 = (double)base_us_ + base_n_ * us_per_sample;
  if ((int)peak_.size() != channels) {
    Flush();
    peak_.assign(channels, 0.0f);
    sumsq_.assign(channels, 0.0);
  }
  int i = 0;
  while (i < samples) {
    const int64_t t = (int64_t)std::llround(t0 + i * us_per_sample);
    const int64_t start = FloorDiv(t, window_us_) * window_us_;
    if (cur_start_ != start) {
      Flush();
      cur_start_ = start;
    }
    // The samples of this chunk that fall before the window's end.
    const int64_t end = start + window_us_;
    int upto = (int)std::ceil((end - t0) / us_per_sample - 1e-9);
    upto = std::max(i + 1, std::min(samples, upto));
    for (int c = 0; c < channels; c++) {
      const float* x = planes[c];
      float pk = peak_[c];
      double ss = sumsq_[c];
      for (int k = i; k < upto; k++) {
        const float v = x[k];
        pk = std::max(pk, std::fabs(v));
        ss += (double)v * v;
      }
      peak_[c] = pk;
      sumsq_[c] = ss;
    }
    count_ += upto - i;
    const bool full = upto < samples || t0 + upto * us_per_sample >= (double)end - 0.5;
    i = upto;
    if (full) Flush();  // its last sample is in: emit now, not when the next window begins
  }
  base_n_ += samples;
}

void AudioMeter::Flush() {
  // After a hole or a step back, counting may restart inside (or before) a window already emitted: the
  // envelope keeps one entry per window, in order, so those samples are not reported again.
  if (cur_start_ != INT64_MIN && count_ > 0 && cur_start_ > last_emitted_) {
    last_emitted_ = cur_start_;
    float peak = 0;
    double ms = 0;
    for (size_t c = 0; c < peak_.size(); c++) {
      peak = std::max(peak, peak_[c]);
      ms = std::max(ms, sumsq_[c] / (double)count_);
    }
    batch_.push_back({cur_start_, Db(peak), Db(std::sqrt(ms))});
  }
  cur_start_ = INT64_MIN;
  count_ = 0;
  std::fill(peak_.begin(), peak_.end(), 0.0f);
  std::fill(sumsq_.begin(), sumsq_.end(), 0.0);
}

}  // namespace avr
