// Invariant 4 for the codecs: after creation, Decode, Conceal, DecodeFec and Encode allocate
// nothing. Every malloc-family call of this test binary goes through the counting wrappers
// below (the executable's definitions interpose glibc's for the C libraries too: libopus,
// spandsp, speexdsp); they count only on a thread that armed them, and otherwise just forward.
#include <gtest/gtest.h>

// Under AddressSanitizer the wrappers would hand ASan's free() blocks it did not allocate.
#if defined(__SANITIZE_ADDRESS__)
#define ANCHORD_COUNT_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ANCHORD_COUNT_MALLOC 0
#endif
#endif
#ifndef ANCHORD_COUNT_MALLOC
#define ANCHORD_COUNT_MALLOC 1
#endif

#include <cstdlib>
#include <vector>

#include "media/codec/codec_factory.h"
#include "tests/unit/media/codec_test_util.h"

#if ANCHORD_COUNT_MALLOC
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
}

namespace {
thread_local bool armed = false;
thread_local int allocations = 0;
void Count() {
  if (armed) ++allocations;
}
}  // namespace

extern "C" {
void* malloc(size_t size) {
  Count();
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  Count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  Count();
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) {
  Count();
  return __libc_memalign(alignment, size);
}
}
#else
namespace {
thread_local bool armed = false;
thread_local int allocations = 0;
}  // namespace
#endif

namespace anchord::media::codec {
namespace {

TEST(CodecAllocTest, WrappersSeeAllocations) {  // the test below can fail
  if (!ANCHORD_COUNT_MALLOC) GTEST_SKIP() << "allocation counting is off under ASan";
  armed = true;
  allocations = 0;
  // volatile: the compiler may otherwise elide an unused allocation pair.
  void* volatile p = std::malloc(10);
  int* volatile q = new int(3);
  armed = false;
  std::free(p);
  delete q;
  EXPECT_GE(allocations, 2);
}

TEST(CodecAllocTest, FramesAllocateNothing) {
  if (!ANCHORD_COUNT_MALLOC) GTEST_SKIP() << "allocation counting is off under ASan";
  for (const char* encoding : {"PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2"}) {
    for (int rate : {8000, 16000}) {
      auto enc = CreateEncoder(*ParseRtpmap(encoding), rate);
      auto dec = CreateDecoder(*ParseRtpmap(encoding), rate);
      ASSERT_TRUE(enc && dec);
      const size_t n = FrameSamples(rate);
      const auto tone = testing::Tone(1000, rate, 8000, 0, n * 30);
      std::vector<uint8_t> payload(kMaxPayloadBytes), next(kMaxPayloadBytes);
      std::vector<int16_t> out(n);
      armed = true;
      allocations = 0;
      (*enc)->SetPacketLossPercent(10);
      for (size_t f = 0; f + 1 < 30; f += 2) {
        const size_t a = (*enc)->Encode(std::span(tone).subspan(f * n, n), payload);
        const size_t b = (*enc)->Encode(std::span(tone).subspan((f + 1) * n, n), next);
        (void)(*dec)->Decode(std::span(payload).first(a), out);
        (*dec)->Conceal(out);
        (void)(*dec)->DecodeFec(std::span(next).first(b), out);
        (void)(*dec)->Decode(std::span(next).first(b), out);
        (void)(*dec)->Decode({}, out);
      }
      armed = false;
      EXPECT_EQ(allocations, 0) << encoding << " at " << rate;
    }
  }
}

}  // namespace
}  // namespace anchord::media::codec
