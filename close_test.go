//go:build !js

package wsd_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// Section 7.1.2 to 7.1.6: the closing handshake started by the client.
// The server reports the client's code and reason; the client reports
// those of the close frame it received, the server's echo of them.
func TestCloseFromClient(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	if err := cli.c.Close(4000, "bye ✓"); err != nil {
		t.Fatal(err)
	}
	if st := cli.c.ReadyState(); st != wsd.Closing && st != wsd.Closed {
		t.Errorf("ReadyState right after Close = %v, want closing", st)
	}
	srv.rec.expectClose(t, 4000, "bye ✓")
	srv.rec.expectDone(t)
	cli.rec.expectClose(t, 4000, "bye ✓")
	cli.rec.expectDone(t)
}

func TestCloseFromServer(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	if err := srv.c.Close(1001, "going away"); err != nil {
		t.Fatal(err)
	}
	cli.rec.expectClose(t, 1001, "going away")
	cli.rec.expectDone(t)
	srv.rec.expectClose(t, 1001, "going away")
	srv.rec.expectDone(t)
}

// Close with code 0 sends 1000.
func TestCloseDefaultCode(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	cli.c.Close(0, "")
	srv.rec.expectClose(t, 1000, "")
	cli.rec.expectClose(t, 1000, "")
}

// Section 5.5.1, 7.1.1 and 7.1.5: a close frame is echoed with its code
// and reason; one without a code is reported as 1005 and echoed empty;
// then the server closes TCP.
func TestServerEchoesClose(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		code    int
		reason  string
		echo    string // payload of the echoed close frame
	}{
		{"empty", "", 1005, "", ""},
		{"code only", string(closePayload(1000, "")), 1000, "", "\x03\xe8"},
		{"code and reason", string(closePayload(4321, "see you")), 4321, "see you", string(closePayload(4321, "see you"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, nil, nil)
			rc := rawDial(t, s.addr)
			rc.handshake()
			sc := s.accept(t)
			sc.rec.expect(t, "open")
			rc.send(0x88, tt.payload)
			f := rc.read()
			if f.op != opClose || string(f.payload) != tt.echo {
				t.Fatalf("echo %v, want close with payload %q", f, tt.echo)
			}
			// The server closes the TCP connection first (section 7.1.1).
			rc.expectEOF()
			sc.rec.expectClose(t, tt.code, tt.reason)
			sc.rec.expectDone(t)
		})
	}
}

// The server starts the close; after the client's answer, the server
// closes TCP (section 7.1.1) without waiting for the client to.
func TestServerClosesTCPAfterAnswer(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)
	sc.rec.expect(t, "open")
	sc.c.Close(1000, "done")
	f := rc.expectClose(1000)
	if string(f.payload[2:]) != "done" {
		t.Fatalf("reason %q, want \"done\"", f.payload[2:])
	}
	// Data sent before the peer's close frame is still delivered
	// (section 5.5.1: the endpoint may go on receiving).
	rc.send(0x81, "late")
	rc.send(0x88, string(closePayload(1000, "")))
	rc.expectEOF()
	sc.rec.expectMessage(t, wsd.TextMessage, "late")
	sc.rec.expectClose(t, 1000, "")
	sc.rec.expectDone(t)
}

// Section 7.1.1: after the closing handshake the client waits for the
// server to close the TCP connection before closing it itself.
func TestClientWaitsForServerToCloseTCP(t *testing.T) {
	for _, who := range []string{"client starts", "server starts"} {
		t.Run(who, func(t *testing.T) {
			serverClosed := make(chan struct{})
			fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
				rc.accept101(req)
				if who == "server starts" {
					rc.send(0x88, string(closePayload(4001, "srv")))
					rc.expectClose(4001)
				} else {
					rc.expectClose(4002)
					rc.send(0x88, string(closePayload(4002, "")))
				}
				// The client must keep the TCP connection open for us.
				rc.nc.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
				if b, err := rc.br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("fake server: client sent 0x%02x or closed the connection (%v) before the server did", b, err)
				}
				close(serverClosed)
				rc.nc.Close()
			})
			c, err := wsd.NewClient(fs.url, &wsd.Options{CloseTimeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			rec := record(c)
			c.OnClose(func(code int, reason string) {
				select {
				case <-serverClosed:
					rec.push(event{kind: "close", code: code, data: reason})
				default:
					rec.push(event{kind: "close event before the server closed TCP"})
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			rec.expect(t, "open")
			start := time.Now()
			if who == "client starts" {
				c.Close(4002, "")
				rec.expectClose(t, 4002, "")
			} else {
				rec.expectClose(t, 4001, "srv")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("close took %v: the client did not notice the server's TCP close", d)
			}
			rec.expectDone(t)
		})
	}
}

// A server that answers the close but never closes TCP: the client gives
// up after a while and closes it itself.
func TestClientClosesTCPIfServerDoesNot(t *testing.T) {
	eof := make(chan struct{})
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.accept101(req)
		rc.expectClose(1000)
		rc.send(0x88, string(closePayload(1000, "")))
		rc.expectEOF()
		close(eof)
	})
	c, rec := dialClient(t, fs.url, &wsd.Options{CloseTimeout: 300 * time.Millisecond}, nil)
	rec.expect(t, "open")
	start := time.Now()
	c.Close(1000, "")
	rec.expectClose(t, 1000, "")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("client waited %v for the server to close TCP", d)
	}
	rec.expectDone(t)
	within(t, eof, waitTimeout, "client closing TCP")
}

// Section 7.1.7 and 7.4.1: a peer that never answers our close frame is
// dropped after CloseTimeout, and the close is reported as 1006.
func TestCloseTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	t.Run("client", func(t *testing.T) {
		eof := make(chan struct{})
		fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
			rc.accept101(req)
			rc.expectClose(1000)
			rc.expectEOF() // and never answer
			close(eof)
		})
		c, rec := dialClient(t, fs.url, &wsd.Options{CloseTimeout: timeout}, nil)
		rec.expect(t, "open")
		start := time.Now()
		if err := c.Close(1000, ""); err != nil {
			t.Fatal(err)
		}
		if st := c.ReadyState(); st != wsd.Closing {
			t.Errorf("ReadyState while waiting for the answer = %v, want closing", st)
		}
		if err := c.SendText("x"); !errors.Is(err, wsd.ErrClosed) {
			t.Errorf("SendText while closing = %v, want ErrClosed", err)
		}
		e := rec.expect(t, "close")
		if d := time.Since(start); e.code != 1006 || d < timeout || d > timeout+3*time.Second {
			t.Fatalf("%v after %v, want close code 1006 after %v", e, d, timeout)
		}
		rec.expectDone(t)
		within(t, eof, waitTimeout, "TCP close")
	})
	t.Run("server", func(t *testing.T) {
		s := newTestServer(t, &wsd.Options{CloseTimeout: timeout}, nil)
		rc := rawDial(t, s.addr)
		rc.handshake()
		sc := s.accept(t)
		sc.rec.expect(t, "open")
		start := time.Now()
		sc.c.Close(1000, "")
		rc.expectClose(1000)
		rc.expectEOF()
		e := sc.rec.expect(t, "close")
		if d := time.Since(start); e.code != 1006 || d < timeout {
			t.Fatalf("%v after %v, want close code 1006 after %v", e, d, timeout)
		}
		sc.rec.expectDone(t)
	})
}

// Section 7.1.5: a connection that drops without a close frame ends
// with 1006.
func TestAbnormalClosure(t *testing.T) {
	t.Run("client drops", func(t *testing.T) {
		s := newTestServer(t, nil, nil)
		rc := rawDial(t, s.addr)
		rc.handshake()
		sc := s.accept(t)
		sc.rec.expect(t, "open")
		rc.send(0x01, "half a message")
		rc.nc.Close()
		sc.rec.expectClose(t, 1006, "connection closed without a close frame")
		sc.rec.expectDone(t)
	})
	t.Run("server drops", func(t *testing.T) {
		fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
			rc.accept101(req)
			rc.send(0x81, "one")
		})
		_, rec := dialClient(t, fs.url, nil, nil)
		rec.expect(t, "open")
		rec.expectMessage(t, wsd.TextMessage, "one")
		rec.expectClose(t, 1006, "connection closed without a close frame")
		rec.expectDone(t)
	})
}

// Close may be called any number of times, from many goroutines: one
// close frame goes out, and nothing after it (section 5.5.1).
func TestCloseIdempotent(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)
	sc.rec.expect(t, "open")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := sc.c.Close(4000+i, "x"); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := sc.c.SendText("after close"); !errors.Is(err, wsd.ErrClosed) {
				t.Errorf("SendText after Close = %v, want ErrClosed", err)
			}
		})
	}
	wg.Wait()
	f := rc.read()
	if f.op != opClose || f.closeCode() < 4000 || f.closeCode() > 4009 {
		t.Fatalf("got %v, want one close frame", f)
	}
	if err := sc.c.Close(1000, ""); err != nil {
		t.Fatalf("Close again: %v", err)
	}
	rc.send(0x88, string(f.payload[:2]))
	rc.expectEOF() // no second close frame, no data
	sc.rec.expectClose(t, f.closeCode(), "")
	sc.rec.expectDone(t)
	if err := sc.c.Close(1000, ""); err != nil {
		t.Fatalf("Close after the end: %v", err)
	}
}

// Close before Start marks the connection closed without doing anything
// else; Start then fails.
func TestCloseBeforeStart(t *testing.T) {
	check := func(t *testing.T, c *wsd.Conn) {
		t.Helper()
		rec := record(c)
		if st := c.ReadyState(); st != wsd.Connecting {
			t.Errorf("ReadyState before Start = %v, want connecting", st)
		}
		if err := c.Close(1000, ""); err != nil {
			t.Errorf("Close before Start: %v", err)
		}
		if err := c.Close(1000, ""); err != nil {
			t.Errorf("second Close before Start: %v", err)
		}
		within(t, c.Done(), waitTimeout, "Done")
		if st := c.ReadyState(); st != wsd.Closed {
			t.Errorf("ReadyState = %v, want closed", st)
		}
		if err := c.Start(context.Background()); err == nil {
			t.Errorf("Start after Close succeeded")
		}
		if err := c.SendText("x"); !errors.Is(err, wsd.ErrClosed) {
			t.Errorf("SendText = %v, want ErrClosed", err)
		}
		if err := c.SendPing(nil, nil); !errors.Is(err, wsd.ErrClosed) {
			t.Errorf("SendPing = %v, want ErrClosed", err)
		}
		if a := c.RemoteAddr(); a != nil {
			t.Errorf("RemoteAddr = %v, want nil", a)
		}
		select {
		case e := <-rec.ch:
			t.Errorf("event %v for a connection never started", e)
		default:
		}
	}
	t.Run("client", func(t *testing.T) {
		c, err := wsd.NewClient("ws://127.0.0.1:1/", nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, c)
	})
	t.Run("server", func(t *testing.T) {
		done := make(chan struct{})
		srv := wsd.ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(done)
			c, err := wsd.NewServer(w, r, nil)
			if err != nil {
				t.Error(err)
				return
			}
			check(t, c)
		}))
		defer srv.Close()
		rc := rawDial(t, srv.Addr)
		rc.write([]byte(handshakeRequest("/")))
		within(t, done, waitTimeout, "handler")
		if resp := rc.readResponse(); resp.StatusCode == 101 {
			t.Errorf("a connection closed before Start answered 101")
		}
	})
}

// Section 7.4: codes that must not be sent are refused, as are reasons
// that do not fit a control frame; the connection stays open.
func TestCloseRejectsBadArguments(t *testing.T) {
	srv, cli := pair(t, nil, nil, nil, nil)
	for _, code := range []int{-1, 1, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000, 65535} {
		if err := cli.c.Close(code, ""); err == nil {
			t.Errorf("Close(%d) succeeded", code)
		}
	}
	if err := cli.c.Close(1000, strings.Repeat("r", 124)); err == nil {
		t.Error("Close with a 124-byte reason succeeded")
	}
	if st := cli.c.ReadyState(); st != wsd.Open {
		t.Fatalf("ReadyState %v after refused closes, want open", st)
	}
	cli.c.SendText("still open")
	srv.rec.expectMessage(t, wsd.TextMessage, "still open")
	if err := cli.c.Close(1000, strings.Repeat("r", 123)); err != nil {
		t.Fatalf("Close with a 123-byte reason: %v", err)
	}
	srv.rec.expectClose(t, 1000, strings.Repeat("r", 123))
}

// ReadyState goes connecting, open, closing, closed; the handlers see
// open in OnOpen and closed in OnClose.
func TestReadyState(t *testing.T) {
	release := make(chan struct{})
	fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
		rc.accept101(req)
		rc.expectClose(1000)
		<-release
		rc.send(0x88, string(closePayload(1000, "")))
	})
	c, err := wsd.NewClient(fs.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan wsd.ReadyState, 4)
	c.OnOpen(func() { states <- c.ReadyState() })
	c.OnClose(func(int, string) { states <- c.ReadyState() })
	if st := c.ReadyState(); st != wsd.Connecting {
		t.Errorf("before Start: %v, want connecting", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st := c.ReadyState(); st != wsd.Open {
		t.Errorf("after Start: %v, want open", st)
	}
	if st := within(t, states, waitTimeout, "OnOpen"); st != wsd.Open {
		t.Errorf("in OnOpen: %v, want open", st)
	}
	if c.RemoteAddr() == nil || c.RemoteAddr().String() != strings.TrimPrefix(fs.url, "ws://") {
		t.Errorf("RemoteAddr = %v, want %s", c.RemoteAddr(), fs.url)
	}
	c.Close(1000, "")
	if st := c.ReadyState(); st != wsd.Closing {
		t.Errorf("after Close: %v, want closing", st)
	}
	close(release)
	if st := within(t, states, waitTimeout, "OnClose"); st != wsd.Closed {
		t.Errorf("in OnClose: %v, want closed", st)
	}
	within(t, c.Done(), waitTimeout, "Done")
	if st := c.ReadyState(); st != wsd.Closed {
		t.Errorf("after Done: %v, want closed", st)
	}
	for st, want := range map[wsd.ReadyState]string{wsd.Connecting: "connecting", wsd.Open: "open", wsd.Closing: "closing", wsd.Closed: "closed"} {
		if st.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(st), st.String(), want)
		}
	}
}

// Server side: open during the handlers, closing once the server's close
// frame is out.
func TestServerReadyState(t *testing.T) {
	s := newTestServer(t, nil, nil)
	rc := rawDial(t, s.addr)
	rc.handshake()
	sc := s.accept(t)
	if st := sc.c.ReadyState(); st != wsd.Open {
		t.Errorf("after Start: %v, want open", st)
	}
	sc.c.Close(1000, "")
	if st := sc.c.ReadyState(); st != wsd.Closing {
		t.Errorf("after Close: %v, want closing", st)
	}
	rc.expectClose(1000)
	rc.send(0x88, "")
	rc.expectEOF()
	sc.rec.expect(t, "open")
	sc.rec.expectClose(t, 1005, "")
	sc.rec.expectDone(t)
}

// Section 7.1.5 and 7.1.6: the close code and reason reported are those
// of the first close frame received, even when they differ from the ones
// sent.
func TestCloseCodeIsFirstReceived(t *testing.T) {
	tests := []struct {
		answer []byte
		code   int
		reason string
	}{
		{closePayload(4100, "other"), 4100, "other"},
		{nil, 1005, ""},
		{closePayload(1001, ""), 1001, ""},
	}
	for _, tt := range tests {
		fs := newFakeServer(t, func(rc *rawConn, req *http.Request) {
			rc.accept101(req)
			rc.expectClose(4000)
			rc.send(0x88, string(tt.answer))
		})
		c, rec := dialClient(t, fs.url, nil, nil)
		rec.expect(t, "open")
		c.Close(4000, "mine")
		rec.expectClose(t, tt.code, tt.reason)
		rec.expectDone(t)
	}
}
