// Counter-based random streams (Philox4x32-10 from Random123).
// A draw is a pure function of (seed, purpose, a, b, counter), so results depend neither on the
// order in which streams are used nor on threads, and any stream can be regenerated on demand.
#pragma once
#include <Random123/philox.h>

#include <cmath>
#include <cstdint>

#include "engine/host_device.hpp"

namespace gs {

// What a stream is for; part of the key so that streams of different jobs never coincide.
enum class rng_purpose : uint32_t {
  params = 1, initial = 2, connect = 3, weight = 4, delay = 5, stimulus = 6, hazard = 7,
  positions = 8, clock_hazard = 9, procedural_connect = 10, procedural_weight = 11, procedural_delay = 12, clock_poisson = 13,
  cuda_poisson = 14, protocol = 15, hidden = 16, rls_loop = 17, rls_target = 18
};

class rng_stream {
 public:
  // A third key c < 2^24 shares the purpose's word (purposes stay below 256).
  GS_HD rng_stream(uint64_t seed, rng_purpose purpose, uint32_t a, uint32_t b = 0, uint32_t c = 0)
      : key_{{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)}},
        ctr_{{0, a, b, static_cast<uint32_t>(purpose) | (c << 8)}} {}

  // Uniform in [0, 1) with 53 random bits.
  GS_HD double uniform() {
    const uint64_t bits = next64() >> 11;
    return static_cast<double>(bits) * 0x1.0p-53;
  }
  // Uniform in (0, 1]: safe for log().
  GS_HD double uniform_pos() { return 1.0 - uniform(); }
  GS_HD double exponential(double rate) { return -std::log(uniform_pos()) / rate; }
  GS_HD double normal() {
    // Box-Muller without caching the second value keeps draws a function of the counter alone.
    const double u1 = uniform_pos(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  // Uniform integer in [0, n), n > 0, without modulo bias (Lemire's method).
  GS_HD uint64_t below(uint64_t n) {
    for (;;) {
      const uint64_t x = next64();
      const unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
      const uint64_t low = static_cast<uint64_t>(m);
      if (low >= n || low >= (-n) % n) return static_cast<uint64_t>(m >> 64);
    }
  }

  GS_HD uint64_t next64() {
    if (have_ == 0) {
      out_ = r123::Philox4x32{}(ctr_, key_);
      ++ctr_[0];
      have_ = 2;
    }
    --have_;
    const unsigned i = have_ * 2;
    return (static_cast<uint64_t>(out_[i]) << 32) | out_[i + 1];
  }

 private:
  r123::Philox4x32::key_type key_;
  r123::Philox4x32::ctr_type ctr_;
  r123::Philox4x32::ctr_type out_{};
  unsigned have_ = 0;
};

// A sequential generator (xoshiro256+) for draws made in a fixed order on one object, such as a
// clock step's draw per target: about a nanosecond a draw against some fifteen for a Philox
// block. Seeded from a counter-based stream, so each object's sequence is still a function of
// (seed, purpose, keys) alone, whichever thread advances it.
class sequential_stream {
 public:
  sequential_stream(uint64_t seed, rng_purpose purpose, uint32_t a, uint32_t b) {
    rng_stream init(seed, purpose, a, b);
    for (auto& w : s_) w = init.next64();
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one state it cannot leave
  }
  // Uniform in [0, 1) from the top 53 bits (xoshiro256+'s low bits are its weak ones).
  double uniform() {
    const uint64_t r = s_[0] + s_[3], t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = (s_[3] << 45) | (s_[3] >> 19);
    return static_cast<double>(r >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t s_[4];
};

}  // namespace gs
