package servers

import (
	"net/http"

	"github.com/wsd-go/wsd"
)

func init() { Register("wsd", startWsd) }

// startWsd serves wsd on net/http with its goroutine transport, echoing
// each message with its type from the OnMessage handler.
func startWsd(addr string, o Options) (string, func(), error) {
	return ServeHTTP(addr, wsdEcho(o))
}

// wsdEcho is the handler of both wsd servers. Without Deflate the options
// keep wsd's default, which accepts compression only when offered (the
// load generator then does not offer it); with Deflate a negative
// threshold makes wsd compress every message.
func wsdEcho(o Options) http.Handler {
	opts := &wsd.Options{MaxLength: MaxMessage}
	if o.Deflate {
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
}
