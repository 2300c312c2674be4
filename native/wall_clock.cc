#include "wall_clock.h"

#include <algorithm>
#include <cmath>
#include <vector>

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
  // The highest line that no minimum lies below, judged at the minima's mean instant (the linear-program
  // skew estimate of Moon, Skelly and Towsley): an edge of the minima's lower convex hull. Delays are
  // never negative, so the true clock line lies below every sample; jitter and bursts (an HLS client
  // downloading three segments at once) only lift samples above it, and cannot tilt it.
  const Minimum& last = minima_.back();
  auto x = [&](const Minimum& m) { return (double)(m.t - last.t); };
  auto y = [&](const Minimum& m) { return (double)(m.d - last.d); };
  std::vector<const Minimum*> hull;  // lower hull, by increasing t (minima come in t order)
  for (const Minimum& m : minima_) {
    while (hull.size() >= 2) {
      const Minimum& a = *hull[hull.size() - 2];
      const Minimum& b = *hull.back();
      // Drop b when it lies on or above the segment a → m.
      if ((x(b) - x(a)) * (y(m) - y(a)) - (y(b) - y(a)) * (x(m) - x(a)) <= 0) hull.pop_back();
      else break;
    }
    hull.push_back(&m);
  }
  double mean = 0;
  for (const Minimum& m : minima_) mean += x(m);
  mean /= (double)minima_.size();
  double slope = 0;
  for (size_t i = 0; i + 1 < hull.size(); i++) {
    if (x(*hull[i + 1]) >= mean) {
      slope = (y(*hull[i + 1]) - y(*hull[i])) / (x(*hull[i + 1]) - x(*hull[i]));
      break;
    }
  }
  slope = std::clamp(slope, -kMaxSkew, kMaxSkew);
  // That slope's line through the hull vertex that keeps every minimum on or above it.
  double icept = 0;  // the line's value at the newest minimum's instant, relative to its d
  bool first = true;
  for (const Minimum* m : hull) {
    const double at_last = y(*m) - slope * x(*m);
    if (first || at_last < icept) icept = at_last;
    first = false;
  }
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
