package servers

import (
	"net/http"

	"github.com/wsd-go/wsd"
)

func init() { Register("wsd", startWsd) }

// startWsd serves wsd on net/http with its goroutine transport, echoing
// each message with its type from the OnMessage handler.
func startWsd(addr string) (string, func(), error) {
	return ServeHTTP(addr, wsdEcho())
}

// wsdEcho is the handler of both wsd servers.
func wsdEcho() http.Handler {
	opts := &wsd.Options{MaxLength: MaxMessage}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
}
