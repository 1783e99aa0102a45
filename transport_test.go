//go:build !js

package wsd

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// ServeEngine, when set, serves the tests' handlers on a transport other
// than net/http: the tests of the engine set it, and the whole suite runs
// again on that transport.
var ServeEngine func(h http.Handler) (addr string, stop func())

// TestScheme is the scheme of ServeForTest's URLs: "https" when the suite
// runs over TLS, with TestClientOptions making clients fit.
var TestScheme = "http"

// TestClientOptions, when set, adapts a test client's options to the
// transport under test.
var TestClientOptions func(o *Options)

// TestHTTPServer is what the tests use of an httptest.Server, on whichever
// transport is under test.
type TestHTTPServer struct {
	URL  string // http://host:port
	Addr string // host:port
	stop func()
	once sync.Once
}

// Close stops the server; it may be called more than once.
func (s *TestHTTPServer) Close() { s.once.Do(s.stop) }

// ServeForTest serves h on 127.0.0.1 until the test ends.
func ServeForTest(t testing.TB, h http.Handler) *TestHTTPServer {
	s := &TestHTTPServer{}
	if ServeEngine != nil {
		s.Addr, s.stop = ServeEngine(h)
	} else {
		ts := httptest.NewServer(h)
		s.Addr, s.stop = ts.Listener.Addr().String(), ts.Close
	}
	s.URL = TestScheme + "://" + s.Addr
	t.Cleanup(s.Close)
	return s
}
