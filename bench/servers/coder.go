package servers

import (
	"context"
	"io"
	"net/http"

	"github.com/coder/websocket"
)

func init() { Register("coder", startCoder) }

// startCoder serves github.com/coder/websocket on net/http: Accept with
// compression disabled, then a loop that copies each message from Reader to
// Writer, the shape of the library's own echo example. The copy buffer is
// allocated on the first message so that idle connections do not hold it.
//
// With Deflate, the no-context-takeover mode is accepted and a threshold of
// one byte compresses every non-empty message (zero would mean the
// library's default of 512 bytes); the library compresses at level 1.
func startCoder(addr string, o Options) (string, func(), error) {
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled}
	if o.Deflate {
		opts.CompressionMode = websocket.CompressionNoContextTakeover
		opts.CompressionThreshold = 1
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(MaxMessage)
		ctx := context.Background()
		var buf []byte
		for {
			// The library answers a close frame itself and then reports
			// it here as an error.
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			wr, err := c.Writer(ctx, typ)
			if err != nil {
				return
			}
			if buf == nil {
				buf = make([]byte, 32<<10)
			}
			if _, err := io.CopyBuffer(wr, rd, buf); err != nil {
				return
			}
			if err := wr.Close(); err != nil {
				return
			}
		}
	})
	return ServeHTTP(addr, h)
}
