#include "wall_clock.h"

#include <algorithm>
#include <cmath>

namespace avr {

void WallMap::Append(int64_t t, int64_t wall, double rate) {
  if (!segs_.empty() && t <= segs_.back().t) {
    // Same start (several updates for one instant): the newest rate wins, the start stays put.
    if (t == segs_.back().t) segs_.back().rate = rate;
    return;
  }
  segs_.push_back({t, wall, rate});
}

int64_t WallMap::Wall(int64_t t) const {
  if (segs_.empty()) return 0;
  auto it = std::upper_bound(segs_.begin(), segs_.end(), t, [](int64_t v, const Segment& s) { return v < s.t; });
  const Segment& s = it == segs_.begin() ? *it : *(it - 1);
  return s.wall + std::llround((double)(t - s.t) * s.rate);
}

int64_t WallMap::Timeline(int64_t wall) const {
  if (segs_.empty()) return wall;
  auto it = std::upper_bound(segs_.begin(), segs_.end(), wall,
                             [](int64_t v, const Segment& s) { return v < s.wall; });
  const Segment& s = it == segs_.begin() ? *it : *(it - 1);
  return s.t + std::llround((double)(wall - s.wall) / s.rate);
}

void WallMap::PruneBefore(int64_t t) {
  while (segs_.size() >= 2 && segs_[1].t <= t) segs_.pop_front();
}

WallMap WallMap::Slice(int64_t from, int64_t to) const {
  WallMap m;
  for (size_t i = 0; i < segs_.size(); i++) {
    const bool ends_before = i + 1 < segs_.size() && segs_[i + 1].t <= from;
    if (ends_before) continue;
    if (segs_[i].t > to && !m.segs_.empty()) break;
    m.segs_.push_back(segs_[i]);
  }
  return m;
}

void ClockEstimator::Fit() {
  // Least squares through the window minima, relative to the newest one (keeps the doubles exact).
  const Minimum& last = minima_.back();
  const double n = (double)minima_.size();
  double st = 0, sd = 0, stt = 0, std_ = 0;
  for (const Minimum& m : minima_) {
    const double x = (double)(m.t - last.t), y = (double)(m.d - last.d);
    st += x;
    sd += y;
    stt += x * x;
    std_ += x * y;
  }
  const double den = n * stt - st * st;
  double slope = 0;
  if (minima_.size() >= 2 && den > 0) slope = (n * std_ - st * sd) / den;
  slope = std::clamp(slope, -0.5, 0.5);  // a source more than 50 % off real time is not a clock to follow
  // The line through the minima's centroid, then lowered onto the lowest of them: delays are never
  // negative, so no minimum may lie below the line.
  double icept = (sd - slope * st) / n;  // at x = 0 (the newest minimum)
  double lowest = 0;
  bool first = true;
  for (const Minimum& m : minima_) {
    const double r = (double)(m.d - last.d) - (icept + slope * (double)(m.t - last.t));
    if (first || r < lowest) lowest = r;
    first = false;
  }
  icept += lowest;
  rate_ = 1.0 + slope;
  fit_t_ = last.t;
  fit_d_ = (double)last.d + icept;
}

bool ClockEstimator::Observe(int64_t t, int64_t arrival, WallMap* map) {
  const int64_t d = arrival - t;
  if (map->empty()) {
    map->Append(t, arrival, 1.0);
    win_start_ = t;
    win_min_d_ = d;
    win_min_t_ = t;
    return true;
  }
  if (win_start_ == INT64_MIN) win_start_ = t;
  if (d < win_min_d_) {
    win_min_d_ = d;
    win_min_t_ = t;
  }
  if (t - win_start_ < kWindowUs) return false;
  minima_.push_back({win_min_t_, win_min_d_});
  if (minima_.size() > kMinima) minima_.pop_front();
  Fit();
  win_start_ = t;
  win_min_d_ = d;
  win_min_t_ = t;
  // Continue the map from where it is now and steer toward the fitted line over kSlewUs.
  const int64_t cur = map->Wall(t);
  const double target = (double)(t + kSlewUs) + fit_d_ + (rate_ - 1.0) * (double)(t + kSlewUs - fit_t_);
  const double rate = std::clamp((target - (double)cur) / (double)kSlewUs, 0.5, 2.0);
  map->Append(t, cur, rate);
  return true;
}

}  // namespace avr
