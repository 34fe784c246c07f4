// UringRing: one io_uring per media worker that batches every leg's RTP send and receive of a
// tick across sockets (per socket there is only one packet per tick, nothing to batch there).
//
// Send. A leg queues its datagram (MSG_DONTWAIT) whose msghdr, address and bytes live in the
// leg itself: as an IORING_OP_SEND with the destination address (6.0+: the kernel copies no
// msghdr or iovec), or an IORING_OP_SENDMSG where a probe at Create() finds no such send.
// Submit() at the end of the tick hands the whole tick's sends to the kernel in one
// io_uring_enter(). With MSG_DONTWAIT a UDP send never waits for socket space: the kernel
// runs it inline during the submit (a full buffer completes with -EAGAIN, as sendto() did),
// so its completion is already in the CQ when the next tick's Poll() reads it. A leg that must rewrite its buffer before that (two packets in
// one tick, a test) calls WaitSend() first.
//
// Receive. Each leg's RTP socket has one multishot IORING_OP_RECVMSG armed (kernel 6.0+)
// that takes a buffer from a provided-buffer ring per datagram. The ring is set up with
// IORING_SETUP_DEFER_TASKRUN, so the kernel does the receives only when Poll() asks for
// events, once at the start of a tick: one syscall for every datagram of every leg, each
// handed to its leg (RtpLeg::OnRingDatagram) and its buffer returned at once. Buffers come in
// groups of kGroupBuffers shared by at most kLegsPerGroup legs (a new group when all are
// full), so memory grows with the legs, not with a worst case. A receive that ends (no
// buffer free, an error) is re-armed; one the kernel refuses (-EINVAL: no multishot
// recvmsg) turns multishot off and the legs read their sockets with recvmmsg() again.
//
// Files. A leg's RTP socket takes a registered-file slot (IOSQE_FIXED_FILE: no fget/fput per
// send or receive) while slots last; Detach() frees the slot, so the socket really closes
// (and its port is free) when the leg closes it.
//
// Completions carry the leg's address (low bit: receive), so a leg must Detach() before it is
// freed: that cancels its receive and waits for its last completions (control path).
//
// Owning thread: the worker that Create()d it (IORING_SETUP_SINGLE_ISSUER); every method runs
// there. QueueSend(), Submit() and Poll() are the data path: no allocation, lock or log.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace anchord::media::internal {

class RtpLeg;

class UringRing {
 public:
  static constexpr unsigned kEntries = 4096;      // SQ entries; more sends per tick flush early
  static constexpr unsigned kCqEntries = 16384;   // a tick's sends + receives of 4 000+ legs
  static constexpr unsigned kGroupBuffers = 512;  // provided buffers per group (power of two)
  static constexpr unsigned kLegsPerGroup = 256;  // 2 buffers per leg: a tick's packet + slack
  // recvmsg_out (16) + sockaddr_in (16) + the largest datagram a leg accepts (1500).
  static constexpr size_t kBufferSize = 1536;
  static constexpr unsigned kMaxGroups = 65536 / kGroupBuffers;  // buffer ids are 16 bits
  // Registered-file slots: a leg's RTP socket is used as a fixed file (no fget/fput per
  // operation) while slots last; beyond that, or without the feature, by its fd.
  static constexpr unsigned kFileSlots = 16384;

  // A ring, or nullptr with the reason in *why (ENOSYS, EPERM: seccomp, io_uring_disabled,
  // containers; or ForceUnavailableForTesting). `multishot_recv` false: sends only.
  static std::unique_ptr<UringRing> Create(bool multishot_recv, std::string* why);
  // Tests: Create() fails as if the kernel refused io_uring (process-wide).
  static void ForceUnavailableForTesting(bool unavailable);
  // Tests: rings created after this send with IORING_OP_SENDMSG (as on kernels before 6.0).
  static void ForceSendmsgForTesting(bool sendmsg);
  ~UringRing();
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;

  // Whether legs receive through the ring (false once the kernel refused multishot recvmsg).
  bool multishot_recv() const { return multishot_; }
  // Whether sends go as IORING_OP_SEND with an address (else IORING_OP_SENDMSG).
  bool sends_with_address() const { return send_with_address_; }

  // Data path. Queues leg's send of `msg` on `fd`; false when the SQ stays full even after a
  // flush (the caller sends itself). `msg` and what it points to must stay untouched until
  // the leg's OnSendComplete().
  bool QueueSend(RtpLeg& leg, int fd, const msghdr& msg);
  // End of tick: one io_uring_enter() for every queued send (and re-armed receive).
  void Submit();
  // Start of tick: runs the deferred receives and dispatches every completion; datagrams are
  // handed over with `now_us` (the tick's time).
  void Poll(uint64_t now_us);

  // Control path. Arms leg's multishot receive on `fd` (submitted with the next Submit() or
  // Poll()); false when it cannot (multishot off, no group, SQ full): the leg reads itself.
  bool ArmRecv(RtpLeg& leg, int fd);
  // Until leg's queued send has completed (bounded: 1 s).
  void WaitSend(RtpLeg& leg);
  // Cancels leg's receive and returns when no completion of it can come any more.
  void Detach(RtpLeg& leg);

 private:
  struct Group {
    io_uring_buf_ring* ring = nullptr;
    uint8_t* memory = nullptr;  // kGroupBuffers * kBufferSize
    unsigned legs = 0;
  };

  UringRing() = default;
  io_uring_sqe* Sqe();
  int GroupWithRoom();
  void Dispatch(const io_uring_cqe& cqe);
  void OnRecv(RtpLeg& leg, const io_uring_cqe& cqe);
  void RecycleBuffer(unsigned bid);
  void PrepRecv(io_uring_sqe* sqe, RtpLeg& leg, int fd, int group);
  // Control path: gives leg's socket a registered-file slot if one is free.
  void RegisterFile(RtpLeg& leg, int fd);
  // The leg's socket as the SQE's file: its registered slot when it has one.
  static void UseFile(io_uring_sqe* sqe, const RtpLeg& leg);
  // Enters the kernel for events and dispatches; false after `deadline_us`.
  bool WaitOnce(uint64_t deadline_us);
  // At Create(): whether this kernel sends a datagram by IORING_OP_SEND with an address.
  bool ProbeSendWithAddress();

  io_uring ring_{};
  bool initialised_ = false;
  bool multishot_ = false;
  bool defer_taskrun_ = false;
  bool send_with_address_ = false;
  uint64_t now_us_ = 0;
  msghdr recv_msg_{};  // the multishot receive's template: name only, no control
  std::vector<Group> groups_;
  std::vector<int> free_files_;  // registered-file slots not in use (empty: none registered)
};

}  // namespace anchord::media::internal
