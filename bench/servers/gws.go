package servers

import (
	"net"
	"sync/atomic"

	"github.com/lxzan/gws"
)

func init() { Register("gws", startGws) }

// startGws serves github.com/lxzan/gws with its own server and event
// handler. ParallelEnabled is false, so each connection's messages are
// handled in order on its read loop.
//
// With Deflate, PermessageDeflate is enabled without context takeover
// either way, at the library's default level (1); a threshold of one byte
// compresses every non-empty message (zero would mean its default of 512).
func startGws(addr string, o Options) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	deflate := gws.PermessageDeflate{Enabled: false}
	if o.Deflate {
		deflate = gws.PermessageDeflate{
			Enabled:               true,
			Threshold:             1,
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		}
	}
	srv := gws.NewServer(gwsEcho{}, &gws.ServerOption{
		ParallelEnabled:    false,
		ReadMaxPayloadSize: MaxMessage,
		PermessageDeflate:  deflate,
	})
	quiet := &stoppableListener{Listener: ln, never: make(chan struct{})}
	go func() { _ = srv.RunListener(quiet) }()
	return ln.Addr().String(), quiet.stop, nil
}

// gwsEcho is the event handler: it echoes messages and answers pings. The
// library answers close frames itself.
type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	_ = c.WriteMessage(m.Opcode, m.Bytes())
}

// stoppableListener makes Accept block for good once stopped, because the
// gws accept loop retries on every error and would otherwise spin after
// the listener is closed.
type stoppableListener struct {
	net.Listener
	stopped atomic.Bool
	never   chan struct{} // never closed
}

func (l *stoppableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil && l.stopped.Load() {
		<-l.never // park the accept loop until the process exits
	}
	return c, err
}

func (l *stoppableListener) stop() {
	l.stopped.Store(true)
	_ = l.Listener.Close()
}
