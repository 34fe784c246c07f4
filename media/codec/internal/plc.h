// Plc: spandsp's packet loss concealer for one decoded stream (G.711, G.722), behind a small
// class so that the codec headers need not include spandsp.h.
//
// Algorithm (spandsp plc.c, after ITU-T G.711 Appendix I): Rx() keeps the last 280 samples of
// good audio; on the first lost frame Fillin() finds the pitch period by autocorrelation
// (40..120 samples, i.e. 66..200 Hz at 8 kHz, 133..400 Hz at 16 kHz), repeats that cycle with
// an overlap-add join and a linear attenuation, and reaches silence after about 60 ms of
// consecutive loss. Rx() of the first good frame after a loss blends its start into the
// concealment (the only time it changes the frame).
//
// Construction allocates the state once; Rx/Fillin do not allocate. One thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

namespace anchord::media::codec::internal {

class Plc {
 public:
  Plc();
  ~Plc();
  Plc(const Plc&) = delete;
  Plc& operator=(const Plc&) = delete;

  // Every good frame, after decoding; may modify `frame` (see above).
  void Rx(std::span<int16_t> frame);
  // Replaces a lost frame.
  void Fillin(std::span<int16_t> frame);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace anchord::media::codec::internal
