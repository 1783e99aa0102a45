//go:build !js

package wsd_test

import (
	"encoding/binary"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// violation is a protocol error a peer commits, as the bytes it sends.
type violation struct {
	name  string
	bytes func(mask bool) []byte // mask: the frames a well-behaved peer would mask
	code  int                    // close code the library must fail with
	max   int                    // Options.MaxLength
	role  string                 // "server" or "client" if only one side applies
}

func frames(fs ...func(mask bool) []byte) func(bool) []byte {
	return func(mask bool) []byte {
		var out []byte
		for _, f := range fs {
			out = append(out, f(mask)...)
		}
		return out
	}
}

// fr is a frame with first byte b0, masked as the sender's role requires.
func fr(b0 byte, payload string) func(bool) []byte {
	return func(mask bool) []byte { return encodeFrame(b0, []byte(payload), mask) }
}

// frMask is a frame masked or not regardless of role.
func frMask(b0 byte, payload string, masked bool) func(bool) []byte {
	return func(bool) []byte { return encodeFrame(b0, []byte(payload), masked) }
}

// header is just a frame header announcing length bytes.
func header(b0 byte, length uint64) func(bool) []byte {
	return func(mask bool) []byte {
		var m byte
		if mask {
			m = 0x80
		}
		out := []byte{b0}
		switch {
		case length > 0xffff:
			out = append(out, m|127)
			out = binary.BigEndian.AppendUint64(out, length)
		case length > 125:
			out = append(out, m|126, byte(length>>8), byte(length))
		default:
			out = append(out, m|byte(length))
		}
		if mask {
			out = append(out, 1, 2, 3, 4)
		}
		return out
	}
}

func closeFr(code int, reason string) func(bool) []byte {
	return fr(0x88, string(closePayload(code, reason)))
}

func violations() []violation {
	return []violation{
		{name: "RSV1", bytes: fr(0xc1, "a"), code: 1002},
		{name: "RSV2 on binary", bytes: fr(0xa2, "a"), code: 1002},
		{name: "RSV3 on ping", bytes: fr(0x99, ""), code: 1002},
		{name: "reserved opcode 3", bytes: fr(0x83, ""), code: 1002},
		{name: "reserved opcode 7", bytes: fr(0x87, "x"), code: 1002},
		{name: "reserved opcode B", bytes: fr(0x8b, ""), code: 1002},
		{name: "reserved opcode F", bytes: fr(0x8f, "x"), code: 1002},
		{name: "unmasked frame to server", bytes: frMask(0x81, "a", false), code: 1002, role: "server"},
		{name: "masked frame to client", bytes: frMask(0x81, "a", true), code: 1002, role: "client"},
		{name: "ping of 126 bytes", bytes: fr(0x89, strings.Repeat("p", 126)), code: 1002},
		{name: "close of 126 bytes", bytes: closeFr(1000, strings.Repeat("r", 124)), code: 1002},
		{name: "fragmented ping", bytes: fr(0x09, "p"), code: 1002},
		{name: "fragmented close", bytes: fr(0x08, ""), code: 1002},
		{name: "continuation without a message", bytes: fr(0x80, "x"), code: 1002},
		{name: "new message inside a fragmented one", bytes: frames(fr(0x01, "a"), fr(0x81, "b")), code: 1002},
		{name: "invalid UTF-8 text", bytes: fr(0x81, "ok\xff"), code: 1007},
		{name: "surrogate in text", bytes: fr(0x81, "\xed\xa0\x80"), code: 1007},
		{name: "invalid UTF-8 across fragments", bytes: frames(fr(0x01, "a\xf0\x9f"), fr(0x00, ""), fr(0x80, "\x41")), code: 1007},
		{name: "text ends inside a character", bytes: frames(fr(0x01, "\xe2"), fr(0x80, "\x82")), code: 1007},
		{name: "close with 1-byte payload", bytes: fr(0x88, "\x03"), code: 1002},
		{name: "close code 0", bytes: closeFr(0, ""), code: 1002},
		{name: "close code 999", bytes: closeFr(999, ""), code: 1002},
		{name: "close code 1004", bytes: closeFr(1004, ""), code: 1002},
		{name: "close code 1005", bytes: closeFr(1005, ""), code: 1002},
		{name: "close code 1006", bytes: closeFr(1006, ""), code: 1002},
		{name: "close code 1015", bytes: closeFr(1015, ""), code: 1002},
		{name: "close code 2999", bytes: closeFr(2999, ""), code: 1002},
		{name: "close code 5000", bytes: closeFr(5000, ""), code: 1002},
		{name: "close reason not UTF-8", bytes: closeFr(1000, "\xc0\xaf"), code: 1007},
		{name: "64-bit length with MSB set", bytes: header(0x82, 1<<63), code: 1002},
		{name: "message too big", bytes: header(0x82, 101), code: 1009, max: 100},
		{name: "message too big across fragments", bytes: frames(fr(0x02, strings.Repeat("b", 60)), header(0x80, 41)), code: 1009, max: 100},
		{name: "message over the default limit", bytes: header(0x82, wsd.DefaultMaxLength+1), code: 1009},
	}
}

// Sections 5.1 to 5.6, 7.1.7 and 8.1: a server that receives a frame
// breaking the protocol sends a close frame with the right code, then
// reports OnError with a *ProtocolError and OnClose, in that order, and
// closes the TCP connection.
func TestServerFailsConnection(t *testing.T) {
	for _, v := range violations() {
		if v.role == "client" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			gotCloseFrame := make(chan struct{})
			s := newTestServer(t, &wsd.Options{MaxLength: v.max}, func(c *wsd.Conn, rec *recorder) {
				rec.onError = func(error) {
					// The close frame must already be on its way.
					select {
					case <-gotCloseFrame:
					case <-time.After(2 * time.Second):
						rec.push(event{kind: "error reported before the close frame was sent"})
					}
				}
			})
			rc := rawDial(t, s.addr)
			rc.handshake()
			sc := s.accept(t)
			sc.rec.expect(t, "open")
			rc.write(v.bytes(true))
			rc.expectClose(v.code)
			close(gotCloseFrame)
			rc.expectEOF()
			sc.rec.expectProtocolError(t, v.code)
		})
	}
}

// The same violations, committed by a server against a client.
func TestClientFailsConnection(t *testing.T) {
	for _, v := range violations() {
		if v.role == "server" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			gotCloseFrame := make(chan struct{})
			fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
				rc.accept101(req)
				rc.write(v.bytes(false))
				rc.expectClose(v.code)
				close(gotCloseFrame)
				rc.expectEOF()
			})
			_, rec := dialClient(t, fs.url, &wsd.Options{MaxLength: v.max}, func(c *wsd.Conn, rec *recorder) {
				rec.onError = func(error) {
					select {
					case <-gotCloseFrame:
					case <-time.After(2 * time.Second):
						rec.push(event{kind: "error reported before the close frame was sent"})
					}
				}
			})
			rec.expect(t, "open")
			rec.expectProtocolError(t, v.code)
		})
	}
}

// Messages before the violation are delivered; nothing after it is.
func TestEventsBeforeViolation(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)
	sc.rec.expect(t, "open")
	var b []byte
	b = append(b, encodeFrame(0x81, []byte("one"), true)...)
	b = append(b, encodeFrame(0x89, []byte("p"), true)...)
	b = append(b, encodeFrame(0xc1, []byte("bad"), true)...)
	b = append(b, encodeFrame(0x81, []byte("never"), true)...)
	rc.write(b)
	sc.rec.expectMessage(t, wsd.TextMessage, "one")
	sc.rec.expect(t, "ping")
	if f := rc.read(); f.op != opPong || string(f.payload) != "p" {
		t.Fatalf("got %v, want pong \"p\"", f)
	}
	rc.expectClose(1002)
	rc.expectEOF()
	sc.rec.expectProtocolError(t, 1002)
}

// Section 5.5.2, 5.5.3 and 5.4: pings get pongs with the same payload,
// unmasked from a server, even in the middle of a fragmented message;
// the message itself arrives whole after them.
func TestServerAnswersPings(t *testing.T) {
	s := newTestServer(t, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)
	sc.rec.expect(t, "open")

	rc.send(0x89, "hello")
	if f := rc.read(); f.op != opPong || !f.fin || string(f.payload) != "hello" {
		t.Fatalf("got %v, want pong \"hello\"", f)
	}
	rc.send(0x89, "")
	if f := rc.read(); f.op != opPong || len(f.payload) != 0 {
		t.Fatalf("got %v, want an empty pong", f)
	}
	long := strings.Repeat("\xfe", 125)
	rc.send(0x89, long)
	if f := rc.read(); f.op != opPong || string(f.payload) != long {
		t.Fatalf("got %v, want a 125-byte pong", f)
	}
	// An unsolicited pong needs no answer (section 5.5.3).
	rc.send(0x8a, "unsolicited")

	rc.send(0x01, "frag")
	rc.send(0x89, "mid")
	if f := rc.read(); f.op != opPong || string(f.payload) != "mid" {
		t.Fatalf("got %v, want pong \"mid\" before the message ends", f)
	}
	rc.send(0x00, "men")
	rc.send(0x80, "ted")
	if f := rc.read(); f.op != opText || string(f.payload) != "fragmented" {
		t.Fatalf("got %v, want the echo of \"fragmented\"", f)
	}
	for _, want := range []string{`ping("hello")`, `ping("")`, "ping(", `pong("unsolicited")`, `ping("mid")`, `message(text, "fragmented")`} {
		if e := sc.rec.next(t); !strings.HasPrefix(e.String(), want) {
			t.Fatalf("server event %v, want %s", e, want)
		}
	}
}

// The client answers pings too, with masked pongs.
func TestClientAnswersPings(t *testing.T) {
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.accept101(req)
		for _, p := range []string{"a", "", strings.Repeat("z", 125)} {
			rc.send(0x89, p)
			if f := rc.read(); f.op != opPong || string(f.payload) != p {
				t.Errorf("got %v, want pong %q", f, p)
				return
			}
		}
		rc.send(0x02, "x")
		rc.send(0x89, "mid")
		if f := rc.read(); f.op != opPong || string(f.payload) != "mid" {
			t.Errorf("got %v, want pong \"mid\"", f)
			return
		}
		rc.send(0x80, "y")
		rc.send(0x88, string(closePayload(1000, "")))
		rc.expectClose(1000)
	})
	_, rec := dialClient(t, fs.url, nil, nil)
	for _, want := range []string{"open", `ping("a")`, `ping("")`, "ping(", `ping("mid")`, `message(binary, "xy")`, `close(1000, "")`} {
		if e := rec.next(t); !strings.HasPrefix(e.String(), want) {
			t.Fatalf("client event %v, want %s", e, want)
		}
	}
	rec.expectDone(t)
}

// Section 10.4 with Options.MaxLength: a message at the limit passes.
func TestMaxLengthOption(t *testing.T) {
	srv, cli := pair(t, &wsd.Options{MaxLength: 1000}, &wsd.Options{MaxLength: 2000}, func(c *wsd.Conn, rec *recorder) { rec.echo = true }, nil)
	cli.c.SendBinary(make([]byte, 1000))
	srv.rec.expectMessage(t, wsd.BinaryMessage, string(make([]byte, 1000)))
	cli.rec.expectMessage(t, wsd.BinaryMessage, string(make([]byte, 1000)))
	// The server's own sends are not limited by its MaxLength...
	srv.c.SendBinary(make([]byte, 2000))
	cli.rec.expectMessage(t, wsd.BinaryMessage, string(make([]byte, 2000)))
	// ...but the client's are, by the server.
	cli.c.SendBinary(make([]byte, 1001))
	srv.rec.expectProtocolError(t, 1009)
	if e := cli.rec.expect(t, "close"); e.code != 1009 {
		t.Fatalf("client %v, want close code 1009", e)
	}
	cli.rec.expectDone(t)
}
