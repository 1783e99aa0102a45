package wsd

import (
	"context"
	"sync"
)

// Group tracks open connections, so that a server can close them all when
// it shuts down. Connections join through Options.Group when they start
// and leave when they close. The zero value is ready to use.
//
// net/http's Server.Shutdown does not wait for connections taken over by
// WebSockets; call the group's Shutdown after it:
//
//	srv.Shutdown(ctx) // stop accepting, finish plain HTTP requests
//	group.Shutdown(ctx) // close every WebSocket with 1001 and wait
type Group struct {
	mu      sync.Mutex
	conns   map[*Conn]struct{}
	closing bool
	empty   chan struct{} // closed when the group empties during Shutdown
}

// add tracks c; it reports false if the group is shutting down.
func (g *Group) add(c *Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	if g.conns == nil {
		g.conns = map[*Conn]struct{}{}
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *Group) remove(c *Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
	if len(g.conns) == 0 && g.empty != nil {
		close(g.empty)
		g.empty = nil
	}
}

// Len returns the number of open connections in the group.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Shutdown refuses new connections, closes every connection of the group
// with 1001 (going away) and waits until they have closed or ctx is done.
// Then it drops, with CloseNow, the connections still open (peers that
// did not answer, or stopped reading so that no close frame could be
// written) and returns ctx's error: Shutdown returns by ctx's deadline.
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	conns := g.list()
	var empty chan struct{}
	if len(g.conns) > 0 {
		if g.empty == nil {
			g.empty = make(chan struct{})
		}
		empty = g.empty
	}
	g.mu.Unlock()
	// Each close may wait for a send in progress: none waits for another.
	for _, c := range conns {
		go c.Close(CloseGoingAway, "server shutting down")
	}
	if empty == nil {
		return nil
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	conns = g.list()
	g.mu.Unlock()
	for _, c := range conns {
		c.CloseNow()
	}
	return ctx.Err()
}

// list returns the group's connections. g.mu is held.
func (g *Group) list() []*Conn {
	conns := make([]*Conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	return conns
}
