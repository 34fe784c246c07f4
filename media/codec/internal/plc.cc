#include "media/codec/internal/plc.h"

#include <spandsp.h>

namespace anchord::media::codec::internal {

struct Plc::State {
  plc_state_t plc;
};

Plc::Plc() : state_(std::make_unique<State>()) { plc_init(&state_->plc); }

Plc::~Plc() { plc_release(&state_->plc); }

void Plc::Rx(std::span<int16_t> frame) {
  plc_rx(&state_->plc, frame.data(), static_cast<int>(frame.size()));
}

void Plc::Fillin(std::span<int16_t> frame) {
  plc_fillin(&state_->plc, frame.data(), static_cast<int>(frame.size()));
}

}  // namespace anchord::media::codec::internal
