//go:build !js

package wsd

// closeWatch is a function registered with AfterClose. The list is kept in
// the connection's lifecycle state, made only when needed, so that a
// connection without watchers carries no room for them.
type closeWatch struct{ f func() }

// AfterClose arranges for f to run once the connection has closed, before
// the close event is delivered, on the goroutine that closes it. If the
// connection is closed already, f runs at once, on the caller's goroutine.
// Calling stop before then unregisters f and reports true; it reports
// false once f has run or started. Libraries use it to forget a connection
// without taking the OnClose handler, which belongs to the application.
func (c *Conn) AfterClose(f func()) (stop func() bool) {
	w := &closeWatch{f: f}
	c.mu.Lock()
	if c.finished || c.ReadyState() == Closed {
		c.mu.Unlock()
		f()
		return func() bool { return false }
	}
	x := c.lc()
	x.afterClose = append(x.afterClose, w)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.x == nil {
			return false
		}
		for i, x := range c.x.afterClose {
			if x == w {
				c.x.afterClose = append(c.x.afterClose[:i], c.x.afterClose[i+1:]...)
				return true
			}
		}
		return false
	}
}

// runAfterClose runs the functions of AfterClose; finish calls it once.
func (c *Conn) runAfterClose() {
	c.mu.Lock()
	var ws []*closeWatch
	if c.x != nil {
		ws, c.x.afterClose = c.x.afterClose, nil
	}
	c.mu.Unlock()
	for _, w := range ws {
		w.f()
	}
}
