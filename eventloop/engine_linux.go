//go:build linux

package eventloop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Serve accepts connections on ln, a TCP or Unix listener, and serves them
// from the event loops until Shutdown or Close; it then returns
// ErrServerClosed. Serve takes ln over: the engine accepts on a duplicate
// of its socket, and closes ln when it stops.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.check(ln); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	closed := s.shutdown
	s.mu.Unlock()
	if closed {
		ln.Close()
		return ErrServerClosed
	}
	lfd, unix, err := listenerFD(ln)
	if err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.shutdown || s.eng != nil {
		closed := s.shutdown
		s.mu.Unlock()
		syscall.Close(lfd)
		ln.Close()
		if closed {
			return ErrServerClosed
		}
		return errors.New("eventloop: Serve called twice on one Server")
	}
	e, err := newEngine(s, ln, lfd, unix)
	if err != nil {
		s.mu.Unlock()
		syscall.Close(lfd)
		ln.Close()
		return err
	}
	s.eng = e
	s.mu.Unlock()
	e.start()
	<-e.lnDone
	if err := e.fatal.Load(); err != nil {
		return *err
	}
	return ErrServerClosed
}

// Shutdown stops the server gracefully: it closes the listener and the
// connections that have not sent a whole request, and waits for the
// requests being handled to be answered, or for ctx to end. WebSocket
// connections are left running, as net/http leaves hijacked connections:
// close them with 1001 (wsd.Conn.Close) after Shutdown. The engine's loops
// and workers exit once the last connection has ended.
func (s *Server) Shutdown(ctx context.Context) error {
	e := s.stopping()
	if e == nil {
		return nil
	}
	e.stop(false)
	wait := time.Millisecond
	for {
		e.closeIdle()
		if e.httpActive.Load() == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Close stops the server at once: it closes the listener and every
// connection. WebSocket connections end with close code 1006, as when the
// network drops them.
func (s *Server) Close() error {
	if e := s.stopping(); e != nil {
		e.stop(true)
	}
	return nil
}

func (s *Server) stopping() *engine {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	return s.eng
}

// listenerFD returns a non-blocking duplicate of ln's socket.
func listenerFD(ln net.Listener) (fd int, unix bool, err error) {
	switch ln.(type) {
	case *net.TCPListener:
	case *net.UnixListener:
		unix = true
	default:
		return -1, false, fmt.Errorf("eventloop: cannot serve on a %T: the engine needs a *net.TCPListener or *net.UnixListener", ln)
	}
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		return -1, false, err
	}
	fd = -1
	var derr error
	cerr := rc.Control(func(s uintptr) {
		syscall.ForkLock.RLock()
		fd, derr = syscall.Dup(int(s))
		if derr == nil {
			syscall.CloseOnExec(fd)
		}
		syscall.ForkLock.RUnlock()
	})
	if cerr != nil {
		return -1, false, cerr
	}
	if derr != nil {
		return -1, false, fmt.Errorf("eventloop: dup listener: %w", derr)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, false, err
	}
	return fd, unix, nil
}

// engine is one run of a Server.
type engine struct {
	s       *Server
	handler http.Handler
	ln      net.Listener
	lfd     int
	unix    bool
	loops   []*loop
	next    atomic.Uint32
	pool    pool
	base    time.Time
	ctx     context.Context
	cancel  context.CancelFunc

	rht        int64 // read header timeout, ns
	wto        time.Duration
	maxHeader  int
	maxPending int
	maxQueued  int

	acceptMu   sync.Mutex // orders accepting against stopping
	stoppingF  atomic.Bool
	finished   atomic.Bool
	live       atomic.Int64 // open sockets
	httpActive atomic.Int64 // connections before or in their HTTP handler
	lnOnce     sync.Once
	lnDone     chan struct{} // closed when stopping: Serve returns
	lfdOnce    sync.Once
	lfdClosed  chan struct{} // closed once the acceptor closed its socket
	fatal      atomic.Pointer[error]
	wg         sync.WaitGroup // loops

	table fdTable
	gens  atomic.Uint32 // generations of connections, see conn.gen
	uring bool          // loops run on io_uring
}

func newEngine(s *Server, ln net.Listener, lfd int, unix bool) (*engine, error) {
	e := &engine{
		s:          s,
		handler:    s.handler(),
		ln:         ln,
		lfd:        lfd,
		unix:       unix,
		base:       time.Now(),
		rht:        int64(s.readHeaderTimeout()),
		wto:        s.writeTimeout(),
		maxHeader:  s.maxHeaderBytes(),
		maxPending: s.maxPending(),
		maxQueued:  s.maxQueued(),
		lnDone:     make(chan struct{}),
		lfdClosed:  make(chan struct{}),
	}
	switch s.Engine {
	case "", "epoll":
	case "uring":
		if err := probeUring(); err != nil {
			s.logf("eventloop: %v; serving with epoll instead", err)
		} else {
			e.uring = true
		}
	default:
		return nil, fmt.Errorf("eventloop: unknown Engine %q: want epoll or uring", s.Engine)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.pool.init(s.workers())
	for i := range s.loops() {
		l, err := newLoop(e, i == 0)
		if err != nil {
			for _, l := range e.loops {
				l.closeFDs()
			}
			e.cancel()
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	return e, nil
}

func (e *engine) start() {
	for _, l := range e.loops {
		e.wg.Add(1)
		go l.run()
	}
}

// now is the engine's monotonic clock, in nanoseconds.
func (e *engine) now() int64 { return int64(time.Since(e.base)) }

func (e *engine) stop(abort bool) {
	e.stopAccepting()
	// The acceptor closes its copy of the listening socket when woken;
	// once it has, no connection can come in.
	<-e.lfdClosed
	e.stopRest(abort)
}

func (e *engine) stopAccepting() {
	e.acceptMu.Lock()
	e.stoppingF.Store(true)
	e.acceptMu.Unlock()
	e.lnOnce.Do(func() {
		e.ln.Close()
		close(e.lnDone)
	})
	e.loops[0].wake()
}

func (e *engine) stopRest(abort bool) {
	if abort {
		e.table.each(func(c *conn) {
			c.mu.Lock()
			c.abort()
			c.mu.Unlock()
		})
	}
	e.maybeFinish()
}

// closeIdle closes the connections that are not handling a request: those
// still sending one, and those whose answer is sent.
func (e *engine) closeIdle() {
	e.table.each(func(c *conn) {
		c.mu.Lock()
		if c.state == stHeader || c.state == stLinger && c.queued() == 0 {
			c.abort()
		}
		c.mu.Unlock()
	})
}

// fail stops the engine after a loop failed; it runs on that loop.
func (e *engine) fail(err error) {
	e.fatal.CompareAndSwap(nil, &err)
	e.stopAccepting()
	e.stopRest(true)
}

// connGone counts a closed socket; after a stop, the last one ends the
// loops and workers.
func (e *engine) connGone() {
	if e.live.Add(-1) == 0 {
		e.maybeFinish()
	}
}

func (e *engine) maybeFinish() {
	if !e.stoppingF.Load() || e.live.Load() != 0 || !e.finished.CompareAndSwap(false, true) {
		return
	}
	e.cancel()
	for _, l := range e.loops {
		l.wake()
	}
	e.pool.stop()
}

// loop is one event loop: an epoll instance, its connections, and the
// read buffer they share.
type loop struct {
	e        *engine
	epfd     int
	rd       int          // wake-up pipe, read end
	wmu      sync.RWMutex // guards wr against closing while waking
	wr       int          // wake-up pipe, write end; -1 once the loop is gone
	acceptor bool
	lfd      int // the listener's socket on the acceptor, or -1
	lnRetry  int64
	u        *uringLoop // the ring, when the loop runs on io_uring instead of epoll
	buf      []byte
	expired  []timerEntry

	mu     sync.Mutex // guards the queues
	hs     timerQueue // connections reading their request
	linger timerQueue // connections draining or flushing before close
}

// readBufferSize is the size of the buffer each loop reads into.
const readBufferSize = 64 << 10

// lingerTimeout bounds the wait for a peer to close after an HTTP answer.
const lingerTimeout = 2 * time.Second

func newLoop(e *engine, acceptor bool) (*loop, error) {
	l := &loop{e: e, acceptor: acceptor, lfd: -1, epfd: -1, rd: -1, wr: -1}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("eventloop: pipe2: %w", err)
	}
	l.rd, l.wr = p[0], p[1]
	if e.uring {
		return l, l.startRing(acceptor)
	}
	var err error
	if l.epfd, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("eventloop: epoll_create1: %w", err)
	}
	if err = epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, l.rd, syscall.EPOLLIN, 0); err != nil {
		l.closeFDs()
		return nil, err
	}
	if acceptor {
		if err = epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, e.lfd, syscall.EPOLLIN, 0); err != nil {
			l.closeFDs()
			return nil, err
		}
		l.lfd = e.lfd
	}
	return l, nil
}

// epollCtl registers fd with gen in the event's data, so that an event
// read for an earlier socket of the same number is recognised as stale.
func epollCtl(epfd, op, fd int, events uint32, gen uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(gen)}
	if err := syscall.EpollCtl(epfd, op, fd, &ev); err != nil {
		return fmt.Errorf("eventloop: epoll_ctl: %w", err)
	}
	return nil
}

// closeFDs closes the loop's epoll instance and wake-up pipe. The
// listening socket is closed apart: by closeListener, or by Serve if the
// engine never started.
func (l *loop) closeFDs() {
	l.wmu.Lock()
	wr := l.wr
	l.wr = -1
	l.wmu.Unlock()
	if l.u != nil {
		l.u.close()
		l.u = nil
	}
	for _, fd := range []int{l.epfd, l.rd, wr} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
}

func (l *loop) wake() {
	l.wmu.RLock()
	if l.wr >= 0 {
		var b = [1]byte{1}
		syscall.Write(l.wr, b[:]) // a full pipe means a wake-up is pending already
	}
	l.wmu.RUnlock()
}

func (l *loop) run() {
	defer l.e.wg.Done()
	if l.u != nil {
		l.runRing()
		return
	}
	l.buf = make([]byte, readBufferSize)
	events := make([]syscall.EpollEvent, 256)
	e := l.e
	for !e.finished.Load() {
		if l.acceptor && l.lfd >= 0 && e.stoppingF.Load() {
			l.closeListener()
		}
		// Look without blocking first. If nothing is ready, yield before
		// blocking: epoll_wait keeps this goroutine's P while it sleeps,
		// until the runtime takes it back, and the workers just given
		// work would wait for it.
		n, err := syscall.EpollWait(l.epfd, events, 0)
		if n == 0 && err == nil {
			if timeout := l.timeout(); timeout != 0 {
				runtime.Gosched()
				n, err = syscall.EpollWait(l.epfd, events, timeout)
			}
		}
		if err != nil && err != syscall.EINTR {
			e.s.logf("eventloop: epoll_wait: %v", err)
			e.fail(fmt.Errorf("eventloop: epoll_wait: %w", err))
			break
		}
		for i := range n {
			ev := &events[i]
			fd := int(ev.Fd)
			switch {
			case fd == l.rd:
				var b [64]byte
				for {
					if n, _ := syscall.Read(l.rd, b[:]); n <= 0 {
						break
					}
				}
			case fd == l.lfd:
				l.accept()
			default:
				if c := l.owner(ev); c != nil {
					c.event(ev.Events, l.buf)
				}
			}
		}
		l.sweep()
	}
	l.buf = nil
	if l.acceptor {
		l.closeListener()
	}
	l.closeFDs()
}

// owner returns the connection an event is for, or nil if the event is
// stale: its socket was closed, by a worker, after epoll reported it, and
// the number may already belong to a new connection.
func (l *loop) owner(ev *syscall.EpollEvent) *conn {
	c := l.e.table.get(int(ev.Fd))
	if c == nil || c.l != l || c.gen != uint32(ev.Pad) {
		return nil
	}
	return c
}

// closeListener closes the acceptor's copy of the listening socket.
func (l *loop) closeListener() {
	if l.lfd >= 0 {
		// Take, and close, what completed its TCP handshake: closing the
		// listener would reset it.
		l.accept()
		if l.u != nil {
			l.u.cancelFD(l.lfd)
		}
		syscall.Close(l.lfd) // also leaves the epoll set
		l.lfd = -1
	}
	l.e.lfdOnce.Do(func() { close(l.e.lfdClosed) })
}

// timeout returns the epoll_wait timeout in milliseconds: until the next
// deadline, or -1 for none.
func (l *loop) timeout() int {
	next := int64(-1)
	l.mu.Lock()
	for _, q := range []*timerQueue{&l.hs, &l.linger} {
		if at, ok := q.peek(); ok && (next < 0 || at < next) {
			next = at
		}
	}
	l.mu.Unlock()
	if l.lnRetry != 0 && (next < 0 || l.lnRetry < next) {
		next = l.lnRetry
	}
	if next < 0 {
		return -1
	}
	d := next - l.e.now()
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// accept takes the pending connections and hands them to the loops in
// turn.
func (l *loop) accept() {
	for range 128 {
		nfd, sa, err := syscall.Accept4(l.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			if l.acceptFailed(err) {
				continue
			}
			return
		}
		l.admit(nfd, addrPort(sa))
	}
}

// acceptFailed handles an accept's error; it reports whether to go on.
func (l *loop) acceptFailed(err error) bool {
	e := l.e
	switch err {
	case syscall.EAGAIN:
	case syscall.EINTR, syscall.ECONNABORTED:
		return true
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		// Out of descriptors: stop accepting for a moment rather
		// than spin on a listener that stays readable.
		e.s.logf("eventloop: accept: %v; retrying in 100ms", err)
		if l.u == nil {
			syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, l.lfd, nil)
		}
		l.lnRetry = e.now() + int64(100*time.Millisecond)
	default:
		e.s.logf("eventloop: accept: %v", err)
	}
	return false
}

// admit hands an accepted socket to the next loop in turn.
func (l *loop) admit(nfd int, peer netip.AddrPort) {
	e := l.e
	if !e.unix {
		syscall.SetsockoptInt(nfd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	t := e.loops[int(e.next.Add(1)-1)%len(e.loops)]
	c := &conn{l: t, fd: int32(nfd), gen: e.gens.Add(1), peer: peer, interest: syscall.EPOLLIN, flags: fInHTTP}
	e.acceptMu.Lock()
	if e.stoppingF.Load() || !e.table.put(nfd, c) {
		e.acceptMu.Unlock()
		syscall.Close(nfd)
		return
	}
	e.live.Add(1)
	e.httpActive.Add(1)
	t.addTimer(&t.hs, c, e.now()+e.rht, t == l)
	var err error
	if t.u != nil {
		c.interest = 0
		c.mu.Lock()
		c.setRingInterest(syscall.EPOLLIN)
		c.mu.Unlock()
	} else {
		err = epollCtl(t.epfd, syscall.EPOLL_CTL_ADD, nfd, syscall.EPOLLIN, c.gen)
	}
	// Until here a stop waits, so that it finds the connection.
	e.acceptMu.Unlock()
	if err != nil {
		e.s.logf("%v", err)
		c.mu.Lock()
		c.abort()
		c.mu.Unlock()
	}
}

// addTimer queues c to expire at the given time; a loop other than the
// caller's is woken if the queue was empty.
func (l *loop) addTimer(q *timerQueue, c *conn, at int64, self bool) {
	l.mu.Lock()
	empty := q.len() == 0
	q.push(timerEntry{c, at})
	l.mu.Unlock()
	if empty && !self {
		l.wake()
	}
}

// sweep expires the connections whose deadline has passed: those still
// reading their request after ReadHeaderTimeout, and those lingering or
// flushing before close for too long.
func (l *loop) sweep() {
	e := l.e
	now := e.now()
	if l.lnRetry != 0 && now >= l.lnRetry {
		l.lnRetry = 0
		if l.lfd >= 0 && l.u != nil {
			l.u.acceptNext(l.lfd)
		} else if l.lfd >= 0 {
			epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, l.lfd, syscall.EPOLLIN, 0)
		}
	}
	for i, q := range []*timerQueue{&l.hs, &l.linger} {
		l.mu.Lock()
		x := l.expired[:0]
		for {
			at, ok := q.peek()
			if !ok || at > now {
				break
			}
			x = append(x, q.pop())
		}
		l.mu.Unlock()
		for j, t := range x {
			c := t.c
			c.mu.Lock()
			if i == 0 && c.state == stHeader || i == 1 && (c.state == stLinger || c.flags&fCloseAfterFlush != 0) {
				c.abort()
			}
			c.mu.Unlock()
			x[j] = timerEntry{}
		}
		l.expired = x[:0]
	}
}

// timerEntry and timerQueue make a timer wheel of one slot per timeout:
// all entries of a queue share one duration, so they expire in the order
// they were added.
type timerEntry struct {
	c  *conn
	at int64
}

type timerQueue struct {
	q    []timerEntry
	head int
}

func (q *timerQueue) len() int { return len(q.q) - q.head }

func (q *timerQueue) push(t timerEntry) {
	if q.head > 0 && q.head >= len(q.q)/2 {
		n := copy(q.q, q.q[q.head:])
		clear(q.q[n:])
		q.q, q.head = q.q[:n], 0
	}
	q.q = append(q.q, t)
}

func (q *timerQueue) peek() (int64, bool) {
	if q.head == len(q.q) {
		return 0, false
	}
	return q.q[q.head].at, true
}

func (q *timerQueue) pop() timerEntry {
	t := q.q[q.head]
	q.q[q.head] = timerEntry{}
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
		if cap(q.q) > 1024 {
			q.q = nil
		}
	}
	return t
}

// fdTable maps socket descriptors to connections without locks: a
// two-level array, allocated a chunk at a time.
type fdTable struct {
	mu     sync.Mutex
	chunks [1 << 12]atomic.Pointer[fdChunk]
}

const chunkBits = 12

type fdChunk [1 << chunkBits]atomic.Pointer[conn]

func (t *fdTable) get(fd int) *conn {
	if fd < 0 || fd>>chunkBits >= len(t.chunks) {
		return nil
	}
	ch := t.chunks[fd>>chunkBits].Load()
	if ch == nil {
		return nil
	}
	return ch[fd&(1<<chunkBits-1)].Load()
}

func (t *fdTable) put(fd int, c *conn) bool {
	if fd < 0 || fd>>chunkBits >= len(t.chunks) {
		return false
	}
	ch := t.chunks[fd>>chunkBits].Load()
	if ch == nil {
		t.mu.Lock()
		if ch = t.chunks[fd>>chunkBits].Load(); ch == nil {
			ch = new(fdChunk)
			t.chunks[fd>>chunkBits].Store(ch)
		}
		t.mu.Unlock()
	}
	ch[fd&(1<<chunkBits-1)].Store(c)
	return true
}

func (t *fdTable) del(fd int, c *conn) {
	if ch := t.chunks[fd>>chunkBits].Load(); ch != nil {
		ch[fd&(1<<chunkBits-1)].CompareAndSwap(c, nil)
	}
}

func (t *fdTable) each(f func(*conn)) {
	for i := range t.chunks {
		ch := t.chunks[i].Load()
		if ch == nil {
			continue
		}
		for j := range ch {
			if c := ch[j].Load(); c != nil {
				f(c)
			}
		}
	}
}

// pool runs connections' work on at most max goroutines, started as
// needed and ended after idleWorker without work. A connection is in the
// queue at most once at a time, so its events run one batch at a time, in
// order.
type pool struct {
	mu      sync.Mutex
	q       []*conn
	head    int
	running int
	idle    []chan struct{} // waiting workers, the last to wait on top
	max     int
	stopped bool
}

// idleWorker is how long a worker waits for work before it ends. Work
// goes to the worker that waited last, so that under light load the others
// reach this and end.
const idleWorker = 2 * time.Second

func (p *pool) init(max int) { p.max = max }

func (p *pool) submit(c *conn) {
	p.mu.Lock()
	if p.head > 1024 && p.head >= len(p.q)/2 {
		n := copy(p.q, p.q[p.head:])
		clear(p.q[n:])
		p.q, p.head = p.q[:n], 0
	}
	p.q = append(p.q, c)
	if n := len(p.idle); n > 0 {
		p.idle[n-1] <- struct{}{}
		p.idle = p.idle[:n-1]
	} else if p.running < p.max {
		p.running++
		go p.work()
	}
	p.mu.Unlock()
}

func (p *pool) work() {
	wake := make(chan struct{}, 1)
	t := time.NewTimer(idleWorker)
	defer t.Stop()
	p.mu.Lock()
	for {
		if p.head < len(p.q) {
			c := p.q[p.head]
			p.q[p.head] = nil
			p.head++
			if p.head == len(p.q) {
				p.q, p.head = p.q[:0], 0
			}
			p.mu.Unlock()
			c.process()
			p.mu.Lock()
			continue
		}
		if p.stopped {
			p.running--
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, wake)
		p.mu.Unlock()
		t.Reset(idleWorker)
		select {
		case <-wake:
			p.mu.Lock()
		case <-t.C:
			p.mu.Lock()
			if i := slices.Index(p.idle, wake); i >= 0 {
				// Not woken: this worker ends.
				p.idle = slices.Delete(p.idle, i, i+1)
				p.running--
				p.mu.Unlock()
				return
			}
			<-wake // woken as it timed out
		}
	}
}

func (p *pool) stop() {
	p.mu.Lock()
	p.stopped = true
	for _, wake := range p.idle {
		wake <- struct{}{}
	}
	p.idle = nil
	p.mu.Unlock()
}
