//go:build !js

package wsd_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/wsd-go/wsd"
)

type testMessage struct {
	name string
	typ  wsd.MessageType
	data string
}

func echoMessages() []testMessage {
	rng := rand.New(rand.NewPCG(7, 8))
	random := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	unicodeText := strings.Repeat("κόσμε ✓ 👍 ascii ", 1<<20/24)
	return []testMessage{
		{"empty text", wsd.TextMessage, ""},
		{"empty binary", wsd.BinaryMessage, ""},
		{"short text", wsd.TextMessage, "Hello"},
		{"unicode text", wsd.TextMessage, "κόσμε ✓ 👍 \u00e9\U0010fffd\uffff"},
		{"all byte values", wsd.BinaryMessage, random(0) + string(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}())},
		{"text 125", wsd.TextMessage, strings.Repeat("x", 125)},
		{"text 126", wsd.TextMessage, strings.Repeat("x", 126)},
		{"binary 65535", wsd.BinaryMessage, random(65535)},
		{"binary 65536", wsd.BinaryMessage, random(65536)},
		{"binary 16 KiB", wsd.BinaryMessage, random(16 << 10)},
		{"binary 16 KiB + 1", wsd.BinaryMessage, random(16<<10 + 1)},
		{"binary 1 MiB", wsd.BinaryMessage, random(1 << 20)},
		{"unicode text 1 MiB", wsd.TextMessage, unicodeText},
	}
}

func sendMessage(c *wsd.Conn, m testMessage, how int) error {
	switch how % 3 {
	case 0:
		return c.Send([]byte(m.data), wsd.SendOptions{Type: m.typ})
	case 1:
		if m.typ == wsd.TextMessage {
			return c.SendText(m.data)
		}
		return c.SendBinary([]byte(m.data))
	default:
		if m.typ == wsd.BinaryMessage {
			return c.Send([]byte(m.data), wsd.SendOptions{}) // zero Type means binary
		}
		return c.Send([]byte(m.data), wsd.SendOptions{Type: m.typ})
	}
}

// Section 5.6: messages of every kind and size arrive whole and
// unchanged, from client to server and from server to client.
func TestEcho(t *testing.T) {
	msgs := echoMessages()
	t.Run("client sends, server echoes", func(t *testing.T) {
		srv, cli := pair(t, nil, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true }, nil)
		for i, m := range msgs {
			if err := sendMessage(cli.c, m, i); err != nil {
				t.Fatalf("%s: send: %v", m.name, err)
			}
			srv.rec.expectMessage(t, m.typ, m.data)
			cli.rec.expectMessage(t, m.typ, m.data)
		}
	})
	t.Run("server sends, client echoes", func(t *testing.T) {
		srv, cli := pair(t, nil, nil, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
		for i, m := range msgs {
			if err := sendMessage(srv.c, m, i); err != nil {
				t.Fatalf("%s: send: %v", m.name, err)
			}
			cli.rec.expectMessage(t, m.typ, m.data)
			srv.rec.expectMessage(t, m.typ, m.data)
		}
	})
	t.Run("many in a row", func(t *testing.T) {
		srv, cli := pair(t, nil, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true }, nil)
		for i, m := range msgs {
			if err := sendMessage(cli.c, m, i); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range msgs {
			srv.rec.expectMessage(t, m.typ, m.data)
		}
		for _, m := range msgs {
			cli.rec.expectMessage(t, m.typ, m.data)
		}
	})
}

// A server's frames are never masked and a client's always are, with the
// exact payload (section 5.1).
func TestFramesOnTheWire(t *testing.T) {
	s := newTestServer(t, nil, func(c *wsd.Conn, rec *recorder) { rec.echo = true })
	rc := rawDial(t, s.addr)
	rc.handshake()
	for _, m := range echoMessages() {
		op := byte(m.typ)
		rc.send(0x80|op, m.data)
		f := rc.read() // rc.read checks the frame is unmasked
		if !f.fin || f.rsv != 0 || f.op != op || string(f.payload) != m.data {
			t.Fatalf("%s: echo %v, want a final unmasked frame of opcode %d with the message", m.name, f, op)
		}
	}

	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.accept101(req)
		for _, m := range echoMessages() {
			f := rc.read() // checks the frame is masked
			if !f.fin || f.rsv != 0 || f.op != byte(m.typ) || string(f.payload) != m.data {
				t.Errorf("%s: client sent %v", m.name, f)
				return
			}
		}
		rc.send(0x88, string(closePayload(1000, "")))
		rc.expectClose(1000)
	})
	c, rec := dialClient(t, fs.url, nil, nil)
	rec.expect(t, "open")
	for i, m := range echoMessages() {
		if err := sendMessage(c, m, i); err != nil {
			t.Fatal(err)
		}
	}
	rec.expectClose(t, 1000, "")
	rec.expectDone(t)
}

// Send with Start and End sends only that part of the data; bad bounds
// send nothing. The callback runs once, before Send returns, with Send's
// error.
func TestSendOptions(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	data := []byte("0123456789")
	ok := []struct {
		opts wsd.SendOptions
		want string
	}{
		{wsd.SendOptions{Type: wsd.TextMessage, Start: 2, End: 5}, "234"},
		{wsd.SendOptions{Type: wsd.TextMessage, Start: 3}, "3456789"},
		{wsd.SendOptions{Type: wsd.BinaryMessage, End: 4}, "0123"},
		{wsd.SendOptions{Type: wsd.BinaryMessage, Start: 0, End: 10}, "0123456789"},
		{wsd.SendOptions{Type: wsd.TextMessage, Start: 5, End: 5}, ""},
		{wsd.SendOptions{Type: wsd.TextMessage, Start: 10}, ""},
	}
	for _, tt := range ok {
		calls := 0
		var got error = errors.New("callback not called")
		tt.opts.Callback = func(err error) { calls++; got = err }
		err := cli.c.Send(data, tt.opts)
		if err != nil || calls != 1 || got != nil {
			t.Fatalf("Send(%+v) = %v; callback called %d times with %v; want nil, once, nil", tt.opts, err, calls, got)
		}
		typ := tt.opts.Type
		srv.rec.expectMessage(t, typ, tt.want)
	}
	if !bytes.Equal(data, []byte("0123456789")) {
		t.Fatalf("Send changed its data: %q", data)
	}

	bad := []wsd.SendOptions{
		{Start: -1},
		{Start: 6, End: 5},
		{End: 11},
		{Start: 11},
		{Type: wsd.MessageType(3)},
		{Type: wsd.MessageType(0xb)},
		{Type: wsd.PingMessage, End: 0}, // fine on its own; see below
	}
	for _, o := range bad[:len(bad)-1] {
		calls := 0
		var got error
		o.Callback = func(err error) { calls++; got = err }
		err := cli.c.Send(data, o)
		if err == nil || calls != 1 || got != err {
			t.Fatalf("Send(%+v) = %v; callback called %d times with %v; want an error, passed once to the callback", o, err, calls, got)
		}
	}
	// A ping over 125 bytes is refused.
	if err := cli.c.Send(make([]byte, 126), wsd.SendOptions{Type: wsd.PingMessage}); err == nil {
		t.Fatal("Send of a 126-byte ping succeeded")
	}
	if err := cli.c.Send(make([]byte, 126), wsd.SendOptions{Type: wsd.PongMessage}); err == nil {
		t.Fatal("Send of a 126-byte pong succeeded")
	}
	// Nothing was sent by the failed calls: the next event is the marker.
	cli.c.SendText("marker")
	srv.rec.expectMessage(t, wsd.TextMessage, "marker")

	// Control frames through Send.
	if err := cli.c.Send([]byte("xpingx"), wsd.SendOptions{Type: wsd.PingMessage, Start: 1, End: 5}); err != nil {
		t.Fatal(err)
	}
	if e := srv.rec.expect(t, "ping"); e.data != "ping" {
		t.Fatalf("ping %q, want \"ping\"", e.data)
	}
	if e := cli.rec.expect(t, "pong"); e.data != "ping" {
		t.Fatalf("pong %q, want \"ping\"", e.data)
	}
	if err := cli.c.Send([]byte("unsolicited"), wsd.SendOptions{Type: wsd.PongMessage}); err != nil {
		t.Fatal(err)
	}
	if e := srv.rec.expect(t, "pong"); e.data != "unsolicited" {
		t.Fatalf("pong %q, want \"unsolicited\"", e.data)
	}
	if err := cli.c.Send([]byte("bye"), wsd.SendOptions{Type: wsd.CloseMessage, Code: 4001}); err != nil {
		t.Fatal(err)
	}
	srv.rec.expectClose(t, 4001, "bye")
	cli.rec.expectClose(t, 4001, "bye")
	// After the close, sends fail and still call back.
	calls := 0
	err := cli.c.Send(data, wsd.SendOptions{Callback: func(error) { calls++ }})
	if !errors.Is(err, wsd.ErrClosed) || calls != 1 {
		t.Fatalf("Send after close = %v, callback called %d times; want ErrClosed, once", err, calls)
	}
}

// Section 5.5.2 and 5.5.3: a ping is answered by a pong with the same
// payload; SendPing's callback runs for the pong that matches.
func TestSendPing(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	for _, side := range []struct {
		name     string
		from, to serverSide
	}{{"client pings", cli, srv}, {"server pings", srv, cli}} {
		t.Run(side.name, func(t *testing.T) {
			got := make(chan string, 8)
			payloads := []string{"p1", "", strings.Repeat("z", 125), "\x00\xff"}
			for _, p := range payloads {
				if err := side.from.c.SendPing([]byte(p), func() { got <- p }); err != nil {
					t.Fatalf("SendPing(%q): %v", p, err)
				}
			}
			for _, p := range payloads {
				if e := side.to.rec.expect(t, "ping"); e.data != p {
					t.Fatalf("peer got ping %q, want %q", e.data, p)
				}
				if e := side.from.rec.expect(t, "pong"); e.data != p {
					t.Fatalf("pong %q, want %q", e.data, p)
				}
				if cb := within(t, got, waitTimeout, "pong callback"); cb != p {
					t.Fatalf("callback for %q, want %q", cb, p)
				}
			}
			if err := side.from.c.SendPing(make([]byte, 126), func() { got <- "too long" }); err == nil {
				t.Fatal("SendPing with 126 bytes succeeded")
			}
			// Without a callback.
			if err := side.from.c.SendPing([]byte("nocb"), nil); err != nil {
				t.Fatal(err)
			}
			side.from.rec.expect(t, "pong")
			side.to.rec.expect(t, "ping")
			select {
			case cb := <-got:
				t.Fatalf("unexpected callback %q", cb)
			default:
			}
		})
	}
}

// Only a pong with the ping's payload fires its callback, on the
// connection's goroutine, before the pong event.
func TestPingCallbackMatchesPayload(t *testing.T) {
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.accept101(req)
		f := rc.read()
		if f.op != opPing || string(f.payload) != "a" {
			t.Errorf("fake server: got %v, want ping \"a\"", f)
			return
		}
		rc.send(0x8a, "b")
		rc.send(0x8a, "a")
		rc.send(0x8a, "a")
		rc.send(0x88, string(closePayload(1000, "")))
		rc.expectClose(1000)
	})
	var rec *recorder
	c, rec := dialClient(t, fs.url, nil, nil)
	rec.expect(t, "open")
	if err := c.SendPing([]byte("a"), func() { rec.push(event{kind: "callback"}) }); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pong(\"b\")", "callback", "pong(\"a\")", "pong(\"a\")", "close(1000, \"\")"} {
		if e := rec.next(t); e.String() != want {
			t.Fatalf("event %v, want %s", e, want)
		}
	}
	rec.expectDone(t)
}
