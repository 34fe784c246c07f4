#include "media/tty/tty_decoder.h"

#include <algorithm>
#include <cstring>

#include <spandsp.h>

namespace anchord::media::tty {
namespace {

// Baudot shift codes (ITA2): they change the table, they are not characters.
constexpr uint8_t kFigs = 0x1B;
constexpr uint8_t kLtrs = 0x1F;
// A receiver at the wrong rate (45.45 vs 50) only frames a character when bits 3-5 read as
// mark, so it can only produce codes 0x1C-0x1F; any code below proves the rate. FIGS (0x1B)
// is below too.
constexpr uint8_t kFirstAmbiguousCode = 0x1C;

}  // namespace

const char* TtyBaudName(TtyBaud baud) {
  switch (baud) {
    case TtyBaud::k45:
      return "45.45";
    case TtyBaud::k50:
      return "50";
    case TtyBaud::kUnknown:
      break;
  }
  return "unknown";
}

Result<std::unique_ptr<TtyDecoder>> TtyDecoder::Create() {
  std::unique_ptr<TtyDecoder> d(new TtyDecoder());
  // The decoder only borrows the V.18 state's Baudot shift; the mode is irrelevant to it.
  d->shift_ = v18_init(nullptr, FALSE, V18_MODE_5BIT_45, nullptr, nullptr);
  if (d->shift_ == nullptr) return Fail("tty: v18_init failed");
  const int presets[2] = {FSK_WEITBRECHT, FSK_WEITBRECHT50};
  const TtyBaud bauds[2] = {TtyBaud::k45, TtyBaud::k50};
  for (size_t i = 0; i < d->receivers_.size(); ++i) {
    Receiver& rx = d->receivers_[i];
    rx.owner = d.get();
    rx.baud = bauds[i];
    rx.fsk = fsk_rx_init(nullptr, &preset_fsk_specs[presets[i]], FSK_FRAME_MODE_5N1_FRAMES,
                         &TtyDecoder::OnBits, &rx);
    // spandsp's own carrier threshold (-30 dBm0) stays: its carrier-up restarts the framing,
    // so a "start bit" found in -35 dBm0 noise just before the tones cannot frame a code that
    // is half noise. (At -40 dBm0 it did: "XHELP". The price: TTY below about -28 dBm0, 0.2x
    // of nominal, is not decoded.)
    if (rx.fsk == nullptr) return Fail("tty: fsk_rx_init failed");
  }
  return d;
}

TtyDecoder::~TtyDecoder() {
  for (Receiver& rx : receivers_) {
    if (rx.fsk != nullptr) fsk_rx_free(rx.fsk);
  }
  if (shift_ != nullptr) v18_free(shift_);
}

void TtyDecoder::Process(std::span<const int16_t> pcm) {
  size_t offset = 0;
  // No carrier (almost every leg, almost always): whole frames through the gate's faster
  // path, remembered for the replay; it stops at the sub-block where a carrier rises.
  constexpr size_t kFrame = internal::TtyToneGate::kFrameBlocks * internal::TtyToneGate::kSubBlock;
  while (!gate_.carrier() && gate_.fill() == 0 && pcm.size() - offset >= kFrame) {
    const size_t closed = gate_.ProcessFrame(pcm.data() + offset);
    const size_t n = closed * internal::TtyToneGate::kSubBlock;
    Remember(pcm.data() + offset, n);
    offset += n;
    if (gate_.carrier()) {
      ++counters_.carrier_ups;
      ReplayHistory();
    }
  }
  // Pieces of at most one gate sub-block keep the gate's verdict within 5 ms of the sample the
  // demodulators frame a character on.
  while (offset < pcm.size()) {
    const size_t n = std::min(internal::TtyToneGate::kSubBlock, pcm.size() - offset);
    const int16_t* piece = pcm.data() + offset;
    const bool was_carrier = gate_.carrier();
    gate_.Process(piece, n);
    if (gate_.carrier() != was_carrier) {
      if (gate_.carrier()) {
        ++counters_.carrier_ups;
        ReplayHistory();
      } else {
        OnCarrierDown();
      }
    }
    if (gate_.carrier()) {
      Demodulate(piece, n);
    } else {
      Remember(piece, n);
    }
    offset += n;
  }
}

void TtyDecoder::ProcessWideband(std::span<const int16_t> pcm) {
  int16_t narrow[internal::HalfBandDecimator::kMaxInput / 2];
  for (size_t at = 0; at + 1 < pcm.size(); at += internal::HalfBandDecimator::kMaxInput) {
    const auto block = pcm.subspan(
        at, std::min(internal::HalfBandDecimator::kMaxInput, pcm.size() - at) & ~size_t{1});
    decimator_.Process(block, {narrow, block.size() / 2});
    Process({narrow, block.size() / 2});
  }
}

void TtyDecoder::Demodulate(const int16_t* pcm, size_t n) {
  for (Receiver& rx : receivers_) fsk_rx(rx.fsk, pcm, static_cast<int>(n));
}

void TtyDecoder::Remember(const int16_t* pcm, size_t n) {
  if (n > kHistorySamples) {  // only the last kHistorySamples matter
    pcm += n - kHistorySamples;
    n = kHistorySamples;
  }
  const size_t first = std::min(n, kHistorySamples - history_end_);
  std::memcpy(history_.data() + history_end_, pcm, first * sizeof(int16_t));
  std::memcpy(history_.data(), pcm + first, (n - first) * sizeof(int16_t));
  history_end_ = (history_end_ + n) % kHistorySamples;
  history_len_ = std::min(kHistorySamples, history_len_ + n);
}

// Oldest first: the part of the ring after the write position, then the part before it.
void TtyDecoder::ReplayHistory() {
  const size_t start = (history_end_ + kHistorySamples - history_len_) % kHistorySamples;
  const size_t first = std::min(history_len_, kHistorySamples - start);
  Demodulate(history_.data() + start, first);
  Demodulate(history_.data(), history_len_ - first);
  history_len_ = 0;
}

size_t TtyDecoder::ReadChars(std::span<char> out) {
  const size_t n = std::min(out.size(), ring_size_);
  for (size_t i = 0; i < n; ++i) {
    out[i] = ring_[ring_head_];
    ring_head_ = (ring_head_ + 1) % kRingSize;
  }
  ring_size_ -= n;
  return n;
}

// spandsp calls this with a framed character (5 data bits + the stop bit at bit 5) or, having
// no status handler, with a negative SIG_STATUS_* value on its own carrier changes, which the
// tone gate supersedes.
void TtyDecoder::OnBits(void* user, int bits) {
  if (bits < 0) return;
  Receiver& rx = *static_cast<Receiver*>(user);
  rx.owner->OnCode(rx, static_cast<uint8_t>(bits & 0x1F));
}

void TtyDecoder::OnCode(Receiver& rx, uint8_t code) {
  if (!gate_.carrier()) {
    ++counters_.codes_rejected;
    return;
  }
  if (locked_ == rx.baud) {
    Deliver(code);
    return;
  }
  if (locked_ != TtyBaud::kUnknown) {
    ++counters_.codes_other_rate;
    return;
  }
  if (code < kFirstAmbiguousCode) {
    Lock(rx);
    Deliver(code);
    return;
  }
  if (rx.pending_count < kMaxPending) {
    rx.pending[rx.pending_count++] = code;
  } else {
    ++counters_.chars_overflowed;
  }
}

// The burst's rate is proven by `rx`: what it held is delivered in order, the other's dropped.
void TtyDecoder::Lock(Receiver& rx) {
  locked_ = rx.baud;
  last_locked_ = rx.baud;
  for (Receiver& other : receivers_) {
    if (&other != &rx) {
      counters_.codes_other_rate += other.pending_count;
      other.pending_count = 0;
    }
  }
  for (size_t i = 0; i < rx.pending_count; ++i) Deliver(rx.pending[i]);
  rx.pending_count = 0;
}

// A burst that ended without proving its rate (say "MV"): trust the last burst's rate, or
// 45.45 (the US rate) if none; the TTY user's device does not change rate within a call.
void TtyDecoder::OnCarrierDown() {
  if (locked_ == TtyBaud::kUnknown) {
    const TtyBaud guess = last_locked_ != TtyBaud::kUnknown ? last_locked_ : TtyBaud::k45;
    for (Receiver& rx : receivers_) {
      if (rx.baud == guess) {
        for (size_t i = 0; i < rx.pending_count; ++i) Deliver(rx.pending[i]);
      } else {
        counters_.codes_other_rate += rx.pending_count;
      }
      rx.pending_count = 0;
    }
  }
  locked_ = TtyBaud::kUnknown;
}

void TtyDecoder::Deliver(uint8_t code) {
  const uint8_t c = v18_decode_baudot(shift_, code);
  if (code == kFigs || code == kLtrs || c == 0) return;
  if (ring_size_ == kRingSize) {
    ++counters_.chars_overflowed;
    return;
  }
  ring_[(ring_head_ + ring_size_) % kRingSize] = static_cast<char>(c);
  ++ring_size_;
  ++counters_.chars;
}

}  // namespace anchord::media::tty
