//go:build linux

package eventloop

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/wsd-go/wsd/internal/transport"
)

type connState uint8

const (
	stHeader  connState = iota // reading the request
	stHandler                  // request read; the handler is queued or running
	stWS                       // attached to a WebSocket connection
	stLinger                   // HTTP answer given; waiting for the peer to close
)

// Flags of a conn.
const (
	fScheduled       uint16 = 1 << iota // queued on or run by a worker
	fPaused                             // reading stopped: too many bytes pending
	fEOF                                // the peer's stream ended, or reading failed
	fClosed                             // Close was called: writes fail, Dropped follows
	fFDClosed                           // the socket is closed
	fOver                               // the WebSocket connection is over
	fHandled                            // the handler was started
	fWDead                              // a write failed; nothing more can be written
	fCloseAfterFlush                    // close the socket once the queue is written
	fInHTTP                             // counted in engine.httpActive
	fDetached                           // removed from the epoll set
	fHeld                               // reading stopped: the application has not caught up
	fRecv                               // io_uring: a receive is in the ring
	fSend                               // io_uring: a send is in the ring
)

// conn is the engine's state for one connection, and the net.Conn a wsd
// connection writes to. An idle WebSocket connection holds no buffer:
// in and wq are nil unless bytes are waiting.
type conn struct {
	l        *loop
	fd       int32
	gen      uint32 // tells this socket from earlier ones of the same fd
	interest uint32 // epoll events registered
	flags    uint16
	rerr     syscall.Errno // the error that ended reading, if any
	state    connState
	scanned  int32 // bytes of in searched for the end of the request
	mu       sync.Mutex
	peer     netip.AddrPort
	in       []byte         // stHeader: the request so far; then bytes not yet fed
	wq       *writeQueue    // nil unless the socket would not take all
	wdl      atomic.Int64   // write deadline, Unix nanoseconds; 0 for none
	wc       transport.Conn // the WebSocket connection, once attached
	req      *http.Request  // read, until its handler starts
}

// writeQueue holds what the socket would not take yet.
type writeQueue struct {
	buf   []byte
	ready chan struct{} // closed when buf shrinks, for waiting writers

	// io_uring: the bytes a send in the ring is writing, and how many of
	// them are written. The kernel reads them until it completes.
	sending []byte
	sent    int
}

func (c *conn) queued() int {
	if c.wq == nil {
		return 0
	}
	return len(c.wq.buf) + len(c.wq.sending) - c.wq.sent
}

var errEngineReads = errors.New("eventloop: the connection is read by the engine")

// event handles readiness reported by epoll, on the connection's loop.
func (c *conn) event(ev uint32, buf []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flags&fFDClosed != 0 {
		return
	}
	hup := ev&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	if ev&syscall.EPOLLOUT != 0 || hup && c.queued() > 0 {
		c.flush()
	}
	if ev&syscall.EPOLLIN != 0 || hup {
		c.read(buf, hup)
	}
	if hup && c.flags&fFDClosed == 0 {
		// The socket is dead both ways: epoll would report it again and
		// again, so leave the set; the connection ends when closed.
		if c.flags&fEOF == 0 {
			c.flags |= fEOF
			c.ended()
		}
		if c.flags&fFDClosed == 0 {
			c.detach()
			c.failWrites()
		}
	}
}

// read reads what the socket has, into the loop's buffer.
func (c *conn) read(buf []byte, hup bool) {
	for range 64 {
		if c.flags&(fEOF|fFDClosed) != 0 || c.flags&fPaused != 0 && !hup {
			return
		}
		n, err := syscall.Read(int(c.fd), buf)
		if n > 0 {
			c.received(buf[:n])
			if n < len(buf) && !hup {
				return
			}
			continue
		}
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return
		}
		if errno, ok := err.(syscall.Errno); ok {
			c.rerr = errno
		}
		c.flags |= fEOF
		c.ended()
		return
	}
}

// received takes bytes read from the socket.
func (c *conn) received(data []byte) {
	switch c.state {
	case stHeader:
		// Exact size rather than a pooled buffer: a slow client holds
		// only the bytes it sent until the handshake timeout.
		c.in = append(c.in, data...)
		c.parse()
	case stLinger:
		// discarded: the answer is given
	default:
		if c.flags&(fOver|fClosed) != 0 {
			return
		}
		c.in = appendBuf(c.in, data)
		if len(c.in) >= c.l.e.maxPending && c.flags&fPaused == 0 {
			c.flags |= fPaused
			c.setInterest()
		}
		c.schedule()
	}
}

// ended handles the end of the peer's stream.
func (c *conn) ended() {
	c.setInterest()
	switch c.state {
	case stHeader, stLinger:
		if c.queued() == 0 {
			c.closeFD()
		}
	default:
		if c.flags&fOver == 0 {
			c.schedule() // Dropped follows the pending bytes
		}
	}
}

func (c *conn) schedule() {
	if c.flags&fScheduled == 0 {
		c.flags |= fScheduled
		c.l.e.pool.submit(c)
	}
}

// setInterest registers the events the connection waits for.
func (c *conn) setInterest() {
	if c.flags&(fFDClosed|fDetached) != 0 {
		return
	}
	var want uint32
	if c.flags&(fEOF|fPaused|fHeld) == 0 {
		want |= syscall.EPOLLIN
	}
	if c.queued() > 0 {
		want |= syscall.EPOLLOUT
	}
	if c.l.u != nil {
		c.setRingInterest(want)
		return
	}
	if want != c.interest {
		c.interest = want
		epollCtl(c.l.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), want, c.gen)
	}
}

func (c *conn) detach() {
	if c.flags&(fFDClosed|fDetached) == 0 {
		c.flags |= fDetached
		if c.l.u != nil {
			c.l.u.cancelFD(int(c.fd))
			return
		}
		syscall.EpollCtl(c.l.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
	}
}

// process runs on a worker: the handler, if the request is read, then the
// pending bytes through the WebSocket connection, in order.
func (c *conn) process() {
	c.mu.Lock()
	if c.state == stHandler && c.flags&fHandled == 0 {
		c.flags |= fHandled
		req := c.req
		c.req = nil
		c.mu.Unlock()
		c.serve(req)
		c.mu.Lock()
	}
	for range 8 {
		if c.state != stWS || c.flags&fOver != 0 {
			c.flags &^= fScheduled
			c.mu.Unlock()
			return
		}
		if c.flags&(fHeld|fClosed) == fHeld {
			// The application has not caught up: the pending bytes wait
			// for Release.
			c.flags &^= fScheduled
			c.mu.Unlock()
			return
		}
		data := c.in
		if c.flags&fClosed != 0 || len(data) == 0 && c.flags&fEOF != 0 {
			// The stream ended (closed by us, or by the peer once its
			// bytes are fed): tell the connection.
			putBuf(data)
			c.in = nil
			c.flags |= fOver
			c.flags &^= fScheduled
			wc := c.wc
			c.wc = nil
			err := c.readEnd()
			c.mu.Unlock()
			wc.Dropped(err)
			return
		}
		if len(data) == 0 {
			c.flags &^= fScheduled
			c.mu.Unlock()
			return
		}
		c.in = nil
		if c.flags&fPaused != 0 {
			c.flags &^= fPaused
			c.setInterest()
		}
		wc := c.wc
		c.mu.Unlock()
		over := wc.Feed(data)
		putBuf(data)
		c.mu.Lock()
		if over {
			c.flags |= fOver
			c.wc = nil
			putBuf(c.in)
			c.in = nil
		}
	}
	// More to do: let other connections have a turn.
	c.mu.Unlock()
	c.l.e.pool.submit(c)
}

// Write writes b to the socket, or queues what the socket will not take
// yet, at most MaxQueuedBytes: the rest waits for room, each wait for
// progress bounded by WriteTimeout and by the write deadline.
func (c *conn) Write(b []byte) (int, error) {
	if dl := c.wdl.Load(); dl != 0 && time.Now().UnixNano() >= dl {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	done := 0
	for {
		n, err := c.writeSome(b[done:])
		done += n
		if err != nil || done == len(b) {
			return done, err
		}
		if err := c.waitRoom(); err != nil {
			return done, err
		}
	}
}

// writeDirect writes to the socket what it takes now, unless bytes are
// queued already, which must go first.
func (c *conn) writeDirect(b []byte) (int, error) {
	n := 0
	for c.queued() == 0 && n < len(b) {
		k, err := syscall.Write(int(c.fd), b[n:])
		if k > 0 {
			n += k
			continue
		}
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return n, nil
		case nil:
			err = syscall.EIO
		}
		c.flags |= fWDead
		return n, c.opError("write", err)
	}
	return n, nil
}

// writeSome writes what the socket takes and queues what fits under
// MaxQueuedBytes, returning how much of b it took.
func (c *conn) writeSome(b []byte) (int, error) {
	if c.flags&(fClosed|fFDClosed) != 0 {
		return 0, c.opError("write", net.ErrClosed)
	}
	if c.flags&fWDead != 0 {
		return 0, c.opError("write", syscall.EPIPE)
	}
	n := 0
	if c.l.u == nil || len(b) >= ringSendMax {
		var err error
		if n, err = c.writeDirect(b); err != nil {
			return n, err
		}
	}
	room := min(len(b)-n, c.l.e.maxQueued-c.queued())
	if room > 0 {
		if c.wq == nil {
			c.wq = &writeQueue{}
		}
		c.wq.buf = appendBuf(c.wq.buf, b[n:n+room])
		n += room
		c.queuedMore()
	}
	return n, nil
}

// queuedMore acts on bytes added to the queue: on io_uring a send takes
// them, on epoll the loop waits for room.
func (c *conn) queuedMore() {
	if c.l.u != nil {
		c.startSend()
		return
	}
	c.setInterest()
}

// waitRoom waits, with c.mu held on entry and exit, until the queue has
// room, failing the writes if no room comes in time.
func (c *conn) waitRoom() error {
	limit := c.l.e.wto
	if dl := c.wdl.Load(); dl != 0 {
		limit = min(limit, time.Until(time.Unix(0, dl)))
	}
	if limit <= 0 {
		return c.opError("write", os.ErrDeadlineExceeded)
	}
	if c.wq.ready == nil {
		c.wq.ready = make(chan struct{})
	}
	ch := c.wq.ready
	c.mu.Unlock()
	timer := time.NewTimer(limit)
	timedOut := false
	select {
	case <-ch:
	case <-timer.C:
		timedOut = true
	}
	timer.Stop()
	c.mu.Lock()
	if c.flags&(fClosed|fWDead|fFDClosed) != 0 {
		return c.opError("write", net.ErrClosed)
	}
	if timedOut && c.queued() >= c.l.e.maxQueued {
		c.failWrites()
		return c.opError("write", stalledError{limit})
	}
	return nil
}

// writeLocked writes b, queueing the rest if the socket is full.
func (c *conn) writeLocked(b []byte) error {
	if c.flags&(fClosed|fFDClosed) != 0 {
		return c.opError("write", net.ErrClosed)
	}
	if c.flags&fWDead != 0 {
		return c.opError("write", syscall.EPIPE)
	}
	if c.l.u == nil || len(b) >= ringSendMax {
		n, err := c.writeDirect(b)
		if err != nil || n == len(b) {
			return err
		}
		b = b[n:]
	}
	if c.wq == nil {
		c.wq = &writeQueue{}
	}
	c.wq.buf = appendBuf(c.wq.buf, b)
	c.queuedMore()
	return nil
}

// flush writes queued bytes, on the loop.
func (c *conn) flush() {
	q := c.wq
	if q == nil {
		return
	}
	done := 0
	for done < len(q.buf) {
		n, err := syscall.Write(int(c.fd), q.buf[done:])
		if n > 0 {
			done += n
			continue
		}
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			break
		}
		c.failWrites()
		return
	}
	if done == len(q.buf) {
		putBuf(q.buf)
		q.buf = nil
	} else if done > 0 {
		q.buf = q.buf[:copy(q.buf, q.buf[done:])]
	}
	if len(q.buf) <= c.l.e.maxQueued {
		c.wakeWriters()
	}
	if len(q.buf) == 0 {
		c.wq = nil
	}
	c.setInterest()
	if c.wq == nil {
		c.flushed()
	}
}

// flushed acts on an emptied queue.
func (c *conn) flushed() {
	switch {
	case c.flags&fCloseAfterFlush != 0:
		c.closeFD()
	case c.state == stLinger:
		if c.flags&fEOF != 0 {
			c.closeFD()
		} else {
			syscall.Shutdown(int(c.fd), syscall.SHUT_WR)
		}
	}
}

// failWrites gives up on the queued bytes.
func (c *conn) failWrites() {
	c.flags |= fWDead
	c.dropQueue()
	c.setInterest()
	if c.flags&fCloseAfterFlush != 0 || c.state == stLinger {
		c.closeFD()
	}
}

func (c *conn) wakeWriters() {
	if c.wq != nil && c.wq.ready != nil {
		close(c.wq.ready)
		c.wq.ready = nil
	}
}

func (c *conn) dropQueue() {
	if c.wq != nil {
		putBuf(c.wq.buf)
		if c.wq.sending != nil {
			c.orphanSend()
		}
		c.wakeWriters()
		c.wq = nil
	}
}

// Close closes the connection once its queued bytes are written, within
// WriteTimeout. A WebSocket connection is told Dropped, unless its Feed
// already reported the end. Close may be called any number of times.
func (c *conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flags&fClosed != 0 {
		return nil
	}
	c.flags |= fClosed
	c.wakeWriters() // a write waiting for room fails now
	if c.state == stWS && c.flags&fOver == 0 {
		c.schedule()
	}
	if c.queued() > 0 && c.flags&(fWDead|fFDClosed) == 0 {
		c.flags |= fCloseAfterFlush | fPaused
		c.setInterest()
		c.l.addTimer(&c.l.linger, c, c.l.e.now()+int64(c.l.e.wto), false)
		return nil
	}
	c.closeFD()
	return nil
}

// Hold stops reading the connection until Release: the application has
// not taken what arrived. Bytes already read wait.
func (c *conn) Hold() {
	c.mu.Lock()
	c.flags |= fHeld
	c.setInterest()
	c.mu.Unlock()
}

// Release reads the connection again after Hold, starting with the bytes
// that waited.
func (c *conn) Release() {
	c.mu.Lock()
	if c.flags&fHeld != 0 {
		c.flags &^= fHeld
		c.setInterest()
		if c.state == stWS && c.flags&fOver == 0 && (len(c.in) > 0 || c.flags&(fEOF|fClosed) != 0) {
			c.schedule()
		}
	}
	c.mu.Unlock()
}

// Abort closes the connection now, dropping queued bytes: a wsd connection
// cut for a dead peer has nothing worth flushing.
func (c *conn) Abort() error {
	c.mu.Lock()
	c.abort()
	c.mu.Unlock()
	return nil
}

// readEnd returns why the stream ended, for Dropped.
func (c *conn) readEnd() error {
	switch {
	case c.rerr != 0:
		return c.opError("read", c.rerr)
	case c.flags&fEOF != 0 && c.flags&fClosed == 0:
		return io.EOF
	}
	return net.ErrClosed
}

// abort closes the connection now, dropping queued bytes.
func (c *conn) abort() {
	if c.flags&fFDClosed != 0 {
		return
	}
	c.flags |= fClosed
	if c.state == stWS && c.flags&fOver == 0 {
		c.schedule()
	}
	c.closeFD()
}

// closeFD closes the socket. Work for the connection must be queued
// before, as the last socket of a stopped engine ends its workers.
func (c *conn) closeFD() {
	if c.flags&fFDClosed != 0 {
		return
	}
	c.flags |= fFDClosed | fClosed
	// The queue goes first: bytes of a send in the ring are handed to
	// the loop before it can find the connection gone.
	c.dropQueue()
	c.l.e.table.del(int(c.fd), c)
	if c.l.u != nil && c.flags&(fRecv|fSend) != 0 {
		c.l.u.cancelFD(int(c.fd))
		// A request whose completion is under way when the cancellation
		// comes ends only once its thread runs it, and holds the socket
		// open until then: the peer must see the end now.
		syscall.Shutdown(int(c.fd), syscall.SHUT_RDWR)
	}
	syscall.Close(int(c.fd))
	if c.state == stHeader || c.state == stLinger {
		c.in = nil
	}
	c.doneHTTP()
	c.l.e.connGone()
}

func (c *conn) doneHTTP() {
	if c.flags&fInHTTP != 0 {
		c.flags &^= fInHTTP
		c.l.e.httpActive.Add(-1)
	}
}

// linger ends an HTTP exchange: once the answer is written, the write side
// is shut and what the peer still sends is read and dropped until it
// closes, so that it does not get a reset before reading the answer.
func (c *conn) linger() {
	c.state = stLinger
	c.req = nil
	if c.flags&fFDClosed != 0 {
		return
	}
	putBuf(c.in)
	c.in = nil
	c.flags &^= fPaused
	c.setInterest()
	// A long answer gets WriteTimeout to be written, then the linger.
	d := lingerTimeout
	if c.queued() > 0 {
		d += c.l.e.wto
	}
	c.l.addTimer(&c.l.linger, c, c.l.e.now()+int64(d), false)
	if c.queued() == 0 {
		c.flushed()
	}
}

func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// stalledError reports a write given up on a peer that stopped reading. It
// is a timeout, as net.Error sees it, and an os.ErrDeadlineExceeded.
type stalledError struct{ limit time.Duration }

func (e stalledError) Error() string {
	return fmt.Sprintf("peer not reading for %v: %v", e.limit, os.ErrDeadlineExceeded)
}
func (stalledError) Timeout() bool        { return true }
func (stalledError) Temporary() bool      { return true }
func (stalledError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

func (c *conn) network() string {
	if c.l.e.unix {
		return "unix"
	}
	return "tcp"
}

// Read is not used: the engine reads the socket and feeds the connection.
func (c *conn) Read([]byte) (int, error) { return 0, errEngineReads }

// LocalAddr returns the local address of the connection.
func (c *conn) LocalAddr() net.Addr { return c.l.e.ln.Addr() }

// RemoteAddr returns the peer's address.
func (c *conn) RemoteAddr() net.Addr {
	if c.peer.IsValid() {
		return net.TCPAddrFromAddrPort(c.peer)
	}
	return &net.UnixAddr{Net: "unix"}
}

// SetDeadline sets the write deadline; see SetReadDeadline.
func (c *conn) SetDeadline(t time.Time) error { return c.SetWriteDeadline(t) }

// SetReadDeadline does nothing: the engine does the reading, and bounds
// only the wait for the request (Server.ReadHeaderTimeout).
func (c *conn) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline bounds writes that wait for room, besides
// Server.WriteTimeout; a write after the deadline fails at once.
func (c *conn) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		c.wdl.Store(0)
	} else {
		c.wdl.Store(t.UnixNano())
	}
	// A write waiting for room looks at the new deadline.
	c.mu.Lock()
	c.wakeWriters()
	c.mu.Unlock()
	return nil
}

func addrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// Buffers for pending and queued bytes come from pools by power-of-two
// size, so that a connection holds one only while bytes wait in it, and a
// large message read in several pieces does not leave garbage behind.
const (
	minBufShift = 12 // 4 KiB
	maxBufShift = 21 // 2 MiB; larger buffers are left to the collector
)

// The pools hold the buffers' first bytes: a pointer fits an interface
// without an allocation, and the class gives the length back.
var bufPools [maxBufShift - minBufShift + 1]sync.Pool

func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// appendBuf appends data to b, taking b from the pools when it is nil or
// too small.
func appendBuf(b, data []byte) []byte {
	n := len(b) + len(data)
	if n <= cap(b) {
		return append(b, data...)
	}
	var nb []byte
	if c := bufClass(n); c < len(bufPools) {
		size := 1 << (c + minBufShift)
		if p, ok := bufPools[c].Get().(*byte); ok {
			nb = unsafe.Slice(p, size)[:0]
		} else {
			nb = make([]byte, 0, size)
		}
	} else {
		nb = make([]byte, 0, n+n/2)
	}
	nb = append(append(nb, b...), data...)
	putBuf(b)
	return nb
}

// putBuf gives a buffer of appendBuf back to its pool.
func putBuf(b []byte) {
	n := cap(b)
	if n < 1<<minBufShift || n > 1<<maxBufShift || n&(n-1) != 0 {
		return
	}
	bufPools[bufClass(n)].Put(unsafe.SliceData(b[:1]))
}
