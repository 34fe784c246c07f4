"""Media helpers of the issue-4 integration tests (Python 3 standard library only).

What the media-plane tests need beyond harness.py, written so that what a peer hears is
checked by its content (Goertzel, decoded digits, decoded Baudot text):
  G.711 mu-law encoding, sine frames      ulaw_encode(), tone_frames(), silence_frames()
  RTP packets and a paced sender          rtp_packet(), RtpPeer (a UDP socket that sends a
                                          precomputed schedule from its own thread and drains
                                          what arrives), stream_schedule(), impair()
                                          (seeded loss and jitter), require_free_ports()
  RFC 4733 telephone-events               dtmf_schedule(), dtmf_event_payloads(),
                                          parse_event(), events_by_start()
  Baudot TTY (45.45 baud, 1400/1800 Hz)   baudot_audio(), baudot_decode()
  SDP of a captured SIP message           sdp_media()
  RTCP report blocks (RFC 3550 6.4)       rtcp_report_blocks()
  pcap writer                             write_pcap() (capture artifacts for Wireshark)
  baresip with wideband codecs            CodecBaresip (g722/opus modules, codecs per account,
                                          optional outgoing call)
Times are time.time() seconds (CLOCK_REALTIME), the time base of harness.Capture.
"""

import math
import os
import re
import socket
import struct
import threading
import time

import harness as h

RATE = 8000
FRAME = 160  # samples per 20 ms frame at 8 kHz
PT_PCMU = 0
PT_EVENT = 101

# ---------------------------------------------------------------------------
# G.711 mu-law


def _ulaw_encode_one(x):
    """ITU-T G.711 mu-law of one 16-bit linear sample (bias 0x84, clip 32635)."""
    sign = 0x80 if x < 0 else 0
    if x < 0:
        x = -x
    x = min(x, 32635) + 0x84
    exp = min(max((x >> 7).bit_length() - 1, 0), 7)
    mant = (x >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw_encode(samples):
    return bytes(_ulaw_encode_one(int(round(s))) for s in samples)


def tone_samples(freqs, n, amp=6000.0, start=0, rate=RATE):
    """n samples of the sum of `freqs` (each at `amp` peak), from sample index `start` (so
    consecutive calls are phase continuous)."""
    return [sum(amp * math.sin(2 * math.pi * f * (start + i) / rate) for f in freqs)
            for i in range(n)]


def tone_frames(freq, seconds, amp=6000.0, start_frame=0):
    """PCMU payloads (160 bytes each) of a sine at `freq`, phase continuous."""
    n = int(round(seconds / 0.020))
    return [ulaw_encode(tone_samples([freq], FRAME, amp, (start_frame + k) * FRAME))
            for k in range(n)]


def silence_frames(seconds):
    return [bytes([0xFF]) * FRAME for _ in range(int(round(seconds / 0.020)))]


def pcmu_frames(samples):
    """Splits linear samples into 20 ms PCMU payloads (the last one padded with silence)."""
    out = []
    for i in range(0, len(samples), FRAME):
        chunk = list(samples[i:i + FRAME])
        chunk += [0] * (FRAME - len(chunk))
        out.append(ulaw_encode(chunk))
    return out


# ---------------------------------------------------------------------------
# RTP


def rtp_packet(pt, seq, ts, ssrc, payload, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


def stream_schedule(frames, ssrc, pt=PT_PCMU, seq0=1000, ts0=0, step=FRAME, first_frame=0):
    """[(offset_s, packet)] for audio payloads sent every 20 ms: sequence +1, timestamp
    +step per frame. `first_frame` shifts both offset and timestamp (a stream resumed)."""
    out = []
    for k, payload in enumerate(frames):
        i = first_frame + k
        out.append((i * 0.020, rtp_packet(pt, seq0 + i, ts0 + i * step, ssrc, payload,
                                          marker=(i == 0))))
    return out


def impair(schedule, loss, jitter_s, rng, base_s=None):
    """A network in front of a schedule: each packet is dropped with probability `loss`,
    else delayed by base_s + uniform(-jitter_s, +jitter_s) (base_s defaults to jitter_s, so
    no packet leaves before its nominal time; packets may overtake each other). Returns
    (kept [(offset_s, packet)], dropped [(offset_s, packet)])."""
    base_s = jitter_s if base_s is None else base_s
    kept, dropped = [], []
    for off, pkt in schedule:
        if rng.random() < loss:
            dropped.append((off, pkt))
        else:
            kept.append((off + base_s + rng.uniform(-jitter_s, jitter_s), pkt))
    return kept, dropped


class RtpPeer:
    """A UDP socket on (ip, port) acting as one side's RTP endpoint. play() sends a schedule
    of (offset_s, packet) from a thread on absolute deadlines (no drift); everything that
    arrives is drained and kept as (t, data, addr) so the socket never fills up."""

    def __init__(self, env, port, ip=h.LOCAL, name="rtp"):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(0.05)
        self.received = []
        self.sent = []  # (t_sent, offset_s, packet)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._senders = []
        self._rx = threading.Thread(target=self._drain, daemon=True)
        self._rx.start()
        env.cleanups.append(self.close)

    def _drain(self):
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.received.append((time.time(), data, addr))

    def play(self, dest, schedule, t0=None):
        """Sends each packet at t0 + offset (t0 defaults to now + 20 ms). Returns t0."""
        t0 = t0 if t0 is not None else time.time() + 0.02
        items = sorted(schedule, key=lambda x: x[0])

        def run():
            for off, pkt in items:
                if self._stop.is_set():
                    return
                delay = t0 + off - time.time()
                if delay > 0:
                    time.sleep(delay)
                try:
                    self.sock.sendto(pkt, dest)
                except OSError:
                    return
                with self._lock:
                    self.sent.append((time.time(), off, pkt))
        th = threading.Thread(target=run, daemon=True)
        th.start()
        self._senders.append(th)
        return t0

    def wait_sent(self, timeout):
        deadline = time.monotonic() + timeout
        for th in self._senders:
            th.join(max(0.0, deadline - time.monotonic()))
        return not any(th.is_alive() for th in self._senders)

    def close(self):
        self._stop.set()
        self._rx.join(timeout=1)
        for th in self._senders:
            th.join(timeout=1)
        self.sock.close()


def require_free_ports(env, ports, ip=h.LOCAL):
    """Stops the test at once, naming the ports, if another process holds one of the fixed
    UDP ports its peers must bind (a benchmark's wide RTP range, say): otherwise the test would
    fail later with a misleading timeout. (anchord's own RTP range needs no check: it skips
    ports in use.)"""
    busy = []
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((ip, port))
        except OSError:
            busy.append(port)
        finally:
            s.close()
    env.require(not busy, f"{len(ports)} fixed UDP ports free before the test"
                + (f" (held by another process: {busy})" if busy else ""))


# ---------------------------------------------------------------------------
# RFC 4733 telephone-events

EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13,
               "C": 14, "D": 15}
EVENT_DIGITS = {v: k for k, v in EVENT_CODES.items()}


def event_payload(code, end, volume, duration):
    return struct.pack("!BBH", code, (0x80 if end else 0) | (volume & 0x3F), duration)


def parse_event(payload):
    """(digit, end, volume, duration) of an RFC 4733 payload, None if too short."""
    if len(payload) < 4:
        return None
    code, flags, duration = struct.unpack("!BBH", payload[:4])
    return EVENT_DIGITS.get(code, f"?{code}"), bool(flags & 0x80), flags & 0x3F, duration


def dtmf_event_payloads(digit, frames=10, volume=10):
    """The payloads of one digit sent as `frames` packets 20 ms apart (duration grows by 160
    per packet), the last with the E bit, then that end packet twice more (RFC 4733 2.5.1.4)."""
    code = EVENT_CODES[digit]
    out = [event_payload(code, False, volume, FRAME * (k + 1)) for k in range(frames - 1)]
    end = event_payload(code, True, volume, FRAME * frames)
    return out + [end] * 3


def dtmf_schedule(digits, ssrc, tone_hz=1000, lead_s=1.0, gap_s=0.2, tail_s=1.0,
                  frames_per_digit=10, seq0=2000):
    """[(offset_s, packet)] of one RTP stream (one SSRC, sequence +1 per packet): PCMU
    `tone_hz` for lead_s, then each digit as telephone-events (marker on the first packet,
    the event's start timestamp on all, end packet x3) separated by gap_s of tone, then
    tail_s of tone. Audio timestamps advance 160 per 20 ms slot, events included."""
    slots = []  # (kind, payload, event_start_slot)
    slots += [("audio", p, None) for p in tone_frames(tone_hz, lead_s)]
    for d in digits:
        start = len(slots)
        slots += [("event", p, start) for p in dtmf_event_payloads(d, frames_per_digit)]
        slots += [("audio", p, None)
                  for p in tone_frames(tone_hz, gap_s, start_frame=len(slots))]
    slots += [("audio", p, None) for p in tone_frames(tone_hz, tail_s, start_frame=len(slots))]
    out = []
    for i, (kind, payload, start) in enumerate(slots):
        if kind == "audio":
            pkt = rtp_packet(PT_PCMU, seq0 + i, i * FRAME, ssrc, payload, marker=(i == 0))
        else:
            pkt = rtp_packet(PT_EVENT, seq0 + i, start * FRAME, ssrc, payload,
                             marker=(i == start))
        out.append((i * 0.020, pkt))
    return out


def events_by_start(packets, pt=PT_EVENT):
    """Telephone-event packets (harness.Rtp) grouped per event (SSRC, start timestamp), in
    order of arrival: [{'digit', 'ts', 'packets', 'ends', 'duration', 'marker'}]."""
    events = {}
    for r in packets:
        if r.pt != pt:
            continue
        ev = parse_event(r.payload)
        if ev is None:
            continue
        e = events.setdefault((r.ssrc, r.ts), {"digit": ev[0], "ts": r.ts, "packets": 0,
                                               "ends": 0, "duration": 0, "marker": False,
                                               "t": r.t})
        e["packets"] += 1
        e["ends"] += ev[1]
        e["duration"] = max(e["duration"], ev[3])
        e["marker"] = e["marker"] or r.marker
    return sorted(events.values(), key=lambda e: e["t"])


# ---------------------------------------------------------------------------
# Baudot TTY (TIA-825-A: 45.45 bit/s, mark 1400 Hz = 1, space 1800 Hz = 0,
# 1 start bit, 5 data bits LSB first, 1.5 stop bits; LTRS/FIGS shift codes)

MARK_HZ, SPACE_HZ = 1400.0, 1800.0
LTRS, FIGS = 0x1F, 0x1B
_LTRS_CHARS = {0x01: "E", 0x02: "\n", 0x03: "A", 0x04: " ", 0x05: "S", 0x06: "I", 0x07: "U",
               0x08: "\r", 0x09: "D", 0x0A: "R", 0x0B: "J", 0x0C: "N", 0x0D: "F", 0x0E: "C",
               0x0F: "K", 0x10: "T", 0x11: "Z", 0x12: "L", 0x13: "W", 0x14: "H", 0x15: "Y",
               0x16: "P", 0x17: "Q", 0x18: "O", 0x19: "B", 0x1A: "G", 0x1C: "M", 0x1D: "X",
               0x1E: "V"}
_FIGS_CHARS = {0x01: "3", 0x02: "\n", 0x03: "-", 0x04: " ", 0x06: "8", 0x07: "7", 0x08: "\r",
               0x09: "$", 0x0A: "4", 0x0B: "'", 0x0C: ",", 0x0D: "!", 0x0E: ":", 0x0F: "(",
               0x10: "5", 0x11: '"', 0x12: ")", 0x13: "2", 0x15: "6", 0x16: "0", 0x17: "1",
               0x18: "9", 0x19: "?", 0x1A: "&", 0x1C: ".", 0x1D: "/", 0x1E: ";"}
_LTRS_CODES = {c: k for k, c in _LTRS_CHARS.items()}
_FIGS_CODES = {c: k for k, c in _FIGS_CHARS.items()}


def baudot_codes(text):
    """Codes for `text` (upper case), opening with LTRS and shifting only when needed."""
    codes, shift = [LTRS], "L"
    for ch in text.upper():
        if ch in _LTRS_CODES and (shift == "L" or ch not in _FIGS_CODES):
            if shift != "L" and ch not in " \r\n":
                codes.append(LTRS)
                shift = "L"
            codes.append(_LTRS_CODES[ch])
        elif ch in _FIGS_CODES:
            if shift != "F":
                codes.append(FIGS)
                shift = "F"
            codes.append(_FIGS_CODES[ch])
        else:
            raise ValueError(f"no Baudot code for {ch!r}")
    return codes


def baudot_audio(text, baud=45.45, amp=6000.0, lead_s=0.3, tail_s=0.3, rate=RATE):
    """Linear samples of `text` as TTY FSK, phase continuous: `lead_s` of mark (carrier)
    before the first start bit and `tail_s` after the last stop bit."""
    bits = [1] * int(round(lead_s * baud))
    for code in baudot_codes(text):
        bits += [0] + [(code >> i) & 1 for i in range(5)] + [1, 1.5]  # 1.5: half a stop bit
    bits += [1] * int(round(tail_s * baud))
    out, phase, t_bits = [], 0.0, 0.0
    n_total = 0
    for b in bits:
        length = 0.5 if b == 1.5 else 1.0
        t_bits += length
        n_end = int(round(t_bits * rate / baud))
        f = SPACE_HZ if b == 0 else MARK_HZ
        for _ in range(n_end - n_total):
            out.append(amp * math.sin(phase))
            phase += 2 * math.pi * f / rate
        n_total = n_end
    return out


def _band_energy(samples, freq, half, rate):
    """Energy at `freq` in a window of 2*half samples centred on every sample (complex
    demodulation and running sums: O(n))."""
    n = len(samples)
    w = 2 * math.pi * freq / rate
    ci, si = [0.0] * (n + 1), [0.0] * (n + 1)
    for i, x in enumerate(samples):
        ci[i + 1] = ci[i] + x * math.cos(w * i)
        si[i + 1] = si[i] + x * math.sin(w * i)
    out = [0.0] * n
    for i in range(n):
        a, b = max(0, i - half), min(n, i + half)
        c, s = ci[b] - ci[a], si[b] - si[a]
        out[i] = c * c + s * s
    return out


def baudot_decode(samples, baud=45.45, rate=RATE, min_rms=300.0):
    """Text decoded from linear samples carrying TTY FSK (an asynchronous receiver: hunt
    for a start-bit edge, sample each bit at its middle, check the stop bit)."""
    half = int(rate / baud / 4)  # a window of half a bit
    mark = _band_energy(samples, MARK_HZ, half, rate)
    space = _band_energy(samples, SPACE_HZ, half, rate)
    sq = [0.0]
    for x in samples:
        sq.append(sq[-1] + x * x)

    def level(i):  # 1 mark, 0 space, None no carrier
        a, b = max(0, i - half), min(len(samples), i + half)
        energy = sq[b] - sq[a]
        if b <= a or math.sqrt(energy / (b - a)) < min_rms:
            return None
        return 1 if mark[i] > space[i] else 0

    bit = rate / baud
    codes, i, n = [], 0, len(samples)
    while i < n - int(7 * bit):
        if level(i) == 0 and level(i - 1) != 0 and level(int(i + bit / 2)) == 0:
            vals = [level(int(i + (k + 1.5) * bit)) for k in range(5)]
            stop = level(int(i + 6.5 * bit))
            if None not in vals and stop == 1:
                codes.append(sum(v << k for k, v in enumerate(vals)))
                i = int(i + 6.8 * bit)
                continue
        i += 1
    text, shift = [], _LTRS_CHARS
    for c in codes:
        if c == LTRS:
            shift = _LTRS_CHARS
        elif c == FIGS:
            shift = _FIGS_CHARS
        elif c in shift:
            text.append(shift[c])
    return "".join(text)


# ---------------------------------------------------------------------------
# SDP and captures


def sdp_media(msg):
    """{'ip', 'port', 'pts', 'rtpmap': {pt: 'name/rate'}} of the first audio m-line of a SIP
    message's SDP (multipart bodies: the SDP part is found by its v= line)."""
    body = h.sip_body(msg).decode("utf-8", "replace")
    m = re.search(r"(?m)^m=audio (\d+) [A-Z/]+ ([\d ]+)", body)
    c = re.search(r"(?m)^c=IN IP4 (\S+)", body)
    if not m or not c:
        return None
    rtpmap = {int(pt): enc.strip() for pt, enc in
              re.findall(r"(?m)^a=rtpmap:(\d+) (\S+)", body)}
    return {"ip": c.group(1), "port": int(m.group(1)),
            "pts": [int(x) for x in m.group(2).split()], "rtpmap": rtpmap}


def ok_200(capture, dport, method="INVITE"):
    """Payloads of the 200s to `method` that reached dport, in arrival order."""
    return [p.payload for p in sorted(h.sip_messages_to(capture, dport), key=lambda p: p.t)
            if p.payload.startswith(b"SIP/2.0 200") and h.cseq_method(p.payload) == method]


def wait_200_sdp(capture, dport, timeout, method="INVITE"):
    """Waits for a 200 with SDP at dport and returns its sdp_media()."""
    def got():
        for msg in ok_200(capture, dport, method):
            media = sdp_media(msg)
            if media:
                return media
        return None
    return h.wait_until(got, timeout, what=f"a 200 with SDP at port {dport}")


def wait_invite_sdp(capture, dport, timeout):
    """Waits for an INVITE with SDP at dport (anchord's offer to a position): sdp_media()."""
    def got():
        for p in sorted(h.sip_messages_to(capture, dport), key=lambda p: p.t):
            if p.payload.startswith(b"INVITE "):
                media = sdp_media(p.payload)
                if media:
                    return media
        return None
    return h.wait_until(got, timeout, what=f"an INVITE with SDP at port {dport}")


def rtp_all(capture, dport, sport=None):
    """Every RTP packet (any PT) to dport (from sport), by arrival time."""
    out = []
    for p in capture.get(dport):
        if sport is not None and p.sport != sport:
            continue
        r = h.parse_rtp(p)
        if r is not None and not 72 <= r.pt <= 76:  # 72-76: RTCP (200-204 & 0x7F)
            out.append(r)
    out.sort(key=lambda r: r.t)
    return out


def rtcp_report_blocks(data):
    """Report blocks in a compound RTCP packet (SR 200 / RR 201): [{'sender', 'ssrc',
    'fraction', 'lost', 'ext_max', 'jitter'}]; [] if it is not RTCP."""
    out, off = [], 0
    while off + 8 <= len(data) and data[off] >> 6 == 2:
        count, pt = data[off] & 0x1F, data[off + 1]
        length = (struct.unpack("!H", data[off + 2:off + 4])[0] + 1) * 4
        sender = struct.unpack("!I", data[off + 4:off + 8])[0]
        first = off + (28 if pt == 200 else 8)
        if pt in (200, 201):
            for k in range(count):
                b = data[first + 24 * k:first + 24 * (k + 1)]
                if len(b) < 24:
                    break
                ssrc, fl, ext_max, jitter = struct.unpack("!IIII", b[:16])
                lost = fl & 0xFFFFFF
                lost = lost - (1 << 24) if lost & 0x800000 else lost
                out.append({"sender": sender, "ssrc": ssrc, "fraction": (fl >> 24) / 256.0,
                            "lost": lost, "ext_max": ext_max, "jitter": jitter})
        off += length
    return out


def write_pcap(path, packets):
    """Writes captured harness.Packet objects (UDP) as a pcap file (LINKTYPE_RAW, IPv4)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for p in sorted(packets, key=lambda p: p.t):
            udp = struct.pack("!HHHH", p.sport, p.dport, 8 + len(p.payload), 0) + p.payload
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             socket.inet_aton(p.src), socket.inet_aton(p.dst)) + udp
            sec = int(p.t)
            f.write(struct.pack("<IIII", sec, int((p.t - sec) * 1e6), len(ip), len(ip)) + ip)


# ---------------------------------------------------------------------------
# baresip with wideband codecs


class CodecBaresip(h.Baresip):
    """A baresip peer like harness.Baresip (tone source, sndfile recording) with the g711,
    g722 and opus modules loaded and its account restricted to `codecs`, spelled as baresip
    registers them ("G722/16000/1", "opus/48000/2"; a bare "G722" means G722/8000/1, which
    does not exist, and baresip then offers every codec). With `dial` it calls that URI at
    start (a caller); otherwise it auto-answers."""

    def __init__(self, env, name, port, tone, rtp_min, codecs, dial=None, lifetime_s=60):
        self.env = env
        self.name = name
        self.port = port
        self.dir = env.path(f"baresip-{name}")
        self.rec = os.path.join(self.dir, "rec")
        os.makedirs(self.rec, exist_ok=True)
        modules = "".join(f"module {m}.so\n" for m in
                          ("g711", "g722", "opus", "ausine", "alsa", "sndfile"))
        conf = (f"poll_method epoll\nsip_listen {h.LOCAL}:{port}\nsip_trans_def udp\n"
                "audio_player alsa,null\naudio_alert alsa,null\n"
                f"audio_source ausine,{tone}\nausrc_srate 48000\nausrc_channels 2\n"
                f"audio_level no\nrtp_ports {rtp_min}-{rtp_min + 19}\n"
                f"net_interface {h.LOCAL}\ndns_server {h.LOCAL}:53\nstatmode_default off\n"
                f"module_path /usr/lib/baresip/modules\n{modules}"
                "module_app account.so\nmodule_app menu.so\n"
                f"snd_path {self.rec}\n")
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(conf)
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(f"<sip:{name}@{h.LOCAL}:{port}>;regint=0;answermode=auto;"
                    f"audio_codecs={codecs}\n")
        open(os.path.join(self.dir, "contacts"), "w").close()
        argv = ["baresip", "-f", self.dir, "-t", str(lifetime_s)]
        if dial:
            argv += ["-e", f"/dial {dial}"]
        self.proc = env.spawn(f"baresip-{name}", argv)
