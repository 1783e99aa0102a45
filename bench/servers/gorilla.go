package servers

import (
	"bytes"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

func init() { Register("gorilla", startGorilla) }

// startGorilla serves github.com/gorilla/websocket on net/http. Following
// its documentation, the Upgrader has explicit buffer sizes and a write
// buffer pool, so an idle connection holds no write buffer. Each message is
// read with NextReader into a per-connection buffer and sent back with
// WriteMessage as a single frame.
//
// With Deflate, EnableCompression negotiates permessage-deflate (gorilla
// supports only no context takeover), and gorilla then compresses every
// message it writes at its default level, 1.
func startGorilla(addr string, o Options) (string, func(), error) {
	upgrader := &websocket.Upgrader{
		ReadBufferSize:    4096,
		WriteBufferSize:   4096,
		WriteBufferPool:   &sync.Pool{},
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: o.Deflate,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(MaxMessage)
		var buf bytes.Buffer
		for {
			// A close frame ends the loop with an error; gorilla's default
			// close handler has already answered it.
			typ, rd, err := c.NextReader()
			if err != nil {
				return
			}
			buf.Reset()
			if _, err := buf.ReadFrom(rd); err != nil {
				return
			}
			if err := c.WriteMessage(typ, buf.Bytes()); err != nil {
				return
			}
		}
	})
	return ServeHTTP(addr, h)
}
