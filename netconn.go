package wsd

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// NetConn returns c as a net.Conn, a byte stream over messages of type t:
// each Write sends one message, and Read reads messages one after the
// other as one stream. Another protocol can run over it, or io.Copy move
// a TCP connection through it. Read returns io.EOF once the peer closes
// with 1000 or 1001, and an error matching *CloseError after any other
// close. Close closes the WebSocket with 1000.
//
// Deadlines work as a net.Conn's: an operation past its deadline fails
// with an error matching os.ErrDeadlineExceeded. As a message half read
// or half written cannot be resumed, the WebSocket is failed then, as
// with a context that ends; ctx, if it ends, does the same.
//
// c must be open, without an OnMessage handler (its messages go to the
// stream), and not be read or written otherwise while the net.Conn is in
// use.
func NetConn(ctx context.Context, c *Conn, t MessageType) net.Conn {
	return &netConn{c: c, ctx: ctx, t: t}
}

type netConn struct {
	c   *Conn
	ctx context.Context
	t   MessageType

	rmu sync.Mutex // serializes reads
	r   io.Reader  // the message being read
	eof bool

	wmu sync.Mutex // serializes writes

	rdl, wdl  deadline
	closeOnce sync.Once
}

// deadline cuts the operation in progress, if any, when it passes; it may
// be moved while the operation waits, as a net.Conn's.
type deadline struct {
	mu     sync.Mutex
	at     time.Time
	timer  *time.Timer
	cancel context.CancelFunc // of the operation in progress
	fired  bool               // the deadline passed during it
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at = t
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if t.IsZero() {
		return
	}
	if wait := time.Until(t); wait > 0 {
		d.timer = time.AfterFunc(wait, d.expire)
	} else {
		d.expireLocked()
	}
}

func (d *deadline) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && !time.Now().Before(d.at) {
		d.expireLocked()
	}
}

func (d *deadline) expireLocked() {
	if d.cancel != nil {
		d.fired = true
		d.cancel()
	}
}

// begin starts an operation under the deadline, failing at once if it has
// passed; end ends it and tells whether the deadline cut it.
func (d *deadline) begin(parent context.Context) (context.Context, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && !time.Now().Before(d.at) {
		return nil, os.ErrDeadlineExceeded
	}
	// Cancelable even without a deadline: one may be set while it waits.
	ctx, cancel := context.WithCancel(parent)
	d.cancel, d.fired = cancel, false
	return ctx, nil
}

func (d *deadline) end() (fired bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		d.cancel()
		d.cancel = nil
	}
	return d.fired
}

// errDeadline is a timeout, as net.Error sees it, and an
// os.ErrDeadlineExceeded.
type errDeadline struct{ op string }

func (e errDeadline) Error() string      { return "wsd: " + e.op + ": " + os.ErrDeadlineExceeded.Error() }
func (errDeadline) Timeout() bool        { return true }
func (errDeadline) Temporary() bool      { return true }
func (errDeadline) Is(target error) bool { return target == os.ErrDeadlineExceeded }

func (n *netConn) Read(p []byte) (int, error) {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	if n.eof {
		return 0, io.EOF
	}
	ctx, err := n.rdl.begin(n.ctx)
	if err != nil {
		return 0, errDeadline{"read"}
	}
	k, err := n.read(ctx, p)
	if n.rdl.end() && err != nil {
		return k, errDeadline{"read"}
	}
	return k, err
}

func (n *netConn) read(ctx context.Context, p []byte) (int, error) {
	for {
		if n.r == nil {
			t, r, err := n.c.Reader(ctx)
			if err != nil {
				return 0, n.readErr(err)
			}
			if t != n.t {
				n.c.Close(CloseUnsupportedData, "unexpected message type")
				return 0, errors.New("wsd: NetConn: got a " + t.String() + " message, want " + n.t.String())
			}
			n.r = r
		}
		n.r.(*messageReader).ctx = ctx // this call's, not the first's
		k, err := n.r.Read(p)
		if err == io.EOF {
			n.r = nil
			if k > 0 {
				return k, nil
			}
			continue
		}
		if err != nil {
			return k, n.readErr(err)
		}
		return k, nil
	}
}

// readErr turns the peer's normal close into io.EOF.
func (n *netConn) readErr(err error) error {
	switch CloseStatus(err) {
	case CloseNormal, CloseGoingAway:
		n.eof = true
		return io.EOF
	}
	return err
}

func (n *netConn) Write(p []byte) (int, error) {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	ctx, err := n.wdl.begin(n.ctx)
	if err != nil {
		return 0, errDeadline{"write"}
	}
	err = n.c.Write(ctx, n.t, p)
	if n.wdl.end() && err != nil {
		return 0, errDeadline{"write"}
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (n *netConn) Close() error {
	n.closeOnce.Do(func() { n.c.Close(CloseNormal, "") })
	return nil
}

// websocketAddr stands for the local end, which a WebSocket does not
// expose.
type websocketAddr struct{}

func (websocketAddr) Network() string { return "websocket" }
func (websocketAddr) String() string  { return "websocket" }

func (n *netConn) LocalAddr() net.Addr { return websocketAddr{} }

func (n *netConn) RemoteAddr() net.Addr {
	if a := n.c.RemoteAddr(); a != nil {
		return a
	}
	return websocketAddr{}
}

func (n *netConn) SetDeadline(t time.Time) error {
	n.rdl.set(t)
	n.wdl.set(t)
	return nil
}

func (n *netConn) SetReadDeadline(t time.Time) error  { n.rdl.set(t); return nil }
func (n *netConn) SetWriteDeadline(t time.Time) error { n.wdl.set(t); return nil }
