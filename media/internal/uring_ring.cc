#include "media/internal/uring_ring.h"

#include <netinet/in.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "media/internal/rtp_leg.h"

namespace anchord::media::internal {
namespace {

std::atomic<bool> g_force_unavailable{false};
std::atomic<bool> g_force_sendmsg{false};

constexpr uint64_t kRecvTag = 1;  // low bit of user_data: a receive (legs are aligned)
constexpr uint64_t kWaitUs = 1'000'000;

uint64_t NowUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

uint64_t Tag(RtpLeg& leg, uint64_t tag) { return reinterpret_cast<uintptr_t>(&leg) | tag; }

}  // namespace

void UringRing::ForceUnavailableForTesting(bool unavailable) {
  g_force_unavailable.store(unavailable, std::memory_order_relaxed);
}

void UringRing::ForceSendmsgForTesting(bool sendmsg) {
  g_force_sendmsg.store(sendmsg, std::memory_order_relaxed);
}

std::unique_ptr<UringRing> UringRing::Create(bool multishot_recv, std::string* why) {
  if (g_force_unavailable.load(std::memory_order_relaxed)) {
    *why = "io_uring forced off (test)";
    return nullptr;
  }
  std::unique_ptr<UringRing> r(new UringRing());
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  p.cq_entries = kCqEntries;
  int rc = io_uring_queue_init_params(kEntries, &r->ring_, &p);
  if (rc == -EINVAL) {
    // Before 6.1 there is no DEFER_TASKRUN: completions then come by task work as they happen.
    p = {};
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    rc = io_uring_queue_init_params(kEntries, &r->ring_, &p);
  } else if (rc == 0) {
    r->defer_taskrun_ = true;
  }
  if (rc < 0) {
    *why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
    return nullptr;
  }
  r->initialised_ = true;
  r->multishot_ = multishot_recv;
  // A sparse file table (5.19+); refused (EMFILE under a low RLIMIT_NOFILE, old kernels): fds.
  for (unsigned slots = kFileSlots; slots >= 1024; slots /= 4) {
    if (io_uring_register_files_sparse(&r->ring_, slots) != 0) continue;
    r->free_files_.reserve(slots);
    for (unsigned i = slots; i-- > 0;) r->free_files_.push_back(static_cast<int>(i));
    break;
  }
  r->recv_msg_.msg_namelen = sizeof(sockaddr_in);
  r->send_with_address_ =
      !g_force_sendmsg.load(std::memory_order_relaxed) && r->ProbeSendWithAddress();
  return r;
}

UringRing::~UringRing() {
  if (initialised_) io_uring_queue_exit(&ring_);  // cancels whatever is still armed
  for (Group& g : groups_) {
    munmap(g.ring, kGroupBuffers * sizeof(io_uring_buf));
    munmap(g.memory, kGroupBuffers * kBufferSize);
  }
}

io_uring_sqe* UringRing::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  io_uring_submit(&ring_);  // more than kEntries this tick: flush what is queued
  return io_uring_get_sqe(&ring_);
}

bool UringRing::QueueSend(RtpLeg& leg, int fd, const msghdr& msg) {
  io_uring_sqe* sqe = Sqe();
  if (sqe == nullptr) return false;
  if (send_with_address_) {
    io_uring_prep_send(sqe, fd, msg.msg_iov[0].iov_base, msg.msg_iov[0].iov_len, MSG_DONTWAIT);
    io_uring_prep_send_set_addr(sqe, static_cast<const sockaddr*>(msg.msg_name),
                                static_cast<uint16_t>(msg.msg_namelen));
  } else {
    io_uring_prep_sendmsg(sqe, fd, &msg, MSG_DONTWAIT);
  }
  UseFile(sqe, leg);
  io_uring_sqe_set_data64(sqe, Tag(leg, 0));
  return true;
}

void UringRing::Submit() { io_uring_submit(&ring_); }

void UringRing::Poll(uint64_t now_us) {
  now_us_ = now_us;
  // DEFER_TASKRUN: the receives of everything that arrived since the last tick run here.
  // io_uring_get_events() would run at most 20 of them per call (IO_LOCAL_TW_DEFAULT_MAX,
  // 6.13+: the rest waited a tick, and so on); asking for up to kCqEntries events with a zero
  // timeout runs them all in one call and returns at once (-ETIME).
  if (defer_taskrun_) {
    __kernel_timespec zero{0, 0};
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<uintptr_t>(&zero);
    io_uring_enter2(ring_.ring_fd, 0, kCqEntries, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                    reinterpret_cast<sigset_t*>(&arg), sizeof arg);
  }
  io_uring_cqe* cqes[256];
  for (;;) {
    const unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, 256);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) Dispatch(*cqes[i]);
    io_uring_cq_advance(&ring_, n);
  }
}

void UringRing::Dispatch(const io_uring_cqe& cqe) {
  const uint64_t data = cqe.user_data;
  if (data == 0) return;  // a cancel's own completion
  RtpLeg& leg = *reinterpret_cast<RtpLeg*>(static_cast<uintptr_t>(data & ~kRecvTag));
  if ((data & kRecvTag) != 0) {
    OnRecv(leg, cqe);
  } else {
    leg.OnSendComplete(cqe.res);
  }
}

void UringRing::OnRecv(RtpLeg& leg, const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    const unsigned bid = cqe.flags >> IORING_CQE_BUFFER_SHIFT;
    uint8_t* buf = groups_[bid / kGroupBuffers].memory + (bid % kGroupBuffers) * kBufferSize;
    io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, cqe.res, &recv_msg_);
    if (!leg.ring_detaching_) {
      sockaddr_in from{};
      bool ok =
          out != nullptr && (out->flags & MSG_TRUNC) == 0 && out->namelen == sizeof(sockaddr_in);
      if (ok) std::memcpy(&from, io_uring_recvmsg_name(out), sizeof from);
      ok = ok && from.sin_family == AF_INET;
      const auto* payload =
          ok ? static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &recv_msg_)) : nullptr;
      const size_t len = ok ? io_uring_recvmsg_payload_length(out, cqe.res, &recv_msg_) : 0;
      leg.OnRingDatagram(payload, len, from, now_us_);
    }
    RecycleBuffer(bid);
  }
  if ((cqe.flags & IORING_CQE_F_MORE) != 0) return;
  // The receive ended. -EINVAL: this kernel has no multishot recvmsg; the legs read again.
  leg.ring_recv_ = false;
  if (cqe.res == -EINVAL || cqe.res == -EOPNOTSUPP) multishot_ = false;
  if (leg.ring_detaching_ || !multishot_) return;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);  // no flush here: we are reaping
  if (sqe == nullptr) return;                    // the leg re-arms on its next Receive()
  PrepRecv(sqe, leg, leg.rtp_fd_, leg.ring_group_);
}

void UringRing::RecycleBuffer(unsigned bid) {
  io_uring_buf_ring* br = groups_[bid / kGroupBuffers].ring;
  const unsigned idx = bid % kGroupBuffers;
  io_uring_buf_ring_add(br, groups_[bid / kGroupBuffers].memory + idx * kBufferSize, kBufferSize,
                        static_cast<unsigned short>(bid), io_uring_buf_ring_mask(kGroupBuffers), 0);
  io_uring_buf_ring_advance(br, 1);
}

int UringRing::GroupWithRoom() {
  for (size_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].legs < kLegsPerGroup) return static_cast<int>(g);
  }
  if (groups_.size() >= kMaxGroups) return -1;
  Group g;
  void* ring_mem = mmap(nullptr, kGroupBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* mem = mmap(nullptr, kGroupBuffers * kBufferSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring_mem == MAP_FAILED || mem == MAP_FAILED) {
    if (ring_mem != MAP_FAILED) munmap(ring_mem, kGroupBuffers * sizeof(io_uring_buf));
    if (mem != MAP_FAILED) munmap(mem, kGroupBuffers * kBufferSize);
    return -1;
  }
  g.ring = static_cast<io_uring_buf_ring*>(ring_mem);
  g.memory = static_cast<uint8_t*>(mem);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uintptr_t>(ring_mem);
  reg.ring_entries = kGroupBuffers;
  reg.bgid = static_cast<uint16_t>(groups_.size());
  if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
    munmap(ring_mem, kGroupBuffers * sizeof(io_uring_buf));
    munmap(mem, kGroupBuffers * kBufferSize);
    multishot_ = false;  // no provided-buffer rings (before 5.19): no multishot either
    return -1;
  }
  io_uring_buf_ring_init(g.ring);
  const unsigned base = static_cast<unsigned>(groups_.size()) * kGroupBuffers;
  for (unsigned i = 0; i < kGroupBuffers; ++i) {
    io_uring_buf_ring_add(g.ring, g.memory + i * kBufferSize, kBufferSize,
                          static_cast<unsigned short>(base + i),
                          io_uring_buf_ring_mask(kGroupBuffers), static_cast<int>(i));
  }
  io_uring_buf_ring_advance(g.ring, kGroupBuffers);
  groups_.push_back(g);
  return static_cast<int>(groups_.size() - 1);
}

void UringRing::PrepRecv(io_uring_sqe* sqe, RtpLeg& leg, int fd, int group) {
  io_uring_prep_recvmsg_multishot(sqe, fd, &recv_msg_, 0);
  UseFile(sqe, leg);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = static_cast<uint16_t>(group);
  io_uring_sqe_set_data64(sqe, Tag(leg, kRecvTag));
  leg.ring_recv_ = true;
}

void UringRing::UseFile(io_uring_sqe* sqe, const RtpLeg& leg) {
  if (leg.ring_file_ < 0) return;
  sqe->fd = leg.ring_file_;
  sqe->flags |= IOSQE_FIXED_FILE;
}

void UringRing::RegisterFile(RtpLeg& leg, int fd) {
  leg.ring_file_ = -1;
  if (free_files_.empty()) return;
  const int slot = free_files_.back();
  if (io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1) != 1) return;
  free_files_.pop_back();
  leg.ring_file_ = slot;
}

bool UringRing::ArmRecv(RtpLeg& leg, int fd) {
  if (leg.ring_file_ == -2) RegisterFile(leg, fd);  // once, from the leg's constructor
  if (!multishot_) return false;
  if (leg.ring_group_ < 0) {
    const int g = GroupWithRoom();
    if (g < 0) return false;
    leg.ring_group_ = g;
    ++groups_[static_cast<size_t>(g)].legs;
  }
  io_uring_sqe* sqe = Sqe();
  if (sqe == nullptr) return false;
  PrepRecv(sqe, leg, fd, leg.ring_group_);
  return true;
}

bool UringRing::WaitOnce(uint64_t deadline_us) {
  if (NowUs() > deadline_us) return false;
  io_uring_submit(&ring_);
  __kernel_timespec ts{0, 10'000'000};
  io_uring_cqe* cqe = nullptr;
  io_uring_wait_cqe_timeout(&ring_, &cqe, &ts);
  Poll(now_us_);
  return true;
}

void UringRing::WaitSend(RtpLeg& leg) {
  const uint64_t deadline = NowUs() + kWaitUs;
  while (leg.send_queued_ && WaitOnce(deadline)) {
  }
}

void UringRing::Detach(RtpLeg& leg) {
  leg.ring_detaching_ = true;
  if (leg.ring_recv_) {
    io_uring_sqe* sqe = Sqe();
    if (sqe != nullptr) {
      io_uring_prep_cancel64(sqe, Tag(leg, kRecvTag), 0);
      io_uring_sqe_set_data64(sqe, 0);
    }
  }
  const uint64_t deadline = NowUs() + kWaitUs;
  while ((leg.ring_recv_ || leg.send_queued_) && WaitOnce(deadline)) {
  }
  if (leg.ring_group_ >= 0) --groups_[static_cast<size_t>(leg.ring_group_)].legs;
  leg.ring_group_ = -1;
  if (leg.ring_file_ >= 0) {
    // The table's reference goes; the socket closes with the leg.
    int none = -1;
    io_uring_register_files_update(&ring_, static_cast<unsigned>(leg.ring_file_), &none, 1);
    free_files_.push_back(leg.ring_file_);
    leg.ring_file_ = -1;
  }
}

// One byte from one loopback socket to another. Kernels before 6.0 refuse the address
// (-EINVAL); one that ignored it would fail on the unconnected socket (-EDESTADDRREQ).
bool UringRing::ProbeSendWithAddress() {
  const int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof to;
  bool ok = rx >= 0 && tx >= 0 && bind(rx, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 &&
            getsockname(rx, reinterpret_cast<sockaddr*>(&to), &len) == 0;
  io_uring_sqe* sqe = ok ? io_uring_get_sqe(&ring_) : nullptr;
  if (sqe != nullptr) {
    static const uint8_t kByte = 0;
    io_uring_prep_send(sqe, tx, &kByte, 1, MSG_DONTWAIT);
    io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    io_uring_sqe_set_data64(sqe, 0);
    io_uring_cqe* cqe = nullptr;
    ok = io_uring_submit_and_wait(&ring_, 1) >= 0 && io_uring_peek_cqe(&ring_, &cqe) == 0 &&
         cqe->res == 1;
    if (cqe != nullptr) io_uring_cqe_seen(&ring_, cqe);
    uint8_t got = 1;
    ok = ok && recv(rx, &got, 1, MSG_DONTWAIT) == 1;
  } else {
    ok = false;
  }
  if (rx >= 0) close(rx);
  if (tx >= 0) close(tx);
  return ok;
}

}  // namespace anchord::media::internal
