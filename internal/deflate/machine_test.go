package deflate

import (
	"bytes"
	"compress/flate"
	"fmt"
	"testing"

	"github.com/wsd-go/wsd/internal/proto"
)

// These tests drive the protocol core with a Decompressor, as a connection
// that agreed on permessage-deflate does.

func newMachine(role proto.Role, max int64, d proto.Decompressor) *proto.Machine {
	m := proto.NewMachine(proto.Config{Role: role, MaxLength: max})
	if d != nil {
		m.SetDecompressor(d)
	}
	return m
}

// feed gives p to m in chunks of size n (all at once when n is 0) and
// returns the events.
func feed(m *proto.Machine, p []byte, n int) []proto.Event {
	p = bytes.Clone(p)
	var evs []proto.Event
	for len(p) > 0 {
		k := len(p)
		if n > 0 {
			k = min(k, n)
		}
		chunk := p[:k]
		p = p[k:]
		for len(chunk) > 0 {
			used, ev := m.Feed(chunk)
			chunk = chunk[used:]
			if ev.Kind != proto.EventNone {
				ev.Data = bytes.Clone(ev.Data)
				evs = append(evs, ev)
			}
		}
	}
	return evs
}

func messages(evs []proto.Event) []string {
	var s []string
	for _, ev := range evs {
		switch ev.Kind {
		case proto.EventMessage:
			s = append(s, string(ev.Data))
		case proto.EventError:
			s = append(s, fmt.Sprintf("error %d", ev.Err.Code))
		default:
			s = append(s, fmt.Sprintf("event %d", ev.Kind))
		}
	}
	return s
}

// frame builds an unmasked frame, as a server sends.
func frame(b0 byte, payload []byte) []byte {
	h := proto.Header{Fin: b0&0x80 != 0, Rsv: b0 & 0x70, Op: proto.Opcode(b0 & 0x0f), Length: int64(len(payload))}
	return append(proto.AppendHeader(nil, h), payload...)
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// TestRFCFrames feeds the frames of RFC 7692 section 7.2.3 to a client,
// whole, in one call, and one byte at a time.
func TestRFCFrames(t *testing.T) {
	tests := []struct {
		name     string
		takeover bool
		wire     []byte
		want     []string
	}{
		{"hello", false, []byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, []string{"Hello"}},
		{"fragmented", false, []byte{0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00}, []string{"Hello"}},
		{"takeover", true, cat(frame(0xc1, helloFixed), frame(0xc1, helloTakeover)), []string{"Hello", "Hello"}},
		{"no compression", false, cat(frame(0xc1, helloStored)), []string{"Hello"}},
		{"bfinal", false, cat(frame(0xc1, helloFinal)), []string{"Hello"}},
		{"mixed", true, cat(frame(0xc1, helloFixed), frame(0x81, []byte("plain")), frame(0xc1, helloTakeover)), []string{"Hello", "plain", "Hello"}},
		{"ping inside", false, cat(frame(0x41, helloFixed[:3]), frame(0x89, []byte("p")), frame(0x80, helloFixed[3:])), []string{"event 2", "Hello"}},
		{"empty fragments", false, cat(frame(0x41, nil), frame(0x00, helloFixed), frame(0x80, nil)), []string{"Hello"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1, 2, 5} {
			t.Run(fmt.Sprintf("%s/chunk%d", tt.name, chunk), func(t *testing.T) {
				m := newMachine(proto.Client, 0, NewDecompressor(15, tt.takeover))
				got := messages(feed(m, tt.wire, chunk))
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// TestServerReceivesCompressed sends masked compressed messages of every
// size through FrameInPlace, fragmented or not, one byte at a time too.
func TestServerReceivesCompressed(t *testing.T) {
	sender := proto.NewMachine(proto.Config{Role: proto.Client})
	for _, takeover := range []bool{false, true} {
		c := NewCompressor(6, 15, takeover)
		d := NewDecompressor(15, takeover)
		m := newMachine(proto.Server, 0, d)
		var wire []byte
		var want []string
		for i, msg := range [][]byte{text(10, 1), text(3000, 2), text(100000, 3), noise(5000, 4), text(3000, 2)} {
			z := compress(t, c, msg)
			if i%2 == 0 {
				buf := append(make([]byte, proto.MaxHeaderSize), z...)
				wire = append(wire, sender.FrameInPlace(buf, proto.MaxHeaderSize, proto.OpBinary, true, proto.RSV1)...)
			} else {
				// In three fragments, RSV1 on the first only.
				a, b := len(z)/3, 2*len(z)/3
				wire = sender.AppendFrame(wire, proto.OpBinary, false, proto.RSV1, z[:a])
				wire = sender.AppendFrame(wire, proto.OpContinuation, false, 0, z[a:b])
				wire = sender.AppendFrame(wire, proto.OpContinuation, true, 0, z[b:])
			}
			want = append(want, string(msg))
		}
		c.Release()
		for _, chunk := range []int{0, 1, 1000} {
			// A new machine per pass would lose the window: replay only
			// where there is none to lose.
			if takeover && chunk != 0 {
				continue
			}
			if !takeover {
				m = newMachine(proto.Server, 0, NewDecompressor(15, false))
			}
			got := messages(feed(m, wire, chunk))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("takeover=%v chunk %d: messages differ: %.60q", takeover, chunk, got)
			}
		}
	}
}

func TestBadCompressedFrames(t *testing.T) {
	zeros := make([]byte, 10<<20)
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, 9)
	w.Write(zeros)
	w.Flush()
	bomb := bytes.TrimSuffix(b.Bytes(), Tail[:])

	tests := []struct {
		name string
		ext  bool
		wire []byte
		code int
	}{
		{"RSV1 without extension", false, frame(0xc1, helloFixed), proto.CloseProtocolError},
		{"RSV1 on ping", true, frame(0xc9, nil), proto.CloseProtocolError},
		{"RSV1 on close", true, frame(0xc8, nil), proto.CloseProtocolError},
		{"RSV1 on continuation", true, cat(frame(0x41, helloFixed[:3]), frame(0xc0, helloFixed[3:])), proto.CloseProtocolError},
		{"RSV1 on uncompressed continuation", true, cat(frame(0x01, []byte("a")), frame(0xc0, helloFixed)), proto.CloseProtocolError},
		{"RSV2", true, frame(0xa1, []byte("a")), proto.CloseProtocolError},
		{"RSV1 and RSV3", true, frame(0xd1, helloFixed), proto.CloseProtocolError},
		{"corrupt", true, frame(0xc2, []byte{0xff, 0xff, 0xff}), proto.CloseInvalidPayload},
		{"truncated", true, frame(0xc2, helloFixed[:3]), proto.CloseInvalidPayload},
		{"bad UTF-8", true, frame(0xc1, compress(t, NewCompressor(1, 15, false), []byte("\xff\xfe not text"))), proto.CloseInvalidPayload},
		{"UTF-8 cut", true, frame(0xc1, compress(t, NewCompressor(1, 15, false), []byte("caf\xc3"))), proto.CloseInvalidPayload},
		{"bomb", true, frame(0xc2, bomb), proto.CloseTooBig},
		{"fragmented bomb", true, cat(frame(0x42, bomb[:len(bomb)/2]), frame(0x80, bomb[len(bomb)/2:])), proto.CloseTooBig},
		{"compressed bytes over the limit", true, frame(0xc2, make([]byte, 2<<20)), proto.CloseTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d proto.Decompressor
			if tt.ext {
				d = NewDecompressor(15, true)
			}
			for _, chunk := range []int{0, 1} {
				m := newMachine(proto.Client, 1<<20, d)
				evs := feed(m, tt.wire, chunk)
				if len(evs) == 0 || evs[len(evs)-1].Kind != proto.EventError {
					t.Fatalf("chunk %d: got %q, want an error", chunk, messages(evs))
				}
				if e := evs[len(evs)-1].Err; e.Code != tt.code {
					t.Errorf("chunk %d: got %d (%s), want %d", chunk, e.Code, e.Reason, tt.code)
				}
			}
		})
	}
}

// TestUncompressedZeroAlloc checks that a connection with the extension
// still receives uncompressed messages in place, without allocating.
func TestUncompressedZeroAlloc(t *testing.T) {
	sender := proto.NewMachine(proto.Config{Role: proto.Client})
	for _, d := range []proto.Decompressor{nil, NewDecompressor(15, true)} {
		m := newMachine(proto.Server, 0, d)
		wire := sender.AppendFrame(nil, proto.OpText, true, 0, []byte("a small message"))
		buf := make([]byte, len(wire))
		allocs := testing.AllocsPerRun(1000, func() {
			copy(buf, wire)
			n, ev := m.Feed(buf)
			if n != len(buf) || ev.Kind != proto.EventMessage || string(ev.Data) != "a small message" {
				t.Fatalf("got %d, %+v", n, ev)
			}
		})
		if allocs != 0 {
			t.Errorf("decompressor %v: %v allocations per message, want 0", d != nil, allocs)
		}
	}
}
