//go:build !js

package main

import (
	"crypto/tls"
	"expvar"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
)

func echoCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd echo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9001", "address to listen on")
	protocols := fs.String("protocols", "", "comma-separated subprotocols to accept")
	hsTimeout := fs.Duration("handshake-timeout", 10*time.Second, "time limit for a client to send its handshake request")
	debug := fs.Bool("debug", false, "serve runtime figures (goroutines, memory) as JSON at /debug/vars to plain HTTP requests")
	origins := fs.String("origin", "", "comma-separated host[:port] patterns of other origins whose pages may connect (* for any)")
	deflate := fs.Bool("deflate", true, "accept permessage-deflate offers and compress every echo (-deflate=false declines them)")
	engine := fs.String("engine", "goroutine", "transport: goroutine (net/http, a goroutine per connection), epoll (event loops) or uring (event loops on io_uring, epoll where unavailable)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate file: serve wss://, with WebSockets over HTTP/2 too")
	tlsKey := fs.String("tls-key", "", "PEM private key file of -tls-cert")
	selfSign := fs.Bool("tls-self-signed", false, "serve wss:// with a new self-signed certificate, for local tests; prints its fingerprint")
	rest, code := parseCommand(fs, args, echoHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "wsd echo: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	if *engine != "goroutine" && *engine != "epoll" && *engine != "uring" {
		fmt.Fprintf(stderr, "wsd echo: unknown engine %q: want goroutine, epoll or uring\n", *engine)
		return 2
	}
	opts := echoOptions(*protocols, *deflate)
	opts.Group = &wsd.Group{}
	opts.HandshakeTimeout = *hsTimeout
	if *origins != "" {
		opts.OriginPatterns = strings.Split(*origins, ",")
	}
	tlsCfg, err := echoTLS(*tlsCert, *tlsKey, *selfSign, *addr, stdout)
	if err == nil && tlsCfg != nil && *engine != "goroutine" {
		err = fmt.Errorf("-engine %s serves plain TCP only", *engine)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return 1
	}
	scheme := "ws"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "wss"
	}
	handler := echoHandler(opts)
	if *debug {
		handler = withDebug(handler)
	}
	// Slow or oversized handshakes are cut off before they hold much.
	var srv transport = &http.Server{Handler: handler, ReadHeaderTimeout: *hsTimeout, MaxHeaderBytes: 16 << 10}
	if *engine != "goroutine" {
		srv = &eventloop.Server{Handler: handler, ReadHeaderTimeout: *hsTimeout, MaxHeaderBytes: 16 << 10, Engine: *engine}
	}
	return serveUntilSignal("wsd echo", srv, ln, opts.Group, scheme, stdout, stderr)
}

func echoOptions(protocols string, deflate bool) *wsd.Options {
	opts := &wsd.Options{}
	if deflate {
		// Compress every message, however small, so that a client sees
		// its messages come back compressed.
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	} else {
		opts.Compression.Mode = wsd.CompressionDisabled
	}
	if protocols != "" {
		opts.AcceptProtocols = strings.Split(protocols, ",")
	}
	return opts
}

// echoHandler sends every message back with its type.
func echoHandler(opts *wsd.Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
}

// withDebug answers GET /debug/vars with the runtime figures that load
// and soak tests watch, and passes everything else to h.
func withDebug(h http.Handler) http.Handler {
	expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debug/vars" && r.Header.Get("Upgrade") == "" {
			expvar.Handler().ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
