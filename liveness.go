//go:build !js

package wsd

import (
	"errors"
	"sync"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// Keepalive pings and the idle timeout (Options.PingInterval, PongTimeout,
// IdleTimeout). The goroutine transport runs them on its read deadline;
// connections driven by another transport run them on a timer.

// liveness runs keepalive and the idle timeout on the read deadline, so
// they cost no timer or goroutine of their own.
type liveness struct {
	last    time.Time // when bytes last arrived; zero when off
	lastMsg time.Time // when a message last arrived, for IdleTimeout
	pinged  bool      // a keepalive ping is due or went out since
}

func (l *liveness) start(now time.Time) { l.last, l.lastMsg = now, now }

func (l *liveness) deadline(o *Options) time.Time {
	var d time.Time
	if o.PingInterval > 0 {
		d = l.last.Add(o.PingInterval)
		if l.pinged {
			d = d.Add(o.pongTimeout())
		}
	}
	if o.IdleTimeout > 0 {
		if i := l.lastMsg.Add(o.IdleTimeout); d.IsZero() || i.Before(d) {
			d = i
		}
	}
	return d
}

// check acts on a read timeout; it reports false when the peer is dead.
func (l *liveness) check(c *Conn) bool {
	o := c.opts
	if o.IdleTimeout > 0 && time.Since(l.lastMsg) >= o.IdleTimeout {
		c.Close(CloseGoingAway, "idle timeout")
		return true
	}
	quiet := time.Since(l.last)
	if o.PingInterval > 0 && quiet >= o.PingInterval {
		if l.pinged {
			return quiet < o.PingInterval+o.pongTimeout()
		}
		l.pinged = true
		// A send in progress holds the socket: the ping waits for no
		// one. If that send is stuck on a peer that reads nothing, the
		// peer sends nothing either, and it is cut when the pong is due.
		if c.wmu.TryLock() {
			c.nc.SetWriteDeadline(time.Now().Add(o.pongTimeout()))
			if !c.m.CloseSent() {
				c.writeLocked(proto.OpPing, nil)
			}
			c.nc.SetWriteDeadline(time.Time{})
			c.wmu.Unlock()
		}
	}
	return true
}

// timedLiveness runs liveness on a timer for a connection that a transport
// drives, as such a connection has no read loop to carry a deadline.
type timedLiveness struct {
	c       *Conn
	t       *time.Timer
	mu      sync.Mutex // guards l and stopped
	l       liveness
	stopped bool // the connection is finished: the timer must not re-arm
}

func keepaliveReason(o *Options) string {
	return "keepalive: no answer to ping within " + o.pongTimeout().String()
}

// startLiveness starts the timer if the options ask for liveness checks.
func (c *Conn) startLiveness() {
	if c.opts.PingInterval <= 0 && c.opts.IdleTimeout <= 0 {
		return
	}
	tl := &timedLiveness{c: c}
	tl.l.start(time.Now())
	tl.mu.Lock()
	tl.t = time.AfterFunc(time.Until(tl.l.deadline(c.opts)), tl.expired)
	tl.mu.Unlock()
	c.live = tl
}

// active records that bytes arrived.
func (tl *timedLiveness) active() {
	tl.mu.Lock()
	tl.l.last = time.Now()
	if tl.l.pinged {
		tl.l.pinged = false
		tl.t.Reset(time.Until(tl.l.deadline(tl.c.opts)))
	}
	tl.mu.Unlock()
}

// message records that a message arrived, for the idle timeout.
func (tl *timedLiveness) message() {
	tl.mu.Lock()
	tl.l.lastMsg = tl.l.last
	tl.mu.Unlock()
}

// stop stops the timer for good: a callback already running must not
// re-arm it on a finished connection.
func (tl *timedLiveness) stop() {
	tl.mu.Lock()
	tl.stopped = true
	tl.t.Stop()
	tl.mu.Unlock()
}

func (tl *timedLiveness) expired() {
	c := tl.c
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.stopped || c.m.CloseSent() {
		return // finished, or the close timeout takes over
	}
	if d := tl.l.deadline(c.opts); time.Now().Before(d) {
		tl.t.Reset(time.Until(d)) // bytes came since the timer was set
		return
	}
	if !tl.l.check(c) {
		// Cutting the socket makes the transport report the drop, in
		// order with the connection's other events.
		c.abort(errors.New(keepaliveReason(c.opts)))
		return
	}
	if !tl.stopped && !c.m.CloseSent() {
		tl.t.Reset(max(time.Until(tl.l.deadline(c.opts)), time.Millisecond))
	}
}
