package proto

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Role says which end of the connection a Machine plays.
type Role uint8

// Roles.
const (
	Server Role = iota
	Client
)

// DefaultMaxLength is the default limit on the size of one message.
const DefaultMaxLength = 0x3ffffff

// Error is a protocol violation by the peer. Code is the close code to fail
// the connection with.
type Error struct {
	Code   int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("websocket protocol error %d: %s", e.Code, e.Reason)
}

func errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// EventKind tells what an Event carries.
type EventKind uint8

// Event kinds.
const (
	EventNone    EventKind = iota
	EventMessage           // a whole text or binary message in Data
	EventPing              // a ping; Data is its payload
	EventPong              // a pong; Data is its payload
	EventClose             // the peer's close frame: Code, and the reason in Data
	EventError             // the peer broke the protocol: Err; the stream is dead
	EventData              // in streaming mode: payload bytes of a message, in order
)

// Event is what Feed reports. Data is only valid until the next call to
// Feed, and may point into the slice given to Feed.
type Event struct {
	Kind EventKind
	Op   Opcode // OpText or OpBinary for EventMessage and EventData
	Data []byte
	Code int    // EventClose: the status code, CloseNoStatus if none
	Err  *Error // EventError

	// EventData: First marks the message's first bytes, Fin its last;
	// Compressed says the message's payload is compressed (RSV1), for the
	// caller to inflate as it reads.
	First, Fin, Compressed bool
}

// Config sets up a Machine.
type Config struct {
	Role      Role
	MaxLength int64 // largest message accepted; DefaultMaxLength when 0
}

// Decompressor inflates messages whose first frame has RSV1 set, for an
// extension such as permessage-deflate (RFC 7692). It is the only way
// RSV1 is granted: without one, any reserved bit fails the connection.
type Decompressor interface {
	// Decompress appends to dst the inflation of src, the payload of a
	// whole message, producing at most limit bytes. If the message would
	// be bigger, it stops and returns an error wrapping ErrTooBig; any
	// other error means the data was bad.
	Decompress(dst, src []byte, limit int64) ([]byte, error)
}

// ErrTooBig is wrapped by the errors of a Decompressor whose output would
// exceed the limit.
var ErrTooBig = errors.New("message too big")

// maxCompressedLength is the largest payload a compressed message may have
// on the wire when its inflated size is limited to n: n plus the overhead
// of DEFLATE on incompressible data, stored blocks and sync flushes, with
// room to spare.
func maxCompressedLength(n int64) int64 { return n + n/64 + 1024 }

// Machine is the connection state machine of RFC 6455, without I/O.
//
// It has a read half (Feed) and a write half (the Append methods). The two
// halves may run in two goroutines at once; calls within one half must be
// serialized by the caller.
type Machine struct {
	role      Role
	maxLength int64

	// read half
	hdr       [MaxHeaderSize]byte
	hdrN      int
	h         Header
	inPayload bool
	remaining int64
	maskPos   int
	msgOp     Opcode // opcode of the message in progress, 0 if none
	msgLen    int64
	msg       *[]byte // the message being assembled, from getBuf; nil between messages
	zipped    bool    // the message in progress is compressed
	zmsg      *[]byte // its compressed payload, when not inflated in place
	inflater  Decompressor
	ctl       [MaxControlPayload]byte
	ctlN      int
	text      UTF8
	dead      bool
	stream    bool // hand data out as it arrives, as EventData
	first     bool // the next EventData starts a message

	// shared
	closeSent atomic.Bool
	closeRecv atomic.Bool
}

// NewMachine returns a Machine for the given configuration.
func NewMachine(c Config) *Machine {
	m := &Machine{}
	m.Init(c)
	return m
}

// Init prepares a zero Machine, for callers that embed it.
func (m *Machine) Init(c Config) {
	m.role = c.Role
	m.maxLength = c.MaxLength
	if m.maxLength <= 0 {
		m.maxLength = DefaultMaxLength
	}
}

// SetStreaming makes Feed hand out the payload of data frames as it
// arrives, as EventData, instead of assembling whole messages: memory then
// does not grow with the size of a message. MaxLength still bounds a
// message (its compressed bytes, for a compressed one, which the caller
// inflates and bounds itself); text that is not compressed is checked as
// UTF-8 as it arrives. It may be switched between messages only.
func (m *Machine) SetStreaming(on bool) { m.stream = on }

// Streaming reports whether Feed hands out data as it arrives.
func (m *Machine) Streaming() bool { return m.stream }

// InMessage reports whether a data message has begun and not ended.
func (m *Machine) InMessage() bool { return m.msgOp != 0 }

// Decompressor returns what SetDecompressor set, or nil.
func (m *Machine) Decompressor() Decompressor { return m.inflater }

// SetDecompressor enables compressed messages, inflated by d. It must be
// called before the first Feed, once the handshake has agreed on an
// extension that uses RSV1.
func (m *Machine) SetDecompressor(d Decompressor) { m.inflater = d }

// CloseSent reports whether a close frame has been produced.
func (m *Machine) CloseSent() bool { return m.closeSent.Load() }

// CloseReceived reports whether the peer's close frame has been read.
func (m *Machine) CloseReceived() bool { return m.closeRecv.Load() }

// Feed consumes bytes from p until it has an event to report or p is used
// up. It returns how many bytes it consumed and the event (EventNone when p
// was used up without one). Bytes of a frame may arrive in any chunking.
// Payloads are unmasked in place in p. After EventClose or EventError the
// machine ignores all further input.
func (m *Machine) Feed(p []byte) (n int, ev Event) {
	for n < len(p) {
		if m.dead {
			return len(p), Event{}
		}
		if !m.inPayload {
			var hn int
			var err error
			if m.hdrN == 0 {
				m.h, hn, err = ParseHeader(p[n:])
			}
			if hn == 0 && err == nil {
				// Header split across calls: gather it in m.hdr.
				k := copy(m.hdr[m.hdrN:min(len(m.hdr), m.hdrN+len(p)-n)], p[n:])
				if m.hdrN+k >= 2 {
					if size := headerSize(m.hdr[1]); m.hdrN+k > size {
						k = size - m.hdrN
					}
				}
				m.hdrN += k
				n += k
				var used int
				m.h, used, err = ParseHeader(m.hdr[:m.hdrN])
				if used == 0 && err == nil {
					continue
				}
				m.hdrN = 0
			} else {
				n += hn
			}
			if err != nil {
				return n, m.fail(errorf(CloseProtocolError, "%v", err))
			}
			if e := m.checkHeader(); e != nil {
				return n, m.fail(e)
			}
			m.inPayload = true
			m.remaining = m.h.Length
			m.maskPos = 0
			if !m.h.Op.IsControl() {
				if m.h.Op != OpContinuation {
					m.msgOp = m.h.Op
					m.zipped = m.h.Rsv&RSV1 != 0
					m.first = true
					m.text.Reset()
					if m.msg != nil { // the caller did not Recycle
						*m.msg = (*m.msg)[:0]
					}
				}
				m.msgLen += m.h.Length
				// Fast path: a whole unfragmented message already in p
				// is handed back in place, without a copy.
				if m.h.Fin && m.h.Op != OpContinuation && int64(len(p)-n) >= m.h.Length && !m.stream {
					data := p[n : n+int(m.h.Length)]
					n += len(data)
					m.inPayload = false
					if m.h.Masked {
						Mask(m.h.Key, 0, data)
					}
					if m.zipped {
						return n, m.inflate(data)
					}
					if m.msgOp == OpText && !(m.text.Write(data) && m.text.Complete()) {
						return n, m.fail(errorf(CloseInvalidPayload, "invalid UTF-8 in text message"))
					}
					op := m.msgOp
					m.msgOp, m.msgLen = 0, 0
					return n, Event{Kind: EventMessage, Op: op, Data: data}
				}
			} else {
				m.ctlN = 0
			}
			if m.remaining > 0 {
				continue
			}
		}
		chunk := p[n : n+int(min(m.remaining, int64(len(p)-n)))]
		n += len(chunk)
		m.remaining -= int64(len(chunk))
		if m.h.Masked {
			m.maskPos = Mask(m.h.Key, m.maskPos, chunk)
		}
		if m.h.Op.IsControl() {
			m.ctlN += copy(m.ctl[m.ctlN:], chunk)
		} else if m.stream {
			if ev, ok := m.streamData(chunk); ok {
				return n, ev
			}
			continue
		} else if m.zipped {
			m.zmsg = appendBuf(m.zmsg, chunk, m.hint())
		} else {
			if m.msgOp == OpText && !m.text.Write(chunk) {
				return n, m.fail(errorf(CloseInvalidPayload, "invalid UTF-8 in text message"))
			}
			m.appendMsg(chunk)
		}
		if m.remaining == 0 {
			m.inPayload = false
			if ev = m.endFrame(); ev.Kind != EventNone {
				return n, ev
			}
		}
	}
	return n, Event{}
}

// streamData hands out a chunk of a data frame's payload in streaming
// mode; ok is false for an empty chunk that ends nothing.
func (m *Machine) streamData(chunk []byte) (ev Event, ok bool) {
	text := m.msgOp == OpText && !m.zipped
	if text && !m.text.Write(chunk) {
		return m.fail(errorf(CloseInvalidPayload, "invalid UTF-8 in text message")), true
	}
	if m.remaining == 0 {
		m.inPayload = false
	}
	fin := m.remaining == 0 && m.h.Fin
	if !fin && len(chunk) == 0 {
		return Event{}, false
	}
	if fin && text && !m.text.Complete() {
		return m.fail(errorf(CloseInvalidPayload, "text message ends inside a UTF-8 sequence")), true
	}
	ev = Event{Kind: EventData, Op: m.msgOp, Data: chunk, First: m.first, Fin: fin, Compressed: m.zipped}
	m.first = false
	if fin {
		m.msgOp, m.msgLen, m.zipped = 0, 0, false
	}
	return ev, true
}

// checkHeader applies the rules of RFC 6455 section 5 to m.h, and those
// of RFC 7692 section 6 to RSV1: this is the one place that grants it.
func (m *Machine) checkHeader() *Error {
	h := &m.h
	if rsv := h.Rsv; rsv != 0 {
		switch {
		case rsv != RSV1 || m.inflater == nil:
			return errorf(CloseProtocolError, "reserved bits set (0x%02x) without a negotiated extension", rsv)
		case h.Op.IsControl():
			return errorf(CloseProtocolError, "RSV1 set on a control frame")
		case h.Op == OpContinuation:
			return errorf(CloseProtocolError, "RSV1 set on a continuation frame")
		}
	}
	if !h.Op.valid() {
		return errorf(CloseProtocolError, "reserved opcode 0x%x", byte(h.Op))
	}
	if m.role == Server && !h.Masked {
		return errorf(CloseProtocolError, "unmasked frame from client")
	}
	if m.role == Client && h.Masked {
		return errorf(CloseProtocolError, "masked frame from server")
	}
	if h.Op.IsControl() {
		if !h.Fin {
			return errorf(CloseProtocolError, "fragmented control frame")
		}
		if h.Length > MaxControlPayload {
			return errorf(CloseProtocolError, "control frame payload of %d bytes exceeds 125", h.Length)
		}
		return nil
	}
	if h.Op == OpContinuation && m.msgOp == 0 {
		return errorf(CloseProtocolError, "continuation frame without a message to continue")
	}
	if h.Op != OpContinuation && m.msgOp != 0 {
		return errorf(CloseProtocolError, "new data frame while a fragmented message is in progress")
	}
	limit := m.maxLength
	if h.Rsv&RSV1 != 0 || h.Op == OpContinuation && m.zipped {
		// The inflated size is checked while inflating; this bounds the
		// compressed bytes kept until then.
		limit = maxCompressedLength(limit)
	}
	// Compared by subtraction: msgLen never exceeds the limit, while
	// msgLen+h.Length can overflow for a 63-bit length.
	if h.Length > limit-m.msgLen {
		return errorf(CloseTooBig, "message of at least %d bytes exceeds the limit of %d", m.msgLen+h.Length, limit)
	}
	return nil
}

// endFrame finishes the frame whose payload has been read.
func (m *Machine) endFrame() Event {
	switch m.h.Op {
	case OpPing:
		return Event{Kind: EventPing, Data: m.ctl[:m.ctlN]}
	case OpPong:
		return Event{Kind: EventPong, Data: m.ctl[:m.ctlN]}
	case OpClose:
		return m.closeFrame(m.ctl[:m.ctlN])
	}
	if !m.h.Fin {
		return Event{}
	}
	if m.zipped {
		var src []byte
		if m.zmsg != nil {
			src = *m.zmsg
		}
		ev := m.inflate(src)
		if m.zmsg != nil {
			putBuf(m.zmsg)
			m.zmsg = nil
		}
		return ev
	}
	if m.msgOp == OpText && !m.text.Complete() {
		return m.fail(errorf(CloseInvalidPayload, "text message ends inside a UTF-8 sequence"))
	}
	var data []byte
	if m.msg != nil {
		data = *m.msg
	}
	op := m.msgOp
	m.msgOp, m.msgLen = 0, 0
	return Event{Kind: EventMessage, Op: op, Data: data}
}

// inflate ends a compressed message whose whole payload is src.
func (m *Machine) inflate(src []byte) Event {
	if m.msg == nil {
		m.msg = getBuf(min(int(m.maxLength), 4*len(src)+512))
	}
	out, err := m.inflater.Decompress((*m.msg)[:0], src, m.maxLength)
	*m.msg = out // putBuf keeps it only if it is still of a pool size
	if err != nil {
		if errors.Is(err, ErrTooBig) {
			return m.fail(errorf(CloseTooBig, "compressed message inflates to more than the limit of %d bytes", m.maxLength))
		}
		return m.fail(errorf(CloseInvalidPayload, "%v", err))
	}
	op := m.msgOp
	if op == OpText && !ValidUTF8(out) {
		return m.fail(errorf(CloseInvalidPayload, "invalid UTF-8 in text message"))
	}
	m.msgOp, m.msgLen, m.zipped = 0, 0, false
	return Event{Kind: EventMessage, Op: op, Data: out}
}

func (m *Machine) closeFrame(p []byte) Event {
	code := CloseNoStatus
	var reason []byte
	switch {
	case len(p) == 1:
		return m.fail(errorf(CloseProtocolError, "close frame with a 1-byte payload"))
	case len(p) >= 2:
		code = int(binary.BigEndian.Uint16(p))
		if !ValidCloseCode(code) {
			return m.fail(errorf(CloseProtocolError, "invalid close code %d", code))
		}
		reason = p[2:]
		if !ValidUTF8(reason) {
			return m.fail(errorf(CloseInvalidPayload, "invalid UTF-8 in close reason"))
		}
	}
	m.dead = true
	m.closeRecv.Store(true)
	return Event{Kind: EventClose, Code: code, Data: reason}
}

// appendMsg adds payload to the message being assembled. Buffers grow
// from the pools as bytes arrive, never ahead of them: a frame announcing a
// large payload costs nothing until the payload comes.
func (m *Machine) appendMsg(p []byte) { m.msg = appendBuf(m.msg, p, m.hint()) }

// appendBuf appends p to a pooled buffer, taking a buffer with room for
// hint more bytes when there is none, and a bigger one when it is full.
func appendBuf(buf *[]byte, p []byte, hint int) *[]byte {
	if buf == nil {
		buf = getBuf(len(p) + hint)
	}
	if b := *buf; len(p) > 0 && len(p) <= cap(b)-len(b) && &b[:len(b)+1][len(b)] == &p[0] {
		*buf = b[:len(b)+len(p)] // read in place, through ReadSpace
		return buf
	}
	if b := *buf; len(b)+len(p) > cap(b) {
		nb := getBuf(max(2*cap(b), len(b)+len(p)))
		*nb = append(*nb, b...)
		putBuf(buf)
		buf = nb
	}
	*buf = append(*buf, p...)
	return buf
}

// ReadSpace returns room at the end of the message being assembled where
// a transport may read the next payload bytes of the current data frame,
// so that a large payload goes from the socket to its place without a
// copy; or nil unless at least min such bytes are still to come. The
// transport passes the bytes it read there to Feed as usual.
func (m *Machine) ReadSpace(min int) []byte {
	if !m.inPayload || m.dead || m.stream || m.h.Op.IsControl() || m.remaining < int64(min) {
		return nil
	}
	want := int(m.remaining)
	if want > 1<<20 {
		want = 1 << 20
	}
	buf := &m.msg
	if m.zipped {
		buf = &m.zmsg
	}
	if *buf == nil {
		*buf = getBuf(want)
	}
	if b := **buf; cap(b)-len(b) < want {
		nb := getBuf(max(2*cap(b), len(b)+want))
		*nb = append(*nb, b...)
		putBuf(*buf)
		*buf = nb
	}
	b := **buf
	return b[len(b) : len(b)+want]
}

// hint is how far beyond the bytes at hand a new message buffer reaches:
// the rest of the frame, up to a bound.
func (m *Machine) hint() int { return int(min(m.remaining, 32<<10)) }

// Recycle tells the machine that the caller is done with the data of the
// last event, so that a message buffer goes back to the shared pool rather
// than stay with an idle connection.
func (m *Machine) Recycle() {
	if m.msg != nil && m.msgOp == 0 {
		putBuf(m.msg)
		m.msg = nil
	}
}

func (m *Machine) fail(e *Error) Event {
	m.dead = true
	m.msgOp = 0
	m.Recycle()
	if m.zmsg != nil {
		putBuf(m.zmsg)
		m.zmsg = nil
	}
	return Event{Kind: EventError, Err: e}
}

// AppendFrame appends one frame carrying payload to dst; a client's frame
// is masked with a fresh random key.
func (m *Machine) AppendFrame(dst []byte, op Opcode, fin bool, rsv byte, payload []byte) []byte {
	h := Header{Fin: fin, Rsv: rsv, Op: op, Length: int64(len(payload))}
	if m.role == Client {
		h.Masked = true
		h.Key = NewMaskKey()
	}
	dst = AppendHeader(dst, h)
	start := len(dst)
	dst = append(dst, payload...)
	if h.Masked {
		Mask(h.Key, 0, dst[start:])
	}
	return dst
}

// FrameHeader returns the header for an unfragmented frame of n payload
// bytes, with a fresh mask key on a client. Callers that write header and
// payload separately use it with Mask.
func (m *Machine) FrameHeader(op Opcode, n int) Header {
	h := Header{Fin: true, Op: op, Length: int64(n)}
	if m.role == Client {
		h.Masked = true
		h.Key = NewMaskKey()
	}
	return h
}

// FrameInPlace makes one frame of the payload buf[room:], where room is
// at least MaxHeaderSize: it writes the header into the room just before
// the payload and masks a client's payload in place. It returns the frame,
// a suffix of buf. Writers that produce the payload into a buffer, such as
// a compressor, use it to send without a copy.
func (m *Machine) FrameInPlace(buf []byte, room int, op Opcode, fin bool, rsv byte) []byte {
	h := Header{Fin: fin, Rsv: rsv, Op: op, Length: int64(len(buf) - room)}
	if m.role == Client {
		h.Masked = true
		h.Key = NewMaskKey()
	}
	var hb [MaxHeaderSize]byte
	hdr := AppendHeader(hb[:0], h)
	start := room - len(hdr)
	copy(buf[start:], hdr)
	if h.Masked {
		Mask(h.Key, 0, buf[room:])
	}
	return buf[start:]
}

// AppendClose appends a close frame with code and reason, unless one was
// already produced; ok reports whether it appended. A code of 0 or
// CloseNoStatus sends an empty close frame. The reason is cut to fit the
// 125-byte limit of control frames, on a character boundary.
func (m *Machine) AppendClose(dst []byte, code int, reason string) (out []byte, ok bool) {
	if m.closeSent.Swap(true) {
		return dst, false
	}
	var buf [MaxControlPayload]byte
	p := buf[:0]
	if code != 0 && code != CloseNoStatus {
		p = binary.BigEndian.AppendUint16(p, uint16(code))
		p = append(p, truncateUTF8(reason, MaxControlPayload-2)...)
	}
	return m.AppendFrame(dst, OpClose, true, 0, p), true
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// keys hands out mask keys from crypto/rand, read in batches so a random
// key costs no system call per frame.
var keys struct {
	sync.Mutex
	buf [1024]byte
	off int
}

func init() { keys.off = len(keys.buf) }

// NewMaskKey returns a fresh random masking key.
func NewMaskKey() (k [4]byte) {
	keys.Lock()
	if keys.off == len(keys.buf) {
		rand.Read(keys.buf[:])
		keys.off = 0
	}
	copy(k[:], keys.buf[keys.off:])
	keys.off += 4
	keys.Unlock()
	return k
}

// Role returns the role the machine plays.
func (m *Machine) Role() Role { return m.role }
