//go:build !js

package wsd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// The blocking write API, the queue of sends made before the connection
// opens, and the Writer of one message in fragments.

// Write sends p as one message of type t (TextMessage or BinaryMessage),
// returning once it is written. If ctx ends while the message is being
// written, the write is cut, the connection is failed (a message half
// written cannot be taken back), and the error wraps ctx's. On a connection
// still connecting, the message waits until it opens, as with Send.
func (c *Conn) Write(ctx context.Context, t MessageType, p []byte) error {
	op, err := dataOpcode(t)
	if err != nil {
		return err
	}
	if c.ReadyState() == Connecting {
		done := make(chan error, 1)
		if err, queued := c.enqueue(ctx, op, p, CompressDefault, func(err error) { done <- err }); queued {
			return awaitQueued(ctx, err, done)
		}
	}
	return c.write(ctx, op, p, CompressDefault, nil)
}

func dataOpcode(t MessageType) (proto.Opcode, error) {
	switch t {
	case TextMessage:
		return proto.OpText, nil
	case BinaryMessage:
		return proto.OpBinary, nil
	}
	return 0, fmt.Errorf("wsd: cannot write a message of type %v", t)
}

// pendingSend is a send made before the connection opened.
type pendingSend struct {
	op     proto.Opcode
	data   []byte
	choice CompressChoice
	cb     func(error)
}

// enqueue queues a send on a connection that is connecting; queued is
// false if it opened (or closed) meanwhile, for the caller to go on.
func (c *Conn) enqueue(ctx context.Context, op proto.Opcode, p []byte, choice CompressChoice, cb func(error)) (err error, queued bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ReadyState() != Connecting {
		return nil, false
	}
	if c.canceled {
		return callback(cb, ErrClosed), true
	}
	x := c.lc()
	limit := c.opts.MaxPendingSends
	if limit <= 0 {
		limit = DefaultMaxPendingSends
	}
	if x.pendingBytes+len(p) > limit {
		return callback(cb, ErrPendingFull), true
	}
	x.pendingBytes += len(p)
	x.pending = append(x.pending, pendingSend{op, append([]byte(nil), p...), choice, cb})
	return nil, true
}

// failPending fails the sends queued before a handshake that failed.
func (c *Conn) failPending(err error) {
	c.mu.Lock()
	var q []pendingSend
	if c.x != nil {
		q, c.x.pending, c.x.pendingBytes = c.x.pending, nil, 0
	}
	c.mu.Unlock()
	for _, s := range q {
		callback(s.cb, err)
	}
}

// writePending writes the sends queued while connecting. c.wmu is held,
// so that sends made after the open wait their turn; the callbacks run
// after it is released, in done.
func (c *Conn) writePending(q []pendingSend) (done func()) {
	if len(q) == 0 {
		return func() {}
	}
	errs := make([]error, len(q))
	for i, s := range q {
		errs[i] = c.writeHeld(nil, s.op, s.data, s.choice)
	}
	return func() {
		for i, s := range q {
			callback(s.cb, errs[i])
		}
	}
}

// awaitWriter waits, with c.wmu held on entry and on return, until no
// Writer is in the middle of a message: data frames must not interleave.
func (c *Conn) awaitWriter(ctx context.Context) error {
	for {
		s := c.sx.Load()
		if s == nil || !s.wopen {
			return nil
		}
		ch := s.wdone
		c.wmu.Unlock()
		var cancel <-chan struct{}
		if ctx != nil {
			cancel = ctx.Done()
		}
		select {
		case <-ch:
		case <-cancel:
			c.wmu.Lock()
			return fmt.Errorf("wsd: write: %w", ctx.Err())
		}
		c.wmu.Lock()
	}
}

// Writer returns a writer for one message of type t, sent in fragments as
// it is written: a message of any size passes through memory bounded by
// one fragment (about 32 KiB), compressed as it streams when
// permessage-deflate is in use. Close sends the last fragment. Other
// messages wait until then; pings, pongs and close frames may go out
// between its fragments. If ctx ends during a write, the connection is
// failed. Text is checked as UTF-8 as it is written: invalid text fails
// the write and closes the connection, as the message cannot be taken
// back.
func (c *Conn) Writer(ctx context.Context, t MessageType) (io.WriteCloser, error) {
	op, err := dataOpcode(t)
	if err != nil {
		return nil, err
	}
	if c.ReadyState() != Open {
		return nil, ErrClosed
	}
	s := c.streamsOf()
	c.wmu.Lock()
	if err := c.awaitWriter(ctx); err != nil {
		c.wmu.Unlock()
		return nil, err
	}
	if c.m.CloseSent() || c.ReadyState() == Closed {
		c.wmu.Unlock()
		return nil, ErrClosed
	}
	s.wopen = true
	s.wdone = make(chan struct{})
	w := &s.w
	w.start(ctx, op)
	c.wmu.Unlock()
	return w, nil
}

// endWriter ends the Writer in progress. c.wmu is held.
func (s *streams) endWriter() {
	if s.wopen {
		s.wopen = false
		close(s.wdone)
	}
}

// messageWriter sends one message in fragments.
type messageWriter struct {
	c      *Conn
	ctx    context.Context
	op     proto.Opcode
	first  bool // no fragment sent yet
	zipped bool
	closed bool
	buf    *[]byte // MaxHeaderSize bytes of room, then the payload; pooled
	fbuf   *[]byte // fw's buffer, pooled
	fw     frameWriter
	text   proto.UTF8
	err    error
}

func (w *messageWriter) start(ctx context.Context, op proto.Opcode) {
	c := w.c
	*w = messageWriter{c: c, ctx: ctx, op: op, first: true}
	w.zipped = c.z != nil && c.z.cz != nil
	w.buf = wbufPool.Get().(*[]byte)
	*w.buf = (*w.buf)[:proto.MaxHeaderSize]
	if w.zipped {
		w.fbuf = wbufPool.Get().(*[]byte)
		w.fw = frameWriter{c: c, op: op, rsv: proto.RSV1, buf: (*w.fbuf)[:proto.MaxHeaderSize]}
	}
}

// Write queues p and sends full fragments.
func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("wsd: write to a closed message writer")
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.op == proto.OpText && !w.text.Write(p) {
		w.fail(ErrInvalidUTF8)
		w.c.Close(CloseInvalidPayload, "invalid UTF-8 in a text message")
		return 0, ErrInvalidUTF8
	}
	n := len(p)
	for len(p) > 0 {
		b := *w.buf
		k := min(len(p), proto.MaxHeaderSize+fragmentSize-len(b))
		*w.buf = append(b, p[:k]...)
		p = p[k:]
		if len(*w.buf) == proto.MaxHeaderSize+fragmentSize {
			if err := w.flush(false); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// Close sends the last fragment and lets other messages go.
func (w *messageWriter) Close() error {
	if w.closed {
		return nil
	}
	var err error
	if w.err == nil {
		if w.op == proto.OpText && !w.text.Complete() {
			w.c.Close(CloseInvalidPayload, "text message ends inside a UTF-8 sequence")
			w.err = ErrInvalidUTF8
		} else {
			w.flush(true)
		}
	}
	err = w.err
	w.closed = true
	w.release()
	return err
}

// flush sends what is buffered: a fragment, or the last one.
func (w *messageWriter) flush(fin bool) error {
	c := w.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.m.CloseSent() || c.ReadyState() == Closed {
		w.err = ErrClosed
		return w.err
	}
	if c.opts.WriteTimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	}
	if err := c.flushLocked(); err != nil {
		w.err = err
		return err
	}
	if ctx := w.ctx; ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			w.err = fmt.Errorf("wsd: write: %w", err)
			c.abort(w.err)
			return w.err
		}
		stop := context.AfterFunc(ctx, func() { c.nc.SetWriteDeadline(time.Now()) })
		defer func() {
			if !stop() {
				if w.err != nil {
					w.err = fmt.Errorf("wsd: write: %w", ctx.Err())
				} else if c.opts.WriteTimeout <= 0 {
					c.nc.SetWriteDeadline(time.Time{})
				}
			}
		}()
	}
	payload := (*w.buf)[proto.MaxHeaderSize:]
	var err error
	if w.zipped {
		if c.z.cz == nil {
			w.err = ErrClosed
			return w.err
		}
		err = c.z.cz.Compress(&w.fw, payload)
		if err == nil && fin {
			err = w.fw.finish()
		}
	} else {
		op := w.op
		if !w.first {
			op = proto.OpContinuation
		}
		_, err = c.nc.Write(c.m.FrameInPlace(*w.buf, proto.MaxHeaderSize, op, fin, 0))
	}
	w.first = false
	*w.buf = (*w.buf)[:proto.MaxHeaderSize]
	if err != nil {
		w.err = c.writeFailed(err)
	}
	return w.err
}

func (w *messageWriter) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// release gives the buffers back and lets other messages go.
func (w *messageWriter) release() {
	c := w.c
	c.wmu.Lock()
	for _, bp := range []**[]byte{&w.buf, &w.fbuf} {
		if *bp != nil {
			**bp = (**bp)[:0]
			wbufPool.Put(*bp)
			*bp = nil
		}
	}
	w.fw = frameWriter{}
	if s := c.sx.Load(); s != nil {
		s.endWriter()
	}
	c.wmu.Unlock()
}
