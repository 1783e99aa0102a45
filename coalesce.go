//go:build !js

package wsd

import (
	"sync/atomic"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// Coalesced writes. While a connection dispatches frames that arrived
// together, the small frames sent meanwhile are gathered and written with
// one call once the batch is dispatched, rather than one call each: a
// pipelining peer costs one write per read instead of one per message.
//
// A send cannot tell whether it comes from the dispatching handler or from
// another goroutine, so the rules bound what any frame can wait:
//   - frames are gathered only while more received frames remain to be
//     dispatched; the last frame of a batch and a lone frame go out at once;
//   - a send that finds frames gathered when no batch is running writes
//     them with its own;
//   - gathered frames never wait more than coalesceDelay: a slow handler
//     in the middle of a batch holds back no one's frames, its own
//     included, longer than that.

// coalesceDelay bounds how long a gathered frame waits for its batch to end.
const coalesceDelay = time.Millisecond

// coalesceLimit is the most bytes gathered before they are written.
const coalesceLimit = 64 << 10

// coalescer is made for a connection the first time it dispatches a batch.
type coalescer struct {
	batching atomic.Bool // more received frames remain to be dispatched
	buf      *[]byte     // gathered frames, from wbufPool; guarded by wmu
	timer    *time.Timer // writes gathered frames after coalesceDelay
}

// startBatch reports whether the event about to be dispatched is followed
// by more received bytes, and if so lets its sends be gathered.
func (c *Conn) startBatch(ev proto.Event, more bool) bool {
	co := c.co.Load()
	more = more && (ev.Kind == proto.EventMessage || ev.Kind == proto.EventPing)
	if !more {
		if co != nil {
			co.batching.Store(false)
		}
		return false
	}
	if co == nil {
		co = new(coalescer)
		co.timer = time.AfterFunc(time.Hour, c.flushLate)
		co.timer.Stop()
		c.co.Store(co)
	}
	co.batching.Store(true)
	return true
}

// endBatch writes what the batch gathered.
func (c *Conn) endBatch() {
	co := c.co.Load()
	co.batching.Store(false)
	c.wmu.Lock()
	c.flushLocked()
	c.wmu.Unlock()
}

// flushLate is the timer's: a handler is slow, write what waits for it.
func (c *Conn) flushLate() {
	c.wmu.Lock()
	c.flushLocked()
	c.wmu.Unlock()
}

// gather appends a frame to the gathered ones if a batch is running or
// frames wait, and reports whether it did. c.wmu is held.
func (c *Conn) gather(op proto.Opcode, payload []byte) (bool, error) {
	co := c.co.Load()
	if co == nil || co.buf == nil && !co.batching.Load() {
		return false, nil
	}
	first := co.buf == nil
	if first {
		co.buf = wbufPool.Get().(*[]byte)
	}
	*co.buf = c.m.AppendFrame(*co.buf, op, true, 0, payload)
	if co.batching.Load() && len(*co.buf) < coalesceLimit {
		if first {
			co.timer.Reset(coalesceDelay)
		}
		return true, nil
	}
	return true, c.flushLocked()
}

// flushLocked writes the gathered frames, if any. c.wmu is held.
func (c *Conn) flushLocked() error {
	co := c.co.Load()
	if co == nil || co.buf == nil {
		return nil
	}
	co.timer.Stop()
	bp := co.buf
	co.buf = nil
	_, err := c.nc.Write(*bp)
	*bp = (*bp)[:0]
	wbufPool.Put(bp)
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}
