package proto

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// event is the comparable form of an Event: for errors only the close
// code counts, as the reason text is free.
type event struct {
	kind EventKind
	op   Opcode
	data string
	code int
}

func (e event) String() string {
	short := func(s string) string {
		if len(s) > 24 {
			return fmt.Sprintf("%q...(%d bytes)", s[:24], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	switch e.kind {
	case EventMessage:
		return fmt.Sprintf("message(%d, %s)", e.op, short(e.data))
	case EventPing:
		return fmt.Sprintf("ping(%s)", short(e.data))
	case EventPong:
		return fmt.Sprintf("pong(%s)", short(e.data))
	case EventClose:
		return fmt.Sprintf("close(%d, %s)", e.code, short(e.data))
	case EventError:
		return fmt.Sprintf("error(%d)", e.code)
	}
	return fmt.Sprintf("event(%d)", e.kind)
}

func msg(op Opcode, s string) event        { return event{kind: EventMessage, op: op, data: s} }
func ping(s string) event                  { return event{kind: EventPing, data: s} }
func pong(s string) event                  { return event{kind: EventPong, data: s} }
func closed(code int, reason string) event { return event{kind: EventClose, code: code, data: reason} }
func failed(code int) event                { return event{kind: EventError, code: code} }
func eventsEqual(a, b []event) bool        { return slices.Equal(a, b) }

func toEvent(t *testing.T, ev Event) event {
	e := event{kind: ev.Kind, op: ev.Op, data: string(ev.Data), code: ev.Code}
	switch ev.Kind {
	case EventError:
		if ev.Err == nil {
			t.Fatalf("EventError without Err")
		}
		e = event{kind: EventError, code: ev.Err.Code}
	case EventMessage:
		if ev.Op != OpText && ev.Op != OpBinary {
			t.Fatalf("message event with opcode %d", ev.Op)
		}
	}
	return e
}

// feedChunks feeds input to m in chunks whose sizes next picks, and
// returns the events. It checks the contract of Feed on the way: an
// EventNone consumes the whole chunk, every event consumes at least one
// byte, and after a close or an error every byte is swallowed silently.
func feedChunks(t *testing.T, m *Machine, input []byte, next func(rest int) int) []event {
	t.Helper()
	var out []event
	ended := false
	for rest := input; len(rest) > 0; {
		k := next(len(rest))
		chunk := rest[:k]
		rest = rest[k:]
		for len(chunk) > 0 {
			n, ev := m.Feed(chunk)
			if n < 0 || n > len(chunk) {
				t.Fatalf("Feed(%d bytes) consumed %d", len(chunk), n)
			}
			if ev.Kind == EventNone && n != len(chunk) {
				t.Fatalf("Feed(%d bytes) = %d, EventNone: must use up its input when it has no event", len(chunk), n)
			}
			if ev.Kind != EventNone && n == 0 {
				t.Fatalf("Feed returned %v without consuming a byte", toEvent(t, ev))
			}
			if ended && (ev.Kind != EventNone || n != len(chunk)) {
				t.Fatalf("after the end of the stream Feed(%d bytes) = %d, %v; want all bytes ignored", len(chunk), n, toEvent(t, ev))
			}
			chunk = chunk[n:]
			if ev.Kind != EventNone {
				out = append(out, toEvent(t, ev))
				ended = ev.Kind == EventClose || ev.Kind == EventError
			}
		}
	}
	return out
}

func feedAll(t *testing.T, m *Machine, input []byte, _ any) []event {
	return feedChunks(t, m, input, func(rest int) int { return rest })
}

// wf describes one frame on the wire.
type wf struct {
	b0      byte // FIN, RSV and opcode bits
	payload string
	mask    int    // 0: as the receiving role requires; 1: masked; -1: unmasked
	hasLen  bool   // announce length instead of len(payload)
	length  uint64 // announced length, when hasLen
	form    byte   // 0: minimal length form; 126 or 127: force that form
}

const finBit = 0x80

func dataFrame(fin bool, op Opcode, s string) wf {
	b0 := byte(op)
	if fin {
		b0 |= finBit
	}
	return wf{b0: b0, payload: s}
}

func txt(s string) wf      { return dataFrame(true, OpText, s) }
func bin(s string) wf      { return dataFrame(true, OpBinary, s) }
func fragT(s string) wf    { return dataFrame(false, OpText, s) }
func fragB(s string) wf    { return dataFrame(false, OpBinary, s) }
func cont(s string) wf     { return dataFrame(false, OpContinuation, s) }
func last(s string) wf     { return dataFrame(true, OpContinuation, s) }
func pingF(s string) wf    { return dataFrame(true, OpPing, s) }
func pongF(s string) wf    { return dataFrame(true, OpPong, s) }
func closeRaw(s string) wf { return dataFrame(true, OpClose, s) }

func closeF(code int, reason string) wf {
	var p []byte
	p = binary.BigEndian.AppendUint16(p, uint16(code))
	return closeRaw(string(p) + reason)
}

// encodeFrames writes frames as a peer of role would receive them: masked
// toward a server, unmasked toward a client, unless a frame says
// otherwise. It also returns where each frame's payload starts.
func encodeFrames(role Role, frames []wf) (out []byte, payloadAt []int) {
	for i, f := range frames {
		masked := role == Server
		switch f.mask {
		case 1:
			masked = true
		case -1:
			masked = false
		}
		length := uint64(len(f.payload))
		if f.hasLen {
			length = f.length
		}
		var m byte
		if masked {
			m = 0x80
		}
		out = append(out, f.b0)
		switch {
		case f.form == 127 || length > 0xffff:
			out = append(out, m|127)
			out = binary.BigEndian.AppendUint64(out, length)
		case f.form == 126 || length > 125:
			out = append(out, m|126)
			out = binary.BigEndian.AppendUint16(out, uint16(length))
		default:
			out = append(out, m|byte(length))
		}
		key := [4]byte{0x37 + byte(i), 0xfa, 0x21, 0x3d ^ byte(i)}
		if masked {
			out = append(out, key[:]...)
		}
		payloadAt = append(payloadAt, len(out))
		start := len(out)
		out = append(out, f.payload...)
		if masked {
			naiveMask(key, 0, out[start:])
		}
	}
	return out, payloadAt
}

type feedCase struct {
	name   string
	frames []wf
	want   []event
	max    int64  // MaxLength, 0 for the default
	roles  []Role // nil: both
}

func feedCases() []feedCase {
	a := func(n int) string { return strings.Repeat("a", n) }
	cases := []feedCase{
		// RFC 6455 section 5.6: data frames.
		{name: "text", frames: []wf{txt("Hello")}, want: []event{msg(OpText, "Hello")}},
		{name: "binary", frames: []wf{bin("\x00\xff\x80\x01")}, want: []event{msg(OpBinary, "\x00\xff\x80\x01")}},
		{name: "empty text", frames: []wf{txt("")}, want: []event{msg(OpText, "")}},
		{name: "empty binary", frames: []wf{bin("")}, want: []event{msg(OpBinary, "")}},
		{name: "unicode text", frames: []wf{txt("κόσμε ✓ 👍 \u00e9\U0010fffd")}, want: []event{msg(OpText, "κόσμε ✓ 👍 \u00e9\U0010fffd")}},
		{name: "binary not checked as UTF-8", frames: []wf{bin("\xff\xfe\xed\xa0\x80")}, want: []event{msg(OpBinary, "\xff\xfe\xed\xa0\x80")}},
		{name: "text 125", frames: []wf{txt(a(125))}, want: []event{msg(OpText, a(125))}},
		{name: "text 126", frames: []wf{txt(a(126))}, want: []event{msg(OpText, a(126))}},
		{name: "binary 65535", frames: []wf{bin(a(65535))}, want: []event{msg(OpBinary, a(65535))}},
		{name: "binary 65536", frames: []wf{bin(a(65536))}, want: []event{msg(OpBinary, a(65536))}},
		{name: "16-bit form for a short length", frames: []wf{{b0: 0x81, payload: "abc", form: 126}}, want: []event{msg(OpText, "abc")}},
		{name: "64-bit form for a short length", frames: []wf{{b0: 0x82, payload: "abc", form: 127}}, want: []event{msg(OpBinary, "abc")}},
		{name: "several messages", frames: []wf{txt("one"), bin("two"), txt(""), txt("four")},
			want: []event{msg(OpText, "one"), msg(OpBinary, "two"), msg(OpText, ""), msg(OpText, "four")}},

		// Section 5.4: fragmentation.
		{name: "fragmented text", frames: []wf{fragT("Hel"), last("lo")}, want: []event{msg(OpText, "Hello")}},
		{name: "fragmented binary", frames: []wf{fragB("\x00\x01"), cont(""), cont("\x02"), last("\x03")}, want: []event{msg(OpBinary, "\x00\x01\x02\x03")}},
		{name: "fragmented all empty", frames: []wf{fragT(""), cont(""), last("")}, want: []event{msg(OpText, "")}},
		{name: "fragmented then whole", frames: []wf{fragT("a"), last("b"), bin("c")}, want: []event{msg(OpText, "ab"), msg(OpBinary, "c")}},
		{name: "control frames between fragments",
			frames: []wf{fragT("a"), pingF("1"), cont("b"), pongF("2"), pingF(""), last("c")},
			want:   []event{ping("1"), pong("2"), ping(""), msg(OpText, "abc")}},
		{name: "character split across fragments", frames: []wf{fragT("\xce"), last("\xba")}, want: []event{msg(OpText, "κ")}},
		{name: "4-byte character split three ways around a ping",
			frames: []wf{fragT("x\xf0"), cont("\x9f"), pingF("p"), last("\x91\x8dy")},
			want:   []event{ping("p"), msg(OpText, "x👍y")}},
		{name: "large fragmented binary", frames: []wf{fragB(a(70000)), last(a(70000))}, want: []event{msg(OpBinary, a(140000))}},

		// Section 5.5: control frames.
		{name: "ping", frames: []wf{pingF("Hello")}, want: []event{ping("Hello")}},
		{name: "empty ping", frames: []wf{pingF("")}, want: []event{ping("")}},
		{name: "ping 125", frames: []wf{pingF(a(125))}, want: []event{ping(a(125))}},
		{name: "pong 125", frames: []wf{pongF(a(125))}, want: []event{pong(a(125))}},
		{name: "ping with binary payload", frames: []wf{pingF("\xff\x00")}, want: []event{ping("\xff\x00")}},
		{name: "close without payload", frames: []wf{closeRaw("")}, want: []event{closed(CloseNoStatus, "")}},
		{name: "close 1000", frames: []wf{closeF(1000, "")}, want: []event{closed(1000, "")}},
		{name: "close with reason", frames: []wf{closeF(1001, "bye")}, want: []event{closed(1001, "bye")}},
		{name: "close with unicode reason", frames: []wf{closeF(4000, "au revoir ✓")}, want: []event{closed(4000, "au revoir ✓")}},
		{name: "close with 123-byte reason", frames: []wf{closeF(1000, a(123))}, want: []event{closed(1000, a(123))}},
		{name: "close in a fragmented message", frames: []wf{fragT("a"), closeF(1000, "")}, want: []event{closed(1000, "")}},

		// Section 5.5.1: nothing after a close frame counts.
		{name: "data after close ignored", frames: []wf{closeF(1000, ""), txt("late"), pingF("late")}, want: []event{closed(1000, "")}},
		{name: "garbage after close ignored", frames: []wf{closeF(1000, ""), {b0: 0xff, payload: "xx"}, {b0: 0x73}}, want: []event{closed(1000, "")}},
		{name: "second close ignored", frames: []wf{closeRaw(""), closeF(1000, "")}, want: []event{closed(CloseNoStatus, "")}},

		// Section 5.2: reserved bits, without a negotiated extension.
		{name: "RSV1 on text", frames: []wf{{b0: 0x80 | RSV1 | 1, payload: "a"}}, want: []event{failed(1002)}},
		{name: "RSV2 on binary", frames: []wf{{b0: 0x80 | RSV2 | 2, payload: "a"}}, want: []event{failed(1002)}},
		{name: "RSV3 on ping", frames: []wf{{b0: 0x80 | RSV3 | 9}}, want: []event{failed(1002)}},
		{name: "all RSV on close", frames: []wf{{b0: 0x80 | RSV1 | RSV2 | RSV3 | 8}}, want: []event{failed(1002)}},
		{name: "RSV1 on continuation", frames: []wf{fragT("a"), {b0: 0x80 | RSV1, payload: "b"}}, want: []event{failed(1002)}},
		{name: "RSV after a good message", frames: []wf{txt("ok"), {b0: 0x80 | RSV1 | 1, payload: "x"}, txt("never")}, want: []event{msg(OpText, "ok"), failed(1002)}},

		// Section 5.5: control frames are short and whole.
		{name: "ping 126", frames: []wf{pingF(a(126))}, want: []event{failed(1002)}},
		{name: "pong 126", frames: []wf{pongF(a(126))}, want: []event{failed(1002)}},
		{name: "close 126", frames: []wf{closeF(1000, a(124))}, want: []event{failed(1002)}},
		{name: "ping with 64-bit length", frames: []wf{{b0: 0x89, hasLen: true, length: 1 << 40}}, want: []event{failed(1002)}},
		{name: "fragmented ping", frames: []wf{{b0: 0x09, payload: "a"}}, want: []event{failed(1002)}},
		{name: "fragmented pong", frames: []wf{{b0: 0x0a}}, want: []event{failed(1002)}},
		{name: "fragmented close", frames: []wf{{b0: 0x08, payload: "\x03\xe8"}}, want: []event{failed(1002)}},

		// Section 5.4: fragment order.
		{name: "final continuation without a message", frames: []wf{last("x")}, want: []event{failed(1002)}},
		{name: "continuation without a message", frames: []wf{cont("x")}, want: []event{failed(1002)}},
		{name: "continuation after a whole message", frames: []wf{txt("a"), last("b")}, want: []event{msg(OpText, "a"), failed(1002)}},
		{name: "continuation after a finished fragmented message", frames: []wf{fragB("a"), last("b"), last("c")}, want: []event{msg(OpBinary, "ab"), failed(1002)}},
		{name: "text during fragmented text", frames: []wf{fragT("a"), txt("b")}, want: []event{failed(1002)}},
		{name: "binary during fragmented text", frames: []wf{fragT("a"), fragB("b")}, want: []event{failed(1002)}},
		{name: "new message after ping in fragmented message", frames: []wf{fragB("a"), pingF("p"), bin("b")}, want: []event{ping("p"), failed(1002)}},

		// Section 5.2: 64-bit lengths have their top bit clear.
		{name: "64-bit length with MSB set", frames: []wf{{b0: 0x82, hasLen: true, length: 1 << 63}}, want: []event{failed(1002)}},
		{name: "64-bit length all ones", frames: []wf{{b0: 0x82, hasLen: true, length: math.MaxUint64}}, want: []event{failed(1002)}},

		// Section 8.1: text is UTF-8.
		{name: "invalid UTF-8 text", frames: []wf{txt("\xff")}, want: []event{failed(1007)}},
		{name: "surrogate in text", frames: []wf{txt("a\xed\xa0\x80b")}, want: []event{failed(1007)}},
		{name: "overlong in text", frames: []wf{txt("\xc0\xaf")}, want: []event{failed(1007)}},
		{name: "above U+10FFFF in text", frames: []wf{txt("\xf4\x90\x80\x80")}, want: []event{failed(1007)}},
		{name: "text ends inside a character", frames: []wf{txt("ab\xce")}, want: []event{failed(1007)}},
		{name: "invalid UTF-8 in second fragment", frames: []wf{fragT("\xce"), last("A")}, want: []event{failed(1007)}},
		{name: "invalid UTF-8 across fragments", frames: []wf{fragT("a\xe0"), last("\x80\x80")}, want: []event{failed(1007)}},
		{name: "fragmented text ends inside a character", frames: []wf{fragT("\xe2\x82"), last("")}, want: []event{failed(1007)}},
		{name: "fragmented text ends inside a character after ping", frames: []wf{fragT("\xf0\x9f"), pingF("p"), last("\x91")}, want: []event{ping("p"), failed(1007)}},
		{name: "invalid UTF-8 in first fragment", frames: []wf{fragT("\xff"), last("a")}, want: []event{failed(1007)}},
		{name: "UTF-8 state resets between messages", frames: []wf{txt("\xce\xba"), txt("\xba")}, want: []event{msg(OpText, "κ"), failed(1007)}},

		// Section 5.5.1 and 7.4: close frame payload.
		{name: "close with 1-byte payload", frames: []wf{closeRaw("\x03")}, want: []event{failed(1002)}},
		{name: "close reason not UTF-8", frames: []wf{closeF(1000, "\xff")}, want: []event{failed(1007)}},
		{name: "close reason with surrogate", frames: []wf{closeF(1000, "ok\xed\xa0\x80")}, want: []event{failed(1007)}},
		{name: "close reason truncated character", frames: []wf{closeF(1000, "\xce")}, want: []event{failed(1007)}},

		// Section 10.4: message size limit.
		{name: "default MaxLength", frames: []wf{{b0: 0x82, hasLen: true, length: DefaultMaxLength + 1}}, want: []event{failed(1009)}},
		{name: "MaxLength exact", max: 100, frames: []wf{bin(a(100))}, want: []event{msg(OpBinary, a(100))}},
		{name: "MaxLength exceeded", max: 100, frames: []wf{bin(a(101))}, want: []event{failed(1009)}},
		{name: "MaxLength exceeded by text", max: 100, frames: []wf{txt(a(101))}, want: []event{failed(1009)}},
		{name: "MaxLength exact across fragments", max: 100, frames: []wf{fragT(a(60)), pingF(a(50)), last(a(40))}, want: []event{ping(a(50)), msg(OpText, a(100))}},
		{name: "MaxLength exceeded across fragments", max: 100, frames: []wf{fragT(a(60)), pingF(a(50)), last(a(41))}, want: []event{ping(a(50)), failed(1009)}},
		{name: "MaxLength exceeded by many fragments", max: 100, frames: []wf{fragB(a(30)), cont(a(30)), cont(a(30)), cont(a(11))}, want: []event{failed(1009)}},
		{name: "MaxLength counts each message apart", max: 100, frames: []wf{fragB(a(60)), last(a(40)), fragB(a(60)), last(a(40))}, want: []event{msg(OpBinary, a(100)), msg(OpBinary, a(100))}},
		{name: "huge fragment after a small one", max: 100, frames: []wf{fragB(a(10)), {b0: 0x80, hasLen: true, length: math.MaxInt64}}, want: []event{failed(1009)}},
		{name: "huge fragment after a small one, default limit", frames: []wf{fragB(a(10)), {b0: 0x80, hasLen: true, length: math.MaxInt64 - 5}}, want: []event{failed(1009)}},
		{name: "huge single frame", max: 100, frames: []wf{{b0: 0x81, hasLen: true, length: math.MaxInt64}}, want: []event{failed(1009)}},
	}

	// Section 5.2: reserved opcodes.
	for _, op := range []byte{3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf} {
		cases = append(cases,
			feedCase{name: fmt.Sprintf("reserved opcode %X", op), frames: []wf{{b0: 0x80 | op, payload: "x"}}, want: []event{failed(1002)}},
			feedCase{name: fmt.Sprintf("reserved opcode %X in fragmented message", op), frames: []wf{fragT("a"), {b0: 0x80 | op}}, want: []event{failed(1002)}},
		)
	}
	// Section 7.4: close codes that may and may not appear on the wire.
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cases = append(cases, feedCase{name: fmt.Sprintf("close code %d", code), frames: []wf{closeF(code, "r")}, want: []event{closed(code, "r")}})
	}
	for _, code := range []int{0, 1, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, feedCase{name: fmt.Sprintf("close code %d", code), frames: []wf{closeF(code, "")}, want: []event{failed(1002)}})
	}
	// Section 5.1 and 5.3: masking direction.
	cases = append(cases,
		feedCase{name: "unmasked frame to server", roles: []Role{Server}, frames: []wf{{b0: 0x81, payload: "a", mask: -1}}, want: []event{failed(1002)}},
		feedCase{name: "unmasked ping to server", roles: []Role{Server}, frames: []wf{{b0: 0x89, mask: -1}}, want: []event{failed(1002)}},
		feedCase{name: "unmasked close to server", roles: []Role{Server}, frames: []wf{{b0: 0x88, mask: -1}}, want: []event{failed(1002)}},
		feedCase{name: "unmasked continuation to server", roles: []Role{Server}, frames: []wf{fragT("a"), {b0: 0x80, payload: "b", mask: -1}}, want: []event{failed(1002)}},
		feedCase{name: "masked frame to client", roles: []Role{Client}, frames: []wf{{b0: 0x81, payload: "a", mask: 1}}, want: []event{failed(1002)}},
		feedCase{name: "masked pong to client", roles: []Role{Client}, frames: []wf{{b0: 0x8a, mask: 1}}, want: []event{failed(1002)}},
		feedCase{name: "masked close to client", roles: []Role{Client}, frames: []wf{{b0: 0x88, payload: "\x03\xe8", mask: 1}}, want: []event{failed(1002)}},
	)
	return cases
}

func roleName(r Role) string {
	if r == Server {
		return "server"
	}
	return "client"
}

// TestFeed feeds every case whole, a byte at a time, split in two at
// every position (for short inputs), and in random chunks; every way
// must give exactly the expected events.
func TestFeed(t *testing.T) {
	for _, tc := range feedCases() {
		roles := tc.roles
		if roles == nil {
			roles = []Role{Server, Client}
		}
		for _, role := range roles {
			t.Run(tc.name+"/"+roleName(role), func(t *testing.T) {
				input, _ := encodeFrames(role, tc.frames)
				run := func(how string, next func(rest int) int) {
					t.Helper()
					m := NewMachine(Config{Role: role, MaxLength: tc.max})
					got := feedChunks(t, m, bytes.Clone(input), next)
					if !eventsEqual(got, tc.want) {
						t.Fatalf("fed %s: events\n%v\nwant\n%v", how, got, tc.want)
					}
				}
				run("whole", func(rest int) int { return rest })
				run("byte by byte", func(int) int { return 1 })
				if len(input) <= 300 {
					for i := 1; i < len(input); i++ {
						first := true
						run(fmt.Sprintf("split at %d", i), func(rest int) int {
							if first {
								first = false
								return i
							}
							return rest
						})
					}
				}
				for seed := range uint64(20) {
					rng := rand.New(rand.NewPCG(seed, uint64(len(input))))
					limit := 1 + rng.IntN(40)
					if seed%4 == 3 {
						limit = 1 + rng.IntN(5000)
					}
					run(fmt.Sprintf("random chunks seed %d", seed), func(rest int) int { return 1 + rng.IntN(min(rest, limit)) })
				}
			})
		}
	}
}

// TestFeedFailsEarly checks where in the stream an error is reported, fed
// a byte at a time: header errors (including a message too big) when the
// header is complete, before any of the payload; invalid UTF-8 at the
// first impossible byte, before the frame ends (section 8.1: fail fast).
func TestFeedFailsEarly(t *testing.T) {
	a := strings.Repeat("a", 50)
	tests := []struct {
		name   string
		frames []wf
		max    int64
		code   int
		frame  int // index of the offending frame
		at     int // offset in its payload of the offending byte; -1: the header
	}{
		{"reserved bit", []wf{txt("ok"), {b0: 0xc1, payload: a}}, 0, 1002, 1, -1},
		{"reserved opcode", []wf{{b0: 0x83, payload: a}}, 0, 1002, 0, -1},
		{"long ping", []wf{pingF(a + a + a)}, 0, 1002, 0, -1},
		{"fragmented ping", []wf{{b0: 0x09, payload: a}}, 0, 1002, 0, -1},
		{"orphan continuation", []wf{last(a)}, 0, 1002, 0, -1},
		{"new message while fragmented", []wf{fragT("x"), bin(a)}, 0, 1002, 1, -1},
		{"64-bit length MSB", []wf{{b0: 0x82, hasLen: true, length: 1<<63 | 5, payload: "abcde"}}, 0, 1002, 0, -1},
		{"too big, one frame", []wf{{b0: 0x82, hasLen: true, length: 101}}, 100, 1009, 0, -1},
		{"too big, 64-bit length", []wf{{b0: 0x82, hasLen: true, length: 1 << 40}}, 0, 1009, 0, -1},
		{"too big across fragments", []wf{fragB(a), pingF("p"), {b0: 0x80, hasLen: true, length: 51}}, 100, 1009, 2, -1},
		{"too big, huge second fragment", []wf{fragB(a), {b0: 0x80, hasLen: true, length: math.MaxInt64 - 20}}, 100, 1009, 1, -1},
		{"bad byte in text", []wf{txt("abcde\xffxxxxxxxxxxxxxxxxxxxxxxxxxxxx")}, 0, 1007, 0, 5},
		{"surrogate in text", []wf{txt("abc\xed\xa0\x80xxxxxxxxxxxxxxxxxxxxxxxxxxx")}, 0, 1007, 0, 4},
		{"overlong in text", []wf{txt(a + "\xe0\x80\x80" + a)}, 0, 1007, 0, 51},
		{"bad byte after 16 ASCII bytes", []wf{txt("0123456789abcdef\x80" + a)}, 0, 1007, 0, 16},
		{"bad byte in second fragment", []wf{fragT("ab\xce"), last("\xba\xf5xxxxxxxxxx")}, 0, 1007, 1, 1},
		{"bad continuation across fragments", []wf{fragT("ab\xf4"), pingF(""), last("\x90xxxxxxxxxx")}, 0, 1007, 2, 0},
	}
	for _, tt := range tests {
		for _, role := range []Role{Server, Client} {
			t.Run(tt.name+"/"+roleName(role), func(t *testing.T) {
				input, payloadAt := encodeFrames(role, tt.frames)
				want := payloadAt[tt.frame] - 1 // last byte of the header
				if tt.at >= 0 {
					want = payloadAt[tt.frame] + tt.at
				}
				m := NewMachine(Config{Role: role, MaxLength: tt.max})
				for i := range input {
					n, ev := m.Feed(input[i : i+1])
					if n != 1 {
						t.Fatalf("byte %d: Feed consumed %d", i, n)
					}
					if ev.Kind != EventError {
						continue
					}
					if i != want || ev.Err.Code != tt.code {
						t.Fatalf("error %d at byte %d, want %d at byte %d", ev.Err.Code, i, tt.code, want)
					}
					return
				}
				t.Fatalf("no error; want %d at byte %d", tt.code, want)
			})
		}
	}
}

// A message over the limit fails when its header is in, with no payload
// at all, and nothing of it is buffered (section 10.4).
func TestFeedTooBigWithoutPayload(t *testing.T) {
	for _, role := range []Role{Server, Client} {
		m := NewMachine(Config{Role: role, MaxLength: 1000})
		input, payloadAt := encodeFrames(role, []wf{fragB(strings.Repeat("b", 600)), {b0: 0x80, hasLen: true, length: 401}})
		input = input[:payloadAt[1]] // the second header and not a byte more
		var got []event
		for p := input; len(p) > 0; {
			n, ev := m.Feed(p)
			p = p[n:]
			if ev.Kind != EventNone {
				got = append(got, toEvent(t, ev))
				if len(p) != 0 {
					t.Errorf("%s: error reported with %d bytes of the header left", roleName(role), len(p))
				}
			}
		}
		if want := []event{failed(1009)}; !eventsEqual(got, want) {
			t.Errorf("%s: events %v, want %v", roleName(role), got, want)
		}
		if m.msg != nil {
			t.Errorf("%s: %d bytes of the failed message still held", roleName(role), len(*m.msg))
		}
	}
}

var allocFailures int

// Feed does not allocate once warm, whole frames or split ones.
func TestFeedSteadyStateAllocs(t *testing.T) {
	frames := []wf{
		txt("hello, world"),
		bin(strings.Repeat("\x01", 200)),
		pingF("ping"),
		pongF(""),
		fragT("fragm"), pingF("x"), cont("ented "), last("text ✓"),
		txt(strings.Repeat("κ", 1000)),
	}
	for _, role := range []Role{Server, Client} {
		tmpl, _ := encodeFrames(role, frames)
		work := make([]byte, len(tmpl))
		m := NewMachine(Config{Role: role})
		for _, chunk := range []int{len(tmpl), 1, 3, 7, 64, 1000} {
			feed := func() {
				copy(work, tmpl) // payloads are unmasked in place
				events := 0
				for p := work; len(p) > 0; {
					k := min(chunk, len(p))
					c := p[:k]
					p = p[k:]
					for len(c) > 0 {
						n, ev := m.Feed(c)
						c = c[n:]
						switch ev.Kind {
						case EventNone:
						case EventError, EventClose:
							allocFailures++
						default:
							events++
						}
					}
				}
				if events != 7 {
					allocFailures++
				}
			}
			feed() // warm up: the message buffer grows once
			allocFailures = 0
			if n := testing.AllocsPerRun(50, feed); n != 0 {
				t.Errorf("%s, chunks of %d: %v allocations per run, want 0", roleName(role), chunk, n)
			}
			if allocFailures != 0 {
				t.Fatalf("%s, chunks of %d: wrong events while measuring", roleName(role), chunk)
			}
		}
	}
}

// The write half: what we send (sections 5.1, 5.2, 5.3, 5.5.1).
func TestAppendFrame(t *testing.T) {
	payload := []byte("Hello, ✓")
	orig := bytes.Clone(payload)

	srv := NewMachine(Config{Role: Server})
	got := srv.AppendFrame([]byte("x"), OpText, true, 0, payload)
	if want := append([]byte("x\x81\x0a"), payload...); !bytes.Equal(got, want) {
		t.Errorf("server text frame = %x, want %x (unmasked)", got, want)
	}
	got = srv.AppendFrame(nil, OpBinary, false, RSV1, payload)
	if got[0] != 0x42 || got[1] != 0x0a {
		t.Errorf("server non-final RSV1 binary header = %x, want 420a", got[:2])
	}

	cli := NewMachine(Config{Role: Client})
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte{0xa5}, n)
		f := cli.AppendFrame(nil, OpBinary, true, 0, p)
		h, hn, err := ParseHeader(f)
		if err != nil || hn == 0 || !h.Masked || !h.Fin || h.Op != OpBinary || h.Length != int64(n) || len(f) != hn+n {
			t.Fatalf("client frame of %d bytes: header %+v, n %d, err %v, total %d", n, h, hn, err, len(f))
		}
		body := bytes.Clone(f[hn:])
		naiveMask(h.Key, 0, body)
		if !bytes.Equal(body, p) {
			t.Fatalf("client frame of %d bytes does not unmask to its payload", n)
		}
		// The receiving end agrees.
		evs := feedAll(t, NewMachine(Config{Role: Server}), f, nil)
		if want := []event{msg(OpBinary, string(p))}; !eventsEqual(evs, want) {
			t.Fatalf("server reading a client frame of %d bytes: %v", n, evs)
		}
	}
	cli.AppendFrame(nil, OpText, true, 0, payload)
	if !bytes.Equal(payload, orig) {
		t.Errorf("AppendFrame changed the caller's payload: %q", payload)
	}
}

func TestAppendClose(t *testing.T) {
	tests := []struct {
		code   int
		reason string
		want   string // payload
	}{
		{1000, "", "\x03\xe8"},
		{1001, "bye", "\x03\xe9bye"},
		{4999, "✓", "\x13\x87✓"},
		{0, "ignored", ""},
		{CloseNoStatus, "ignored", ""},
		{1000, strings.Repeat("a", 123), "\x03\xe8" + strings.Repeat("a", 123)},
		{1000, strings.Repeat("a", 130), "\x03\xe8" + strings.Repeat("a", 123)},
		// Cut on a character boundary: 122 bytes of ASCII, then a
		// 2-byte character that would end at byte 124.
		{1000, strings.Repeat("a", 122) + "é", "\x03\xe8" + strings.Repeat("a", 122)},
		{1000, strings.Repeat("a", 120) + "👍", "\x03\xe8" + strings.Repeat("a", 120)},
		{1000, strings.Repeat("a", 119) + "👍", "\x03\xe8" + strings.Repeat("a", 119) + "👍"},
	}
	for _, tt := range tests {
		m := NewMachine(Config{Role: Server})
		if m.CloseSent() {
			t.Fatal("CloseSent before any close")
		}
		got, ok := m.AppendClose([]byte("pre"), tt.code, tt.reason)
		if !ok {
			t.Fatalf("AppendClose(%d) not ok", tt.code)
		}
		want := append([]byte("pre\x88"), byte(len(tt.want)))
		want = append(want, tt.want...)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendClose(%d, %q) = %q, want %q", tt.code, tt.reason, got, want)
		}
		if !ValidUTF8(got[min(7, len(got)):]) {
			t.Errorf("AppendClose(%d, %q) reason is not valid UTF-8", tt.code, tt.reason)
		}
		if !m.CloseSent() {
			t.Errorf("CloseSent false after AppendClose")
		}
		again, ok := m.AppendClose([]byte("pre"), 1000, "")
		if ok || string(again) != "pre" {
			t.Errorf("second AppendClose = %q, %v; want dst unchanged, false", again, ok)
		}
	}

	// Only one of many concurrent closers gets to send.
	m := NewMachine(Config{Role: Client})
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	for range 16 {
		wg.Go(func() {
			if _, ok := m.AppendClose(nil, 1000, ""); ok {
				mu.Lock()
				sent++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if sent != 1 {
		t.Errorf("%d concurrent AppendClose calls succeeded, want 1", sent)
	}
}

func TestCloseReceived(t *testing.T) {
	m := NewMachine(Config{Role: Client})
	in, _ := encodeFrames(Client, []wf{txt("a"), closeF(1000, "")})
	n, _ := m.Feed(in)
	if m.CloseReceived() {
		t.Fatal("CloseReceived after a text message")
	}
	m.Feed(in[n:])
	if !m.CloseReceived() {
		t.Fatal("CloseReceived false after a close frame")
	}
	e := NewMachine(Config{Role: Client})
	bad, _ := encodeFrames(Client, []wf{closeF(999, "")})
	e.Feed(bad)
	if e.CloseReceived() {
		t.Fatal("CloseReceived after an invalid close frame")
	}
}

func TestValidCloseCode(t *testing.T) {
	for code := -1; code <= 70000; code++ {
		want := code >= 1000 && code <= 1003 || code >= 1007 && code <= 1011 || code >= 3000 && code <= 4999
		if got := ValidCloseCode(code); got != want {
			t.Errorf("ValidCloseCode(%d) = %v, want %v", code, got, want)
		}
	}
}
