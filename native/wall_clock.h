// Wall-clock time of timeline instants. The source's clock is tracked continuously (offset *and* rate)
// against arrival time, so a camera whose clock runs 50 ppm (or 5 %) off does not drift away from real
// time over days, and network jitter does not move the mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace avr {

// Piecewise-linear, continuous and increasing map from timeline µs to wall µs (since the epoch).
// Segments are only appended, so an instant keeps the wall time it was given when it was buffered.
class WallMap {
 public:
  struct Segment {
    int64_t t;     // timeline µs where the segment starts
    int64_t wall;  // its wall time
    double rate;   // wall µs per timeline µs from there on
  };
  bool empty() const { return segs_.empty(); }
  // Appends a segment at t; t must not be before the last segment's start.
  void Append(int64_t t, int64_t wall, double rate);
  int64_t Wall(int64_t t) const;      // 0 when empty
  int64_t Timeline(int64_t wall) const;
  void PruneBefore(int64_t t);        // drops segments that end before t
  // The segments that cover [from, to], for a consumer that maps times after the ring's lock is released.
  WallMap Slice(int64_t from, int64_t to) const;

 private:
  std::deque<Segment> segs_;
};

// Estimates the source clock from (timeline instant, arrival wall time) samples and steers a WallMap.
// Arrival = the instant's true wall time + a delay that is never negative (network, buffering). The lower
// envelope of (arrival − t) is therefore the clock offset: each window keeps its minimum, the highest
// line under the recent minima (an edge of their lower convex hull) gives offset and rate, and the map slews
// continuously toward that line (so it stays monotonic and never jumps, however the estimate moves).
class ClockEstimator {
 public:
  static constexpr int64_t kWindowUs = 1'000'000;   // one minimum per second of media
  static constexpr size_t kMinima = 300;            // the line lies under the last five minutes
  static constexpr int64_t kSlewUs = 2'000'000;     // the map closes half its error every second
  static constexpr double kMaxSkew = 0.1;           // no clock to follow is more than 10 % off real time

  // Returns true when a new segment was appended to `map`.
  bool Observe(int64_t t, int64_t arrival, WallMap* map);

 private:
  struct Minimum { int64_t t, d; };
  void Fit();

  std::deque<Minimum> minima_;
  int64_t win_start_ = INT64_MIN, win_min_d_ = INT64_MAX, win_min_t_ = 0;
  double rate_ = 1.0;
  int64_t fit_t_ = 0;
  double fit_d_ = 0;  // offset (arrival − t) of the fitted line at fit_t_
};

}  // namespace avr
