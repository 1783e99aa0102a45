//go:build !js

package wsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/wsd-go/wsd/internal/deflate"
	"github.com/wsd-go/wsd/internal/proto"
	"github.com/wsd-go/wsd/internal/transport"
)

// The blocking read API. A connection without an OnMessage handler has its
// protocol core hand out message payloads as they arrive (streaming mode);
// they wait in a small queue until Read or Reader takes them. When the
// queue holds readQueueBytes, the transport stops reading the socket until
// the application catches up: TCP pushes back on the peer, and nothing
// grows without bound.

// readQueueBytes bounds what waits for Read before the socket is left
// unread.
const readQueueBytes = 64 << 10

// streams is the state of a connection's blocking API.
type streams struct {
	mu    sync.Mutex
	ready chan struct{} // a token: bytes or the end arrived
	room  chan struct{} // a token: the queue has room, or reading must end
	buf   *[]byte       // queued payload bytes, (*buf)[off:] unread; pooled
	off   int
	segs  []seg // the queued pieces, segs[sh:] unread
	sh    int
	held  bool  // the transport was asked to stop reading
	stop  bool  // the connection is being cut: the transport must not wait
	end   error // why nothing more will come, once known
	r     messageReader

	// The Writer in progress, guarded by the connection's wmu.
	wopen bool
	wdone chan struct{} // closed when the Writer ends
	w     messageWriter
}

// seg is a piece of a message in the queue.
type seg struct {
	n                  int
	op                 MessageType
	first, fin, zipped bool
}

// streamsOf returns c's blocking-API state, making it on first use.
func (c *Conn) streamsOf() *streams {
	if s := c.sx.Load(); s != nil {
		return s
	}
	s := &streams{ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
	s.r.c, s.r.s = c, s
	s.w.c = c
	if c.sx.CompareAndSwap(nil, s) {
		return s
	}
	return c.sx.Load()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

var queueBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// push queues a piece of a message, on the transport's goroutine.
func (s *streams) push(c *Conn, ev proto.Event) {
	if c.m.CloseSent() {
		return // closing: what the peer sends now is not waited for
	}
	s.mu.Lock()
	if s.buf == nil {
		s.buf = queueBufs.Get().(*[]byte)
	}
	b := *s.buf
	if s.off > 0 && s.off >= len(b)/2 {
		b = b[:copy(b, b[s.off:])]
		s.off = 0
	}
	*s.buf = append(b, ev.Data...)
	if s.sh > 0 && s.sh == len(s.segs) {
		s.segs, s.sh = s.segs[:0], 0
	}
	s.segs = append(s.segs, seg{n: len(ev.Data), op: MessageType(ev.Op), first: ev.First, fin: ev.Fin, zipped: ev.Compressed})
	if !s.held && len(*s.buf)-s.off >= readQueueBytes {
		s.held = true
		// Under s.mu, as release is: a Release must not overtake its Hold.
		if h, ok := c.nc.(transport.Holder); ok {
			h.Hold()
		}
	}
	s.mu.Unlock()
	signal(s.ready)
}

// waitRoom blocks the goroutine transport while the queue is full.
func (s *streams) waitRoom() {
	for {
		s.mu.Lock()
		wait := s.held && !s.stop
		s.mu.Unlock()
		if !wait {
			return
		}
		<-s.room
	}
}

// release lets the transport read again. s.mu is held.
func (s *streams) release(c *Conn) {
	if !s.held {
		return
	}
	s.held = false
	if h, ok := c.nc.(transport.Holder); ok {
		h.Release()
	} else {
		signal(s.room)
	}
}

// cut tells a transport waiting for room that the connection is being
// cut, and takes the hold off so that it reads to the end.
func (s *streams) cut(c *Conn) {
	s.mu.Lock()
	s.stop = true
	s.release(c)
	s.mu.Unlock()
	signal(s.room)
}

// fail records a protocol failure as the end readers see.
func (s *streams) fail(perr *ProtocolError) {
	s.mu.Lock()
	if s.end == nil {
		s.end = perr
	}
	s.mu.Unlock()
}

// finish records the connection's end for readers.
func (s *streams) finish(c *Conn, code int, reason string) {
	s.mu.Lock()
	if s.end == nil {
		s.end = &CloseError{Code: code, Reason: reason}
	}
	s.stop = true
	s.release(c)
	s.mu.Unlock()
	signal(s.ready)
	signal(s.room)
}

// take copies bytes of the message being read into p, waiting for them;
// fin reports that the message's last bytes were taken.
func (s *streams) take(ctx context.Context, c *Conn, p []byte) (n int, fin bool, err error) {
	for {
		s.mu.Lock()
		if s.sh < len(s.segs) {
			g := &s.segs[s.sh]
			if g.n > 0 {
				n = copy(p, (*s.buf)[s.off:s.off+g.n])
			}
			s.off += n
			g.n -= n
			if g.n == 0 {
				fin = g.fin
				s.sh++
			}
			s.drained(c)
			s.mu.Unlock()
			if n > 0 || fin || len(p) == 0 {
				return n, fin, nil
			}
			continue
		}
		end := s.end
		s.mu.Unlock()
		if end != nil {
			return 0, false, end
		}
		if err := s.wait(ctx, c); err != nil {
			return 0, false, err
		}
	}
}

// drained acts on bytes taken: the buffer goes back to its pool when
// empty, the transport reads again when the queue has room, and another
// reader is woken if pieces remain. s.mu is held.
func (s *streams) drained(c *Conn) {
	queued := 0
	if s.buf != nil {
		queued = len(*s.buf) - s.off
	}
	if queued == 0 && s.buf != nil {
		if cap(*s.buf) <= maxPooledBuffer {
			*s.buf = (*s.buf)[:0]
			queueBufs.Put(s.buf)
		}
		s.buf, s.off = nil, 0
	}
	if s.held && queued <= readQueueBytes/2 {
		s.release(c)
	}
	if s.sh < len(s.segs) {
		signal(s.ready)
	}
}

// wait waits for the queue to change. A context done first fails the
// connection, as a read cut short leaves a message half read.
func (s *streams) wait(ctx context.Context, c *Conn) error {
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		err := fmt.Errorf("wsd: read: %w", ctx.Err())
		c.abort(err)
		return err
	}
}

// head waits for the first piece of the next message and returns it.
func (s *streams) head(ctx context.Context, c *Conn) (seg, error) {
	for {
		s.mu.Lock()
		if s.sh < len(s.segs) {
			g := s.segs[s.sh]
			s.mu.Unlock()
			return g, nil
		}
		end := s.end
		s.mu.Unlock()
		if end != nil {
			return seg{}, end
		}
		if err := s.wait(ctx, c); err != nil {
			return seg{}, err
		}
	}
}

// errHasHandler is returned by reads on a connection with an OnMessage
// handler, to which its messages go.
var errHasHandler = errors.New("wsd: Read on a connection with an OnMessage handler: its messages go to the handler")

// Reader returns the next message as a stream, read as its frames arrive
// and never held whole: a message of any size passes through memory
// bounded by the read queue. Text is checked as UTF-8 and a compressed
// message inflated as it streams; an invalid byte, or a message over
// Options.MaxLength, fails the connection (1007, 1009) as soon as it
// arrives, and Read returns a *ProtocolError.
//
// The reader is valid until the next call of Reader, Read or ReadInto,
// which discards what is left of its message. Only a connection without an
// OnMessage handler delivers messages this way; reads on one with a
// handler return an error. When the connection closes, Reader returns a
// *CloseError. If ctx ends before the message does, the connection is
// failed, and the error wraps ctx's.
func (c *Conn) Reader(ctx context.Context) (MessageType, io.Reader, error) {
	if c.h.Load().message != nil {
		return 0, nil, errHasHandler
	}
	s := c.streamsOf()
	r := &s.r
	if err := r.skip(ctx); err != nil {
		return 0, nil, err
	}
	g, err := s.head(ctx, c)
	if err != nil {
		return 0, nil, err
	}
	if err := r.start(ctx, g); err != nil {
		return 0, nil, err
	}
	return g.op, r, nil
}

// Read returns the next message whole, in a new slice; see Reader.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	return c.ReadInto(ctx, nil)
}

// ReadInto reads the next message whole and appends it to buf[:0],
// growing buf only if the message does not fit: a caller that reuses its
// buffer reads without allocating. See Reader.
func (c *Conn) ReadInto(ctx context.Context, buf []byte) (MessageType, []byte, error) {
	t, r, err := c.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	buf = buf[:0]
	mr := r.(*messageReader)
	for {
		if !mr.zipped && !mr.active {
			return t, buf, nil // all taken: no need to grow buf to learn it
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := mr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return t, buf, nil
		}
		if err != nil {
			return 0, nil, err
		}
	}
}

// messageReader reads one message from the queue.
type messageReader struct {
	c      *Conn
	s      *streams
	ctx    context.Context
	op     MessageType
	active bool // reading a message: its last bytes not yet taken
	zipped bool
	inf    deflate.Stream
	text   proto.UTF8
	n      int64 // bytes inflated so far
	err    error // sticky
}

func (r *messageReader) start(ctx context.Context, g seg) error {
	r.ctx, r.op, r.active, r.zipped, r.n, r.err = ctx, g.op, true, g.zipped, 0, nil
	if g.zipped {
		r.text.Reset()
		return r.inf.Start(r.c.m.Decompressor().(*deflate.Decompressor), r)
	}
	return nil
}

// skip discards what is left of the message last read.
func (r *messageReader) skip(ctx context.Context) error {
	if !r.active {
		return nil
	}
	r.inf.Stop()
	r.zipped = false
	r.ctx = ctx
	var scratch [512]byte
	for r.active {
		if _, _, err := r.Pull(scratch[:]); err != nil {
			return err
		}
	}
	return nil
}

// Pull takes the message's next payload bytes, as they came: it is the
// source of the inflater.
func (r *messageReader) Pull(p []byte) (int, bool, error) {
	n, fin, err := r.s.take(r.ctx, r.c, p)
	if fin {
		r.active = false
	}
	return n, fin, err
}

// Read reads the message's bytes; io.EOF follows the last.
func (r *messageReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if !r.zipped {
		if !r.active {
			return 0, io.EOF
		}
		n, fin, err := r.Pull(p)
		if err != nil {
			r.err = err
			return n, err
		}
		if fin && n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
	n, err := r.inf.Read(p)
	r.n += int64(n)
	if r.n > r.c.opts.maxLength() {
		return 0, r.fail(CloseTooBig, fmt.Sprintf("compressed message inflates to more than the limit of %d bytes", r.c.opts.maxLength()))
	}
	if r.op == TextMessage && !r.text.Write(p[:n]) {
		return 0, r.fail(CloseInvalidPayload, "invalid UTF-8 in text message")
	}
	switch {
	case err == io.EOF:
		if r.op == TextMessage && !r.text.Complete() {
			return 0, r.fail(CloseInvalidPayload, "text message ends inside a UTF-8 sequence")
		}
		r.zipped = false
		return n, io.EOF
	case errors.Is(err, deflate.ErrCorrupt):
		return 0, r.fail(CloseInvalidPayload, err.Error())
	case err != nil:
		r.err = err
		r.inf.Stop() // the reader's own goroutine gives the inflater back
	}
	return n, err
}

// fail fails the connection for what the peer sent, as the protocol core
// would have, had it inflated the message.
func (r *messageReader) fail(code int, reason string) error {
	r.inf.Stop()
	perr := &ProtocolError{Code: code, Reason: reason}
	r.err = perr
	r.c.failProtocol(perr)
	return perr
}
