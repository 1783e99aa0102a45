// Package servers holds the WebSocket echo servers that the benchmark
// compares, registered by name.
//
// Every server echoes each text or binary message back with the same type,
// answers pings, and answers a close frame with a close frame. Compression
// is off unless Options.Deflate asks for it.
//
// To add a server, write one file in this package whose init function calls
// Register with a name and a StartFunc; the benchws command then offers it
// like any other.
package servers

import (
	"errors"
	"log"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"
)

// StartFunc starts an echo server listening on addr (host:port; the port
// may be 0) with the given options. It returns the address actually bound
// and a function that stops the server from accepting connections. The
// server runs in the background; the benchmark runs each server in a
// process of its own and ends it by killing that process, so stop need not
// wait for open connections.
type StartFunc func(addr string, opts Options) (bound string, stop func(), err error)

// Options are the settings a server is started with.
type Options struct {
	// Deflate enables permessage-deflate (RFC 7692): the server accepts
	// an offer of "permessage-deflate; client_no_context_takeover;
	// server_no_context_takeover" and compresses every text and binary
	// message it sends, whatever its size, at the library's default or
	// fastest level. Without it the server declines compression.
	Deflate bool
}

var (
	mu       sync.Mutex
	registry = map[string]StartFunc{}
)

// Register adds a server under name. It panics if the name is taken, so
// that a mistake shows up at start-up.
func Register(name string, start StartFunc) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[name]; dup {
		panic("servers: duplicate server name " + name)
	}
	registry[name] = start
}

// Get returns the server registered under name.
func Get(name string) (StartFunc, bool) {
	mu.Lock()
	defer mu.Unlock()
	start, ok := registry[name]
	return start, ok
}

// Names returns the registered names, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// MaxMessage is the largest message every server must accept. The
// benchmark sends at most 1 MiB; the margin leaves room for other sizes.
const MaxMessage = 64 << 20

// ServeHTTP is a helper for servers built on net/http: it listens on addr
// and serves h with a plain http.Server until stop is called.
func ServeHTTP(addr string, h http.Handler) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := srv.Serve(ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("http server: %v", err)
		}
	}()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}
