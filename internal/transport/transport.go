// Package transport is the seam between wsd connections and transports
// that run connections themselves, such as an event loop, instead of
// taking them over from net/http with a goroutine each.
package transport

import "net"

// Conn is the side of a wsd connection that a transport drives. The
// transport calls Opened once, then Feed with the bytes it reads, in
// order, then Dropped if the stream ends before Feed reported the end.
// Calls must not overlap.
type Conn interface {
	Opened()
	// Feed runs data through the protocol and dispatches its events; it
	// reports whether the connection is over. It may modify data.
	Feed(data []byte) (over bool)
	// Dropped says why the stream ended: io.EOF when the peer closed
	// it, the error of the read that failed, or net.ErrClosed when the
	// connection's side closed it.
	Dropped(err error)
}

// Attacher is implemented by the http.ResponseWriter of a transport that
// runs connections itself. When a handshake succeeds, the connection calls
// Attach with the 101 response to write first; Attach must not keep
// response once it returns (the caller reuses it). The transport returns the
// net.Conn the connection writes to and closes, and once Attach has
// returned it starts calling c, beginning with any bytes that followed the
// request.
type Attacher interface {
	Attach(c Conn, response []byte) (net.Conn, error)
}

// Holder is implemented by the net.Conn of a transport that can stop
// reading a connection whose application has not taken what arrived, and
// start again. Hold and Release may be called from any goroutine,
// including from within Feed.
type Holder interface {
	Hold()
	Release()
}
