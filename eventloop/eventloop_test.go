//go:build !js

package eventloop_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

func TestEcho(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		url := serve(echoHandler(nil))
		c := dial(t, url+"/echo", nil)
		sizes := []int{0, 1, 125, 126, 65535, 65536, 1 << 20}
		for _, n := range sizes {
			data := bytes.Repeat([]byte{byte(n)}, n)
			if err := c.SendBinary(data); err != nil {
				t.Fatal(err)
			}
			if m := c.next(t); m.Type != wsd.BinaryMessage || !bytes.Equal(m.Data, data) {
				t.Fatalf("echo of %d bytes: got %v of %d bytes", n, m.Type, len(m.Data))
			}
		}
		c.SendText("héllo")
		if m := c.next(t); m.Type != wsd.TextMessage || string(m.Data) != "héllo" {
			t.Fatalf("text echo %v %q", m.Type, m.Data)
		}
		// Many messages at once come back in order.
		for i := range 500 {
			c.SendText(fmt.Sprint(i))
		}
		for i := range 500 {
			if m := c.next(t); string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d came back as %q", i, m.Data)
			}
		}
		c.Close(1000, "bye")
		if ev := c.waitClose(t); ev.code != 1000 || ev.reason != "bye" {
			t.Errorf("close %+v", ev)
		}
	})
}

func TestFragmentedMessageWithPingBetween(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		r := dialRaw(t, serve(echoHandler(nil)))
		r.upgrade()
		r.write(frame(false, 1, []byte("Hel")))
		r.write(frame(true, 9, []byte("ping!")))
		r.write(frame(false, 0, []byte("l")))
		r.write(frame(true, 0, []byte("o")))
		if op, p := r.readFrame(); op != 10 || string(p) != "ping!" {
			t.Fatalf("got op %d %q, want the pong", op, p)
		}
		if op, p := r.readFrame(); op != 1 || string(p) != "Hello" {
			t.Fatalf("got op %d %q, want text Hello", op, p)
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes []byte
		code  int
	}{
		{"unmasked", unmaskedFrame(1, []byte("hi")), 1002},
		{"reserved opcode", frame(true, 3, nil), 1002},
		{"bad utf-8", frame(true, 1, []byte{0xff, 0xfe}), 1007},
		{"too big", frame(true, 2, make([]byte, 2000)), 1009},
		{"continuation first", frame(true, 0, []byte("x")), 1002},
		{"fragmented ping", frame(false, 9, nil), 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, serve func(http.Handler) string) {
				got := make(chan closeEvent, 1)
				errs := make(chan error, 1)
				url := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					ws, err := wsd.NewServer(w, r, &wsd.Options{MaxLength: 1000})
					if err != nil {
						return
					}
					ws.OnError(func(err error) { errs <- err })
					ws.OnClose(func(code int, reason string) { got <- closeEvent{code, reason} })
					ws.Start(r.Context())
				}))
				r := dialRaw(t, url)
				r.upgrade()
				r.write(tc.bytes)
				if code := r.closeCode(); code != tc.code {
					t.Errorf("close frame code %d, want %d", code, tc.code)
				}
				r.eof()
				var perr *wsd.ProtocolError
				select {
				case err := <-errs:
					if !errors.As(err, &perr) || perr.Code != tc.code {
						t.Errorf("OnError %v", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no error event")
				}
				if ev := <-got; ev.code != tc.code {
					t.Errorf("OnClose %+v, want code %d", ev, tc.code)
				}
			})
		})
	}
}

func TestClosingHandshake(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		serverClosed := make(chan closeEvent, 2)
		url := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := wsd.NewServer(w, r, nil)
			if err != nil {
				return
			}
			ws.OnMessage(func(m wsd.Message) {
				if m.String() == "close me" {
					ws.Close(1001, "going away")
				}
			})
			ws.OnClose(func(code int, reason string) { serverClosed <- closeEvent{code, reason} })
			ws.Start(r.Context())
		}))
		// Client first.
		c := dial(t, url, nil)
		c.Close(4000, "client done")
		if ev := c.waitClose(t); ev != (closeEvent{4000, "client done"}) {
			t.Errorf("client close %+v", ev)
		}
		if ev := <-serverClosed; ev != (closeEvent{4000, "client done"}) {
			t.Errorf("server close %+v", ev)
		}
		// Server first.
		c = dial(t, url, nil)
		c.SendText("close me")
		if ev := c.waitClose(t); ev != (closeEvent{1001, "going away"}) {
			t.Errorf("client close %+v", ev)
		}
		if ev := <-serverClosed; ev != (closeEvent{1001, "going away"}) {
			t.Errorf("server close %+v", ev)
		}
		// The peer vanishes: 1006.
		r := dialRaw(t, url)
		r.upgrade()
		r.nc.Close()
		if ev := <-serverClosed; ev.code != 1006 {
			t.Errorf("server close %+v, want 1006", ev)
		}
	})
}

func TestCloseTimeout(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		closed := make(chan closeEvent, 1)
		url := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := wsd.NewServer(w, r, &wsd.Options{CloseTimeout: 100 * time.Millisecond})
			if err != nil {
				return
			}
			ws.OnOpen(func() { ws.Close(1000, "") })
			ws.OnClose(func(code int, reason string) { closed <- closeEvent{code, reason} })
			ws.Start(r.Context())
		}))
		r := dialRaw(t, url)
		r.upgrade()
		if code := r.closeCode(); code != 1000 {
			t.Fatalf("close code %d", code)
		}
		// No answer: the server gives up after its close timeout.
		select {
		case ev := <-closed:
			if ev.code != 1006 {
				t.Errorf("close %+v, want 1006", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no close event")
		}
		r.eof()
	})
}

func TestPipelinedFramesAfterRequest(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		r := dialRaw(t, serve(echoHandler(nil)))
		b := []byte(handshakeRequest)
		b = append(b, frame(true, 1, []byte("first"))...)
		b = append(b, frame(true, 2, []byte("second"))...)
		r.write(b)
		if resp := r.response(); resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if op, p := r.readFrame(); op != 1 || string(p) != "first" {
			t.Fatalf("got %d %q", op, p)
		}
		if op, p := r.readFrame(); op != 2 || string(p) != "second" {
			t.Fatalf("got %d %q", op, p)
		}
	})
}

func TestRequestByteByByte(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		r := dialRaw(t, serve(echoHandler(nil)))
		b := append([]byte(handshakeRequest), frame(true, 1, []byte("slow"))...)
		for i := range b {
			r.write(b[i : i+1])
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		if resp := r.response(); resp.StatusCode != 101 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if op, p := r.readFrame(); op != 1 || string(p) != "slow" {
			t.Fatalf("got %d %q", op, p)
		}
	})
}

func TestOptionsAndInspection(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		info := make(chan string, 1)
		url := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := wsd.NewServer(w, r, &wsd.Options{
				AcceptProtocols:   []string{"chat"},
				AdditionalHeaders: http.Header{"X-Server": {"wsd"}},
			})
			if err != nil {
				return
			}
			ws.OnOpen(func() {
				info <- fmt.Sprintf("%s %s %v %s", ws.Protocol(), ws.RequestHeader().Get("X-Client"),
					ws.RemoteAddr() != nil, ws.ResponseHeader().Get("X-Server"))
				ws.SendPing([]byte("p"), func() { ws.SendText("got pong") })
			})
			ws.Start(r.Context())
		}))
		c := dial(t, url, &wsd.Options{AcceptProtocols: []string{"superchat", "chat"}, AdditionalHeaders: http.Header{"X-Client": {"yes"}}})
		if c.Protocol() != "chat" || c.ResponseHeader().Get("X-Server") != "wsd" {
			t.Errorf("client sees protocol %q, X-Server %q", c.Protocol(), c.ResponseHeader().Get("X-Server"))
		}
		if got := <-info; got != "chat yes true wsd" {
			t.Errorf("server sees %q", got)
		}
		if m := c.next(t); m.String() != "got pong" {
			t.Errorf("got %q", m.Data)
		}
	})
}
