//go:build !js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
)

type closeSeen struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	// SendAfterClose is what sending on the closed connection returned:
	// it must be ErrClosed.
	SendAfterClose string `json:"sendAfterClose"`
}

type peerServer struct {
	opts   *wsd.Options
	mu     sync.Mutex
	open   int
	closes map[string]closeSeen
}

func serverCmd(args []string) int {
	fs := flag.NewFlagSet("wsdpeer server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	protocols := fs.String("protocols", "chat,superchat", "subprotocols to accept, comma-separated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := &wsd.Options{CloseTimeout: 2 * time.Second}
	if *protocols != "" {
		opts.AcceptProtocols = strings.Split(*protocols, ",")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsdpeer server: %v\n", err)
		return 1
	}
	s := &peerServer{opts: opts, closes: map[string]closeSeen{}}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// One request per TCP connection, so that idle keep-alive connections
	// do not count as goroutines in /stats.
	srv.SetKeepAlivesEnabled(false)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("listening on ws://%s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-served:
		fmt.Fprintf(os.Stderr, "wsdpeer server: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return 0
}

func (s *peerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path == "/stats" {
		s.stats(w, q.Get("id"))
		return
	}
	opts := s.opts
	if r.URL.Path == "/limit" {
		o := *s.opts
		o.MaxLength, _ = strconv.Atoi(q.Get("max"))
		opts = &o
	}
	ws, err := wsd.NewServer(w, r, opts)
	if err != nil {
		return
	}
	id := q.Get("id")
	var then func() // what the path does once the connection is open
	switch r.URL.Path {
	case "/close":
		code, _ := strconv.Atoi(q.Get("code"))
		reason := q.Get("reason")
		then = func() { ws.Close(code, reason) }
	case "/ping":
		then = func() {
			ws.SendPing([]byte("wsd-ping"), func() { ws.SendText("pong:wsd-ping") })
		}
	}
	ws.OnOpen(func() {
		s.mu.Lock()
		s.open++
		s.mu.Unlock()
		if then != nil {
			then()
		}
	})
	ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
	ws.OnClose(func(code int, reason string) {
		after := "ErrClosed"
		if err := ws.SendText("too late"); !errors.Is(err, wsd.ErrClosed) {
			after = fmt.Sprintf("%v", err)
		}
		s.mu.Lock()
		s.open--
		if id != "" {
			s.closes[id] = closeSeen{code, reason, after}
		}
		s.mu.Unlock()
	})
	ws.Start(r.Context())
}

// stats answers with the number of open connections, the number of
// goroutines, and the close seen on connection id, if any.
func (s *peerServer) stats(w http.ResponseWriter, id string) {
	s.mu.Lock()
	out := struct {
		Open       int        `json:"open"`
		Goroutines int        `json:"goroutines"`
		Close      *closeSeen `json:"close"`
	}{Open: s.open, Goroutines: runtime.NumGoroutine()}
	if c, ok := s.closes[id]; ok {
		out.Close = &c
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
