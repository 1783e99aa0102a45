//go:build !js

package wsd

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The goroutine transport: one goroutine per connection, over any
// net.Conn, reading with a buffer it holds only while bytes are at hand.

// begin marks the connection open and starts its goroutine, unless Close
// canceled the handshake. leftover holds bytes read past the handshake;
// begin copies them.
func (c *Conn) begin(nc net.Conn, leftover []byte) bool {
	c.nc = nc
	if !c.opening() {
		return false
	}
	c.join()
	go c.run(append([]byte(nil), leftover...))
	return true
}

// run is the goroutine transport: it reads, feeds the protocol core and
// dispatches events until the connection ends. leftover holds the bytes
// read past the handshake.
func (c *Conn) run(leftover []byte) {
	if c.opened() {
		return
	}
	r := newReader(c.nc)
	defer r.release()
	data := leftover
	var live liveness
	if c.opts.PingInterval > 0 || c.opts.IdleTimeout > 0 {
		live.start(time.Now())
		c.nc.SetReadDeadline(live.deadline(c.opts))
	}
	for {
		over := c.feed(data)
		r.done()
		if over {
			return
		}
		if s := c.sx.Load(); s != nil {
			s.waitRoom() // a reader that has not caught up holds the socket
		}
		if c.msgSeen {
			c.msgSeen = false
			live.lastMsg = live.last
		}
		var err error
		data, err = r.read(c.m.ReadSpace(readBufferSize))
		n := len(data)
		if n > 0 && !live.last.IsZero() {
			live.last = time.Now()
			if live.pinged {
				// The peer answered: the next ping is due an interval
				// from now, not at the pong deadline.
				live.pinged = false
				c.nc.SetReadDeadline(live.deadline(c.opts))
			}
		}
		if err != nil && n == 0 {
			if isTimeout(err) && !live.last.IsZero() {
				if c.m.CloseSent() {
					// Our close frame is out: its own timeout bounds
					// the wait for the answer, not keepalive.
					live = liveness{}
					c.nc.SetReadDeadline(time.Time{})
					continue
				}
				if live.check(c) {
					c.nc.SetReadDeadline(live.deadline(c.opts))
					continue
				}
				c.abort(errors.New(keepaliveReason(c.opts)))
			}
			c.dropped(err)
			return
		}
	}
}

// awaitServerClose gives the server a moment to close the TCP connection
// first (RFC 6455 section 7.1.1), reading and discarding until it does.
func (c *Conn) awaitServerClose() {
	c.nc.SetReadDeadline(time.Now().Add(min(c.opts.closeTimeout(), time.Second)))
	var b [256]byte
	for {
		if _, err := c.nc.Read(b[:]); err != nil {
			return
		}
	}
}

// readBufferSize is the size of the read buffers, shared through a pool.
const readBufferSize = 16 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}

// reader reads a connection into pooled buffers. On a socket it waits for
// bytes before it takes a buffer, so that an idle connection holds none;
// on other connections (TLS) it keeps one buffer.
type reader struct {
	nc  net.Conn
	rc  syscall.RawConn // nil when nc is not a socket
	buf *[]byte

	// The raw read's callback and results, made once, as a closure per
	// read would cost an allocation.
	fn     func(fd uintptr) bool
	direct []byte
	n      int
	err    error
}

func newReader(nc net.Conn) *reader {
	r := &reader{nc: nc}
	if sc, ok := nc.(syscall.Conn); ok && rawReads {
		r.rc, _ = sc.SyscallConn()
		r.fn = r.readFD
	}
	return r
}

// read returns the next bytes, valid until done. It returns no bytes with
// an error, io.EOF included, when the stream ends or fails.
//
// When direct is not nil the bytes are read into it instead: the protocol
// core's room for a large payload.
func (r *reader) read(direct []byte) ([]byte, error) {
	if r.rc == nil {
		dst := direct
		if dst == nil {
			if r.buf == nil {
				r.buf = readBufs.Get().(*[]byte)
			}
			dst = *r.buf
		}
		n, err := r.nc.Read(dst)
		if n > 0 {
			return dst[:n], nil
		}
		return nil, err
	}
	r.direct = direct
	err := r.rc.Read(r.fn)
	r.direct = nil
	switch {
	case err != nil:
		return nil, err
	case r.err != nil:
		return nil, os.NewSyscallError("read", r.err)
	case r.n <= 0:
		return nil, io.EOF
	case direct != nil:
		return direct[:r.n], nil
	}
	return (*r.buf)[:r.n], nil
}

// readFD reads the socket once it has bytes; it reports false to wait.
func (r *reader) readFD(fd uintptr) bool {
	dst := r.direct
	if dst == nil {
		if r.buf == nil {
			r.buf = readBufs.Get().(*[]byte)
		}
		dst = *r.buf
	}
	for {
		r.n, r.err = readRaw(fd, dst)
		if r.err != syscall.EINTR {
			break
		}
	}
	if r.err == syscall.EAGAIN {
		// Nothing yet: give the buffer back while we wait.
		if r.direct == nil {
			readBufs.Put(r.buf)
			r.buf = nil
		}
		return false
	}
	return true
}

// done returns a socket's buffer to the pool once its bytes are used.
func (r *reader) done() {
	if r.rc != nil && r.buf != nil {
		readBufs.Put(r.buf)
		r.buf = nil
	}
}

func (r *reader) release() {
	if r.buf != nil {
		readBufs.Put(r.buf)
		r.buf = nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
