//go:build !js

package xconnect_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	_ "github.com/wsd-go/wsd/xconnect"
)

// TestServerAnnounces checks that the import alone, with no GODEBUG set by
// hand, makes net/http's HTTP/2 server announce extended CONNECT: a client
// that insists on RFC 8441 gets its WebSocket over HTTP/2.
func TestServerAnnounces(t *testing.T) {
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		t.Fatalf("GODEBUG = %q", os.Getenv("GODEBUG"))
	}
	reqs := make(chan *http.Request, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- r
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(wsd.Message) {})
		ws.Start(r.Context())
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	c, err := wsd.NewClient("wss"+strings.TrimPrefix(ts.URL, "https"), &wsd.Options{HTTP2: wsd.HTTP2Only, TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		if errors.Is(err, wsd.ErrHTTP2Unsupported) {
			t.Fatalf("the server did not announce the setting: %v", err)
		}
		t.Fatal(err)
	}
	if r := <-reqs; r.ProtoMajor != 2 || r.Method != http.MethodConnect {
		t.Errorf("server saw %s %s", r.Proto, r.Method)
	}
	c.Close(1000, "")
	<-c.Done()
}
