package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
)

func echoCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "address to listen on")
	protocols := fs.String("protocols", "", "comma-separated subprotocols to accept")
	deflate := fs.Bool("deflate", true, "accept permessage-deflate offers and compress every echo (-deflate=false declines them)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := echoOptions(*protocols, *deflate)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return 1
	}
	s := &echoServer{opts: opts, conns: map[*wsd.Conn]struct{}{}}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on ws://%s\n", ln.Addr())
	select {
	case <-sig:
	case err := <-served:
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	s.closeAll(ctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return 1
	}
	return 0
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

// echoServer sends every message back with its type, and remembers its
// connections so that it can close them on shutdown.
type echoServer struct {
	opts  *wsd.Options
	mu    sync.Mutex
	conns map[*wsd.Conn]struct{}
}

func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := wsd.NewServer(w, r, s.opts)
	if err != nil {
		return
	}
	ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
	ws.OnClose(func(int, string) {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
	})
	s.mu.Lock()
	s.conns[ws] = struct{}{}
	s.mu.Unlock()
	if err := ws.Start(r.Context()); err != nil {
		s.mu.Lock()
		delete(s.conns, ws)
		s.mu.Unlock()
	}
}

// closeAll closes every connection with 1001 and waits for them, until ctx
// is done.
func (s *echoServer) closeAll(ctx context.Context) {
	s.mu.Lock()
	conns := make([]*wsd.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close(1001, "server shutting down")
	}
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return
		}
	}
}
