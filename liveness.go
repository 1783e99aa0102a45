package wsd

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// Keepalive pings and the idle timeout (Options.PingInterval, PongTimeout,
// IdleTimeout). The goroutine transport runs them on its read deadline;
// connections driven by another transport run them on a timer.

// liveness runs keepalive and the idle timeout on the read deadline, so
// they cost no timer or goroutine of their own.
type liveness struct {
	last   time.Time // when bytes last arrived; zero when off
	pinged bool      // a keepalive ping went out since
}

func (l *liveness) deadline(o *Options) time.Time {
	var d time.Time
	if o.PingInterval > 0 {
		d = l.last.Add(o.PingInterval)
		if l.pinged {
			d = d.Add(o.pongTimeout())
		}
	}
	if o.IdleTimeout > 0 {
		if i := l.last.Add(o.IdleTimeout); d.IsZero() || i.Before(d) {
			d = i
		}
	}
	return d
}

// check acts on a read timeout; it reports false when the peer is dead.
func (l *liveness) check(c *Conn) bool {
	o := c.opts
	quiet := time.Since(l.last)
	if o.IdleTimeout > 0 && quiet >= o.IdleTimeout {
		c.Close(CloseGoingAway, "idle timeout")
		return true
	}
	if o.PingInterval > 0 && quiet >= o.PingInterval {
		if l.pinged {
			return quiet < o.PingInterval+o.pongTimeout()
		}
		l.pinged = true
		c.wmu.Lock()
		c.nc.SetWriteDeadline(time.Now().Add(o.pongTimeout()))
		if !c.m.CloseSent() {
			c.writeLocked(proto.OpPing, nil)
		}
		c.nc.SetWriteDeadline(time.Time{})
		c.wmu.Unlock()
	}
	return true
}

// timedLiveness runs liveness on a timer for a connection that a transport
// drives, as such a connection has no read loop to carry a deadline.
type timedLiveness struct {
	c   *Conn
	t   *time.Timer
	mu  sync.Mutex // guards l
	l   liveness
	cut atomic.Bool // the peer did not answer a ping, and the socket was cut
}

func keepaliveReason(o *Options) string {
	return "keepalive: no answer to ping within " + o.pongTimeout().String()
}

// startLiveness starts the timer if the options ask for liveness checks.
func (c *Conn) startLiveness() {
	if c.opts.PingInterval <= 0 && c.opts.IdleTimeout <= 0 {
		return
	}
	tl := &timedLiveness{c: c, l: liveness{last: time.Now()}}
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

func (tl *timedLiveness) expired() {
	c := tl.c
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if c.m.CloseSent() {
		return // the close timeout takes over
	}
	if d := tl.l.deadline(c.opts); time.Now().Before(d) {
		tl.t.Reset(time.Until(d)) // bytes came since the timer was set
		return
	}
	if !tl.l.check(c) {
		// Cutting the socket makes the transport report the drop, in
		// order with the connection's other events.
		tl.cut.Store(true)
		c.nc.Close()
		return
	}
	if !c.m.CloseSent() {
		tl.t.Reset(time.Until(tl.l.deadline(c.opts)))
	}
}
