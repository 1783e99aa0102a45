package wsd_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wsd-go/wsd"
	_ "github.com/wsd-go/wsd/xconnect" // RFC 8441 on in net/http's HTTP/2 server
)

// h2Server is a TLS server with HTTP/2 whose handler is h.
func h2Server(t *testing.T, h http.Handler) (*httptest.Server, *tls.Config) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	cfg := &tls.Config{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	return ts, cfg
}

func wssURL(ts *httptest.Server, path string) string {
	return "wss" + strings.TrimPrefix(ts.URL, "https") + path
}

// echoHandler serves an echo WebSocket and reports each request it saw.
func echoHandler(opts *wsd.Options, reqs chan<- *http.Request) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqs != nil {
			reqs <- r
		}
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
}

func TestHTTP2Echo(t *testing.T) {
	reqs := make(chan *http.Request, 1)
	ts, cfg := h2Server(t, echoHandler(nil, reqs))
	c, rec := dialClient(t, wssURL(ts, "/echo"), &wsd.Options{HTTP2: wsd.HTTP2Only, TLSConfig: cfg}, nil)
	rec.expect(t, "open")
	r := within(t, reqs, waitTimeout, "request")
	if r.ProtoMajor != 2 || r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
		t.Fatalf("server saw %s %s :protocol=%q, want HTTP/2 CONNECT websocket", r.Proto, r.Method, r.Header.Get(":protocol"))
	}
	if !c.HTTP2() {
		t.Fatal("client HTTP2() = false")
	}
	c.SendText("hello")
	rec.expectMessage(t, wsd.TextMessage, "hello")
	c.SendBinary([]byte{1, 2, 3})
	rec.expectMessage(t, wsd.BinaryMessage, "\x01\x02\x03")
	big := strings.Repeat("x", 1<<20)
	c.SendText(big)
	rec.expectMessage(t, wsd.TextMessage, big)
	c.Close(1000, "bye")
	rec.expectClose(t, 1000, "bye")
}
