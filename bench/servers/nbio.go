package servers

import (
	"net"
	"net/http"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

func init() { Register("nbio", startNbio) }

// startNbio serves github.com/lesismal/nbio: an nbhttp engine in its default
// non-blocking mode, where the library's own epoll event loop reads every
// connection, with the websocket upgrader echoing from its OnMessage
// callback. ReleaseWebsocketPayload lets the engine reuse message buffers,
// as the library's examples do.
//
// With Deflate, EnableCompression negotiates permessage-deflate (without
// context takeover, the only mode nbio offers); a connection that
// negotiated it compresses every message it writes, at level 1.
func startNbio(addr string, o Options) (string, func(), error) {
	logging.SetLevel(logging.LevelError)
	upgrader := websocket.NewUpgrader()
	upgrader.CheckOrigin = func(*http.Request) bool { return true }
	upgrader.EnableCompression(o.Deflate)
	upgrader.MessageLengthLimit = MaxMessage
	upgrader.OnMessage(func(c *websocket.Conn, typ websocket.MessageType, data []byte) {
		_ = c.WriteMessage(typ, data)
	})
	// Pings and close frames are answered by the upgrader's default
	// handlers.

	var bound net.Addr
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{addr},
		MaxLoad:                 1 << 20,
		ReleaseWebsocketPayload: true,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = upgrader.Upgrade(w, r, nil)
		}),
		// Listen is wrapped only to learn the port picked for ":0".
		Listen: func(network, addr string) (net.Listener, error) {
			ln, err := net.Listen(network, addr)
			if err == nil {
				bound = ln.Addr()
			}
			return ln, err
		},
	})
	if err := engine.Start(); err != nil {
		return "", nil, err
	}
	return bound.String(), engine.Stop, nil
}
