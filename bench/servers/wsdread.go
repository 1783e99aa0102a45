package servers

import (
	"context"
	"net/http"

	"github.com/wsd-go/wsd"
)

func init() { Register("wsd-read", startWsdRead) }

// startWsdRead serves wsd on net/http written with the blocking API, as a
// gorilla or coder program is: a loop of ReadInto, into a reused buffer,
// and Write.
func startWsdRead(addr string, o Options) (string, func(), error) {
	opts := &wsd.Options{MaxLength: MaxMessage}
	if o.Deflate {
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	}
	return ServeHTTP(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		if ws.Start(r.Context()) != nil {
			return
		}
		ctx := context.Background()
		var buf []byte
		for {
			t, msg, err := ws.ReadInto(ctx, buf)
			if err != nil {
				return
			}
			if ws.Write(ctx, t, msg) != nil {
				return
			}
			buf = msg
		}
	}))
}
