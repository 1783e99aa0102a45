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
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
)

func echoCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "address to listen on")
	protocols := fs.String("protocols", "", "comma-separated subprotocols to accept")
	origins := fs.String("origin", "", "comma-separated host[:port] patterns of other origins whose pages may connect (* for any)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := &wsd.Options{Group: &wsd.Group{}}
	if *protocols != "" {
		opts.AcceptProtocols = strings.Split(*protocols, ",")
	}
	if *origins != "" {
		opts.OriginPatterns = strings.Split(*origins, ",")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: echoHandler(opts), ReadHeaderTimeout: 10 * time.Second}
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
	opts.Group.Shutdown(ctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "wsd echo: %v\n", err)
		return 1
	}
	return 0
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
