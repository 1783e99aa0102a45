//go:build !js

package wsd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsd-go/wsd/internal/handshake"
	"github.com/wsd-go/wsd/internal/transport"
)

// WebSockets over HTTP/2 (RFC 8441), server side. net/http hands the
// handler an extended CONNECT request; the WebSocket then runs over the
// request body (from the client) and the response (to it). The stream
// drives its Conn through the transport seam, as the event loop does, so
// keepalive runs on a timer rather than on read deadlines, which an
// HTTP/2 stream cannot take back once they fire.

// HTTP2 reports whether the connection runs over a stream of an HTTP/2
// connection (RFC 8441) rather than over a connection of its own. On a
// client it is known once Start has succeeded.
func (c *Conn) HTTP2() bool { return c.http2.Load() }

// checkRequest checks the opening handshake: an HTTP/1.1 upgrade, or an
// extended CONNECT over HTTP/2. It returns the Sec-WebSocket-Key, which
// HTTP/2 does without.
func checkRequest(r *http.Request) (string, *handshake.Error) {
	if r.ProtoMajor != 2 {
		return handshake.CheckRequest(r)
	}
	return "", handshake.CheckConnect(r)
}

// allowedMethod is the method named in the Allow header of a 405.
func allowedMethod(r *http.Request) string {
	if r.ProtoMajor == 2 {
		return http.MethodConnect
	}
	return http.MethodGet
}

// serverWriter returns what Start answers the handshake through: w
// itself, or over HTTP/2 the stream that will carry the WebSocket.
func serverWriter(c *Conn, w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if r.ProtoMajor != 2 {
		return w
	}
	c.http2.Store(true)
	s := &h2Stream{c: c, ResponseWriter: w, rc: http.NewResponseController(w), body: r.Body, done: r.Context().Done()}
	s.remote = parseAddr(r.RemoteAddr)
	s.local, _ = r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server); srv != nil {
		s.clearDeadlines = srv.ReadTimeout > 0 || srv.WriteTimeout > 0
	}
	return s
}

// h2Stream is a WebSocket's HTTP/2 stream on a server. It is the
// connection's transport (transport.Attacher, with serve as its loop) and
// its net.Conn. It embeds the ResponseWriter to stand in for it until
// Start.
//
// net/http ends the stream when the handler returns, and reuses the
// writer's state after that: the handler must outlive the WebSocket (see
// Start), and Close, which the connection calls before its close event,
// waits for the last write and bars new ones.
type h2Stream struct {
	http.ResponseWriter
	c              *Conn
	rc             *http.ResponseController
	body           io.ReadCloser
	done           <-chan struct{} // the request's context: the stream is gone
	remote, local  net.Addr
	clearDeadlines bool // the server set per-stream deadlines

	wmu      sync.Mutex   // serializes writes
	deadline atomic.Int64 // write deadline, Unix nanoseconds; 0 for none
	writing  atomic.Bool  // a write is under way
	closed   atomic.Bool

	mu   sync.Mutex // guards over
	over bool       // Close is done with the stream: w must not be touched

	small [smallRead]byte
}

// smallRead is the size of the buffer a stream reads into while it waits;
// a pooled buffer is taken only while bytes keep coming.
const smallRead = 512

// Attach answers the handshake with 200 and the WebSocket headers; serve
// then drives the connection. A nil response means Start gave up: the
// stream is reset instead.
func (s *h2Stream) Attach(_ transport.Conn, response []byte) (net.Conn, error) {
	if response == nil {
		s.closed.Store(true)
		s.rc.SetWriteDeadline(time.Unix(1, 0)) // a past deadline resets the stream
		return s, nil
	}
	if s.clearDeadlines {
		// The server's ReadTimeout and WriteTimeout would end the stream.
		s.rc.SetReadDeadline(time.Time{})
		s.rc.SetWriteDeadline(time.Time{})
	}
	h := s.ResponseWriter.Header()
	for k, v := range s.c.serverResponseHeader() {
		h[k] = v
	}
	s.ResponseWriter.WriteHeader(http.StatusOK)
	if err := s.rc.Flush(); err != nil {
		return nil, fmt.Errorf("wsd: send the HTTP/2 response: %w", err)
	}
	return s, nil
}

// serve runs the WebSocket until it ends.
func (s *h2Stream) serve() {
	pump(s.c, s.body, s.small[:], s.why)
	s.Close()
}

// Write sends p as DATA frames, at once.
func (s *h2Stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writing.Store(true) // before the check, which Close relies on
	defer s.writing.Store(false)
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	if s.gone() {
		return 0, net.ErrClosed
	}
	d := s.deadline.Load()
	if d != 0 {
		// The stream's own deadline is not lifted when it fires: it is set
		// for this write only.
		if time.Now().UnixNano() >= d {
			return 0, timeoutError{}
		}
		s.rc.SetWriteDeadline(time.Unix(0, d))
		defer func() {
			if !s.gone() {
				s.rc.SetWriteDeadline(time.Time{})
			}
		}()
	}
	n, err := s.ResponseWriter.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	if err != nil && d != 0 && time.Now().UnixNano() >= d {
		err = timeoutError{} // the deadline reset the stream
	}
	return n, err
}

// Close ends the WebSocket's use of the stream: the read loop stops, a
// write held up by flow control is cut by a reset, and once the write
// under way has returned no other starts. net/http finishes the stream
// when the handler returns.
func (s *h2Stream) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.body.Close()
	s.mu.Lock()
	if !s.over && s.writing.Load() && !s.gone() {
		s.rc.SetWriteDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()
	s.wmu.Lock()
	s.mu.Lock()
	s.over = true
	s.mu.Unlock()
	s.wmu.Unlock()
	return nil
}

// why says why the request body failed with err.
func (s *h2Stream) why(err error) error {
	switch {
	case s.closed.Load():
		return net.ErrClosed
	case s.gone():
		return errStreamGone
	}
	return err
}

// errStreamGone is why a server's stream ended under its WebSocket.
var errStreamGone = errors.New("the HTTP/2 stream ended: the client reset it, or its handler returned")

// gone reports whether the request's context has ended: the stream was
// reset, or the handler returned (too early), after which net/http's
// writer must not be touched.
func (s *h2Stream) gone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Read is not used: serve reads the request body itself.
func (s *h2Stream) Read([]byte) (int, error) { return 0, net.ErrClosed }

// LocalAddr returns the server's address of the HTTP/2 connection.
func (s *h2Stream) LocalAddr() net.Addr { return s.local }

// RemoteAddr returns the client's address of the HTTP/2 connection.
func (s *h2Stream) RemoteAddr() net.Addr { return s.remote }

// SetDeadline sets the write deadline; reads have none (see above).
func (s *h2Stream) SetDeadline(t time.Time) error { return s.SetWriteDeadline(t) }

// SetReadDeadline does nothing: keepalive runs on a timer.
func (s *h2Stream) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline bounds the writes that start or are under way before t.
func (s *h2Stream) SetWriteDeadline(t time.Time) error {
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
	}
	s.deadline.Store(d)
	return nil
}

// pump runs c over the stream r: it reads, feeds c until c reports the
// end, and reports a drop when r fails, with the error why makes of the
// read's. It waits for bytes with small, a buffer of its own, and takes a
// pooled buffer only while bytes keep coming, so that an idle WebSocket
// holds no large buffer.
func pump(c *Conn, r io.Reader, small []byte, why func(error) error) {
	d := driver{c}
	d.Opened()
	var bp *[]byte
	for {
		buf := small
		if bp != nil {
			buf = *bp
		}
		n, err := r.Read(buf)
		over := n > 0 && d.Feed(buf[:n])
		switch {
		case bp != nil && (n < len(buf) || over || err != nil):
			readBufs.Put(bp)
			bp = nil
		case bp == nil && n == len(buf) && !over && err == nil:
			bp = readBufs.Get().(*[]byte)
		}
		if over {
			return
		}
		if err != nil {
			d.Dropped(why(err))
			return
		}
		if s := c.sx.Load(); s != nil {
			s.waitRoom() // a reader that has not caught up holds the stream
		}
	}
}

// timeoutError is the error of a write past its deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "wsd: write deadline exceeded" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// parseAddr turns a Request.RemoteAddr into a net.Addr.
func parseAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return stringAddr(s)
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }
