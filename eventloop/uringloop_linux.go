//go:build linux

package eventloop

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// The io_uring transport: a loop waits on a ring instead of epoll. Each
// connection that is read has one receive in the ring, which takes a
// buffer from the loop's provided buffers only when bytes arrive, so an
// idle connection still holds none; completions for many connections are
// reaped together, and the receives they renew are submitted together
// with the next wait. A receive is renewed after each completion rather
// than left multishot, so that a paused connection takes in at most one
// more buffer, as one more read on epoll. Small writes are queued and
// sent through the ring, one send per connection at a time; large ones
// are tried with write(2) first. The acceptor keeps one accept in the
// ring; the wake-up pipe is polled through it.

// Kinds of requests, in the low bits of their user data; the rest holds
// the socket and its generation, as epoll events do.
const (
	kindIgnore = iota // cancellations
	kindWake
	kindListen
	kindRecv
	kindSend
	kindBits = 3
)

const (
	ringEntries = 4096
	ringBufSize = 16 << 10 // bytes each
	pollIn      = 0x1
)

// ringBufs is the number of provided buffers per loop, a power of 2 (a
// variable for the tests).
var ringBufs = 256

// uringLoop is the ring of a loop and what guards it.
type uringLoop struct {
	mu      sync.Mutex // guards the submission queue: conns change interest from any goroutine
	reaping bool       // the loop will submit before it waits; guarded by mu
	r       *ring
	bufs    *bufRing   // used by the loop's goroutine only
	nbufs   int        // how many
	sub     func(*cqe) // the loop's completion handler, made once

	// Connections whose receive found no free buffer, on the loop's
	// goroutine only. Their receives are renewed a few per turn, as
	// buffers come back: renewed all at once, on many busy connections,
	// nearly all would fail again. While some wait, the others queue
	// behind them, so that each gets its turn.
	starved []*conn

	// The bytes of sends still in the ring whose connection gave them up
	// (closed, or its writes failed), by the sends' user data: the kernel
	// may read them until the sends complete. Guarded by mu.
	orphans map[uint64][]byte

	// The acceptor's accept in the ring writes the peer's address here.
	peer    syscall.RawSockaddrAny
	peerLen uint32
}

// acceptNext puts the acceptor's next accept in the ring: one at a time,
// as each writes the peer's address to the same place.
func (u *uringLoop) acceptNext(lfd int) error {
	return u.prep(false, func(r *ring) error {
		return r.prepAcceptOne(lfd, &u.peer, &u.peerLen, userData(lfd, 0, kindListen))
	})
}

// peerAddr returns the address the last accept wrote.
func (u *uringLoop) peerAddr() netip.AddrPort {
	switch u.peer.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&u.peer))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&u.peer))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// rearmStarved renews the receives of up to half a ring's worth of
// connections that found no buffer.
func (u *uringLoop) rearmStarved() {
	n := min(len(u.starved), u.nbufs/2)
	for _, c := range u.starved[:n] {
		c.mu.Lock()
		c.flags &^= fRecv
		if c.flags&fFDClosed == 0 {
			c.setInterest()
		}
		c.mu.Unlock()
	}
	k := copy(u.starved, u.starved[n:])
	clear(u.starved[k:])
	u.starved = u.starved[:k]
}

func userData(fd int, gen uint32, kind uint64) uint64 {
	return uint64(gen)<<32 | uint64(fd)<<kindBits | kind
}

// newUringLoop sets up the ring of l.
func newUringLoop(l *loop) (*uringLoop, error) {
	r, err := newRing(ringEntries)
	if err != nil {
		return nil, err
	}
	nbufs := ringBufs
	b, err := r.newBufRing(0, nbufs, ringBufSize)
	if err != nil {
		r.close()
		return nil, err
	}
	u := &uringLoop{r: r, bufs: b, nbufs: nbufs}
	u.sub = l.completed
	return u, nil
}

func (u *uringLoop) close() {
	u.r.close() // ends every request in it
	u.bufs.free()
}

// prep prepares one request and submits it with what others prepared,
// unless the loop is about to submit; now submits it in any case.
func (u *uringLoop) prep(now bool, f func(*ring) error) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err := f(u.r); err != nil {
		return err
	}
	if u.reaping && !now {
		return nil // submitted with the loop's next wait
	}
	_, err := u.r.enter(u.r.pending, 0, nil)
	return err
}

func (u *uringLoop) pollAdd(fd int, mask uint32, ud uint64) error {
	return u.prep(false, func(r *ring) error {
		s, err := r.next()
		if err != nil {
			return err
		}
		s.opcode, s.fd, s.opFlags, s.userData = opPollAdd, int32(fd), mask, ud
		return nil
	})
}

// cancelFD ends the requests on fd before it is closed: each holds the
// file, which would keep the socket open. The cancellation finds them by
// descriptor, so it is submitted at once, while fd is still open.
func (u *uringLoop) cancelFD(fd int) {
	u.prep(true, func(r *ring) error { return r.prepCancelFD(fd, kindIgnore) })
}

// runRing is run for a loop on a ring.
func (l *loop) runRing() {
	// A request completes by work queued to the thread that submitted
	// it. The ring is set up so that this work waits for that thread's
	// next system call (IORING_SETUP_COOP_TASKRUN) rather than interrupt
	// it; the loop keeps no thread of its own, which would cost a thread
	// switch for every hand-over to a worker when GOMAXPROCS is 1.
	e := l.e
	u := l.u
	l.buf = make([]byte, readBufferSize)
	defer func() { l.buf = nil }()
	for !e.finished.Load() {
		if l.acceptor && l.lfd >= 0 && e.stoppingF.Load() {
			l.closeListener()
		}
		u.mu.Lock()
		u.reaping = true
		u.mu.Unlock()
		n := u.r.reap(u.sub)
		u.rearmStarved()
		if n > 0 {
			// The workers just given work run first: the receives the
			// completions renewed go in after their replies, when the
			// next bytes may be there already and complete at once.
			runtime.Gosched()
			u.r.reap(u.sub)
		}
		// Submit what the completions prepared; wait only if there were
		// none (one may have been the wake-up that ends the loop) and no
		// receive is left to renew (those renewed may find no bytes, and
		// then nothing would end the wait). As on epoll, yield before
		// blocking.
		wait, d := false, time.Duration(0)
		if n == 0 && len(u.starved) == 0 {
			if timeout := l.timeout(); timeout != 0 {
				runtime.Gosched()
				wait = true
				if timeout > 0 {
					d = time.Duration(timeout) * time.Millisecond
				}
			}
		}
		if err := l.submit(wait, d); err != nil {
			e.s.logf("eventloop: io_uring_enter: %v", err)
			e.fail(err)
			break
		}
		l.sweep()
	}
	if l.acceptor {
		l.closeListener()
	}
	l.closeFDs()
}

// submit submits what is prepared and, if wait, waits for a completion,
// at most d if d > 0.
func (l *loop) submit(wait bool, d time.Duration) error {
	u := l.u
	var arg *getEventsArg
	var ts syscall.Timespec
	if wait && d > 0 {
		ts = syscall.NsecToTimespec(int64(d))
		arg = &getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&ts)))}
	}
	u.mu.Lock()
	u.reaping = false
	submit := u.r.pending
	u.r.pending = 0
	u.r.publish()
	u.mu.Unlock()
	if submit == 0 && !wait {
		return nil
	}
	var min uint32
	if wait {
		min = 1
	}
	n, err := u.r.enterRaw(submit, min, arg)
	if n < int(submit) {
		u.mu.Lock()
		u.r.pending += submit - uint32(max(n, 0))
		u.mu.Unlock()
	}
	switch err {
	case nil, syscall.ETIME, syscall.EINTR, syscall.EBUSY, syscall.EAGAIN:
		return nil
	}
	return err
}

// completed handles one completion, on the loop's goroutine.
func (l *loop) completed(c *cqe) {
	ud := c.userData
	kind := ud & (1<<kindBits - 1)
	fd := int(uint32(ud) >> kindBits)
	gen := uint32(ud >> 32)
	var data []byte
	id := uint16(c.flags >> cqeBufShift)
	hasBuf := c.flags&cqeFBuffer != 0
	if hasBuf {
		data = l.u.bufs.buf(id, max(int(c.res), 0))
	}
	switch kind {
	case kindWake:
		var b [64]byte
		for {
			if n, _ := syscall.Read(l.rd, b[:]); n <= 0 {
				break
			}
		}
		l.u.pollAdd(l.rd, pollIn, userData(l.rd, 0, kindWake))
	case kindListen:
		switch {
		case l.lfd < 0:
			if c.res >= 0 {
				syscall.Close(int(c.res)) // accepted as the listener closed
			}
			return
		case c.res >= 0:
			l.admit(int(c.res), l.u.peerAddr())
		default:
			l.acceptFailed(syscall.Errno(-c.res))
		}
		if l.lnRetry == 0 {
			l.u.acceptNext(l.lfd)
		}
	case kindRecv:
		cn := l.e.table.get(fd)
		if cn != nil && cn.l == l && cn.gen == gen {
			cn.recvDone(c.res, c.flags&cqeFMore != 0, data)
		}
	case kindSend:
		cn := l.e.table.get(fd)
		if cn == nil || cn.l != l || cn.gen != gen || !cn.sendDone(c.res) {
			l.u.adopt(ud)
		}
	}
	if hasBuf {
		l.u.bufs.put(id)
	}
}

// recvDone takes a receive's completion.
func (c *conn) recvDone(res int32, more bool, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !more {
		c.flags &^= fRecv
	}
	if c.flags&fFDClosed != 0 {
		return
	}
	switch {
	case res > 0:
		if c.flags&fEOF == 0 {
			c.received(data)
			if len(data) == cap(data) && c.flags&(fHeld|fPaused) == 0 {
				// A full buffer: more bytes are likely waiting, a large
				// message. They are read at once, as on epoll, rather
				// than a loop turn per buffer.
				c.read(c.l.buf, false)
			}
		}
		if len(c.l.u.starved) > 0 && c.flags&fFDClosed == 0 {
			// Others wait for buffers: this one queues behind them.
			c.flags |= fRecv
			c.l.u.starved = append(c.l.u.starved, c)
			return
		}
	case res == 0:
		if c.flags&fEOF == 0 {
			c.flags |= fEOF
			c.ended()
		}
	case syscall.Errno(-res) == syscall.ENOBUFS:
		// No buffer free: renewed once some come back, the receive
		// counting as in the ring meanwhile.
		c.flags |= fRecv
		c.l.u.starved = append(c.l.u.starved, c)
		return
	case syscall.Errno(-res) == syscall.ECANCELED:
	default:
		if c.flags&fEOF == 0 {
			c.rerr = syscall.Errno(-res)
			c.flags |= fEOF
			c.ended()
		}
	}
	if c.flags&fFDClosed == 0 {
		c.setInterest()
	}
}

// ringSendMax is the size from which a write on io_uring is tried at once
// with write(2), as on epoll, what the socket does not take going to the
// ring: copying it into the queue would cost more than the call saved.
const ringSendMax = 16 << 10

// startSend puts a send of the queued bytes in the ring, unless one is
// there already. c.mu is held.
func (c *conn) startSend() {
	q := c.wq
	if c.flags&fSend != 0 || q == nil || len(q.buf) == 0 {
		return
	}
	q.sending, q.sent, q.buf = q.buf, 0, nil
	c.sendRest()
}

// sendRest puts a send of what is left of q.sending in the ring.
func (c *conn) sendRest() {
	q, u, fd := c.wq, c.l.u, int(c.fd)
	c.flags |= fSend
	err := u.prep(false, func(r *ring) error { return r.prepSend(fd, q.sending[q.sent:], userData(fd, c.gen, kindSend)) })
	if err != nil {
		c.flags &^= fSend
		c.sendEnded()
		c.failWrites()
	}
}

// sendEnded frees the bytes of a send no longer in the ring.
func (c *conn) sendEnded() {
	putBuf(c.wq.sending)
	c.wq.sending, c.wq.sent = nil, 0
}

// sendDone takes a send's completion, on the loop. It reports false if
// the connection gave up the send's bytes, which the loop then frees.
func (c *conn) sendDone(res int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flags &^= fSend
	q := c.wq
	if q == nil || q.sending == nil {
		return false
	}
	if res < 0 {
		c.sendEnded()
		c.failWrites()
		return true
	}
	q.sent += int(res)
	if q.sent < len(q.sending) {
		c.sendRest()
		return true
	}
	c.sendEnded()
	c.startSend()
	if c.queued() <= c.l.e.maxQueued {
		c.wakeWriters()
	}
	if c.queued() == 0 {
		c.wq = nil
		c.flushed()
	}
	return true
}

// orphanSend gives up the bytes of the send in the ring: the loop keeps
// them until the send completes. c.mu is held.
func (c *conn) orphanSend() {
	u := c.l.u
	u.mu.Lock()
	if u.orphans == nil {
		u.orphans = map[uint64][]byte{}
	}
	u.orphans[userData(int(c.fd), c.gen, kindSend)] = c.wq.sending
	u.mu.Unlock()
	c.wq.sending = nil
}

// adopt frees the bytes of a completed send that their connection gave up.
func (u *uringLoop) adopt(ud uint64) {
	u.mu.Lock()
	b, ok := u.orphans[ud]
	delete(u.orphans, ud)
	u.mu.Unlock()
	if ok {
		putBuf(b)
	}
}

// setRingInterest starts the requests the connection needs. c.mu is held.
func (c *conn) setRingInterest(want uint32) {
	u := c.l.u
	fd := int(c.fd)
	// A receive in the ring when reading stops is left to complete: it
	// brings one buffer at most, and is not renewed.
	if want&syscall.EPOLLIN != 0 && c.flags&fRecv == 0 {
		c.flags |= fRecv
		u.prep(false, func(r *ring) error { return r.prepRecv(fd, u.bufs.group, false, userData(fd, c.gen, kindRecv)) })
	}
	c.interest = want // output needs no poll: sends are in the ring
}

// startRing sets up l on a ring, polling its wake-up pipe and, on the
// acceptor, the listener.
func (l *loop) startRing(acceptor bool) error {
	u, err := newUringLoop(l)
	if err != nil {
		l.closeFDs()
		return err
	}
	l.u = u
	err = u.pollAdd(l.rd, pollIn, userData(l.rd, 0, kindWake))
	if err == nil && acceptor {
		l.lfd = l.e.lfd
		err = u.acceptNext(l.lfd)
	}
	if err != nil {
		l.lfd = -1
		l.closeFDs()
		return fmt.Errorf("eventloop: io_uring: %w", err)
	}
	return nil
}

// probeUring reports why io_uring cannot serve here, if it cannot: the
// kernel lacks it or a feature used, or a policy refuses it.
func probeUring() error {
	r, err := newRing(8)
	if err != nil {
		return err
	}
	defer r.close()
	b, err := r.newBufRing(0, 8, 4096)
	if err != nil {
		return err
	}
	b.free()
	return nil
}

// UringAvailable reports whether Engine "uring" would run on io_uring
// here rather than fall back to epoll.
func UringAvailable() bool { return probeUring() == nil }
