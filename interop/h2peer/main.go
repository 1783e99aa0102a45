//go:build !js

// Command h2peer is the server of the interop suite's HTTP/2 check: a wss://
// server on net/http with HTTP/2 and RFC 8441 on, and a self-signed
// certificate. It prints "listening on https://ADDR spki=HASH", then serves
//
//	/        a page with nothing on it, so that the browser holds an HTTP/2
//	         connection that its WebSockets can share
//	/echo    a WebSocket that echoes every message with its type
//	/close?code=C&reason=R  a WebSocket that closes with C and R on its
//	         first message
//	/result  what the server saw of each WebSocket, as JSON: protocol,
//	         method, :protocol, its HTTP2 method, and the close
//
// until SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/internal/selfsigned"
	_ "github.com/wsd-go/wsd/xconnect"
)

// seen is what the server saw of one WebSocket.
type seen struct {
	Path        string `json:"path"`
	Proto       string `json:"proto"`
	Method      string `json:"method"`
	Protocol    string `json:"protocol"`
	HTTP2       bool   `json:"http2"`
	Messages    int    `json:"messages"`
	Bytes       int    `json:"bytes"`
	CloseCode   int    `json:"closeCode"`
	CloseReason string `json:"closeReason"`
	Closed      bool   `json:"closed"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	cert, err := selfsigned.New("127.0.0.1", "localhost")
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	var all []*seen
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>h2peer</title><p>%s</p>\n", r.Proto)
	})
	mux.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(all)
	})
	ws := func(w http.ResponseWriter, r *http.Request) {
		s := &seen{Path: r.URL.Path, Proto: r.Proto, Method: r.Method, Protocol: r.Header.Get(":protocol")}
		c, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		s.HTTP2 = c.HTTP2()
		mu.Lock()
		all = append(all, s)
		mu.Unlock()
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		reason := r.URL.Query().Get("reason")
		c.OnMessage(func(m wsd.Message) {
			mu.Lock()
			s.Messages++
			s.Bytes += len(m.Data)
			mu.Unlock()
			if code != 0 {
				c.Close(code, reason)
				return
			}
			c.Send(m.Data, wsd.SendOptions{Type: m.Type})
		})
		c.OnClose(func(code int, reason string) {
			mu.Lock()
			s.CloseCode, s.CloseReason, s.Closed = code, reason, true
			mu.Unlock()
		})
		c.Start(r.Context())
	}
	mux.HandleFunc("/echo", ws)
	mux.HandleFunc("/close", ws)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	fmt.Printf("listening on https://%s spki=%s\n", ln.Addr(), cert.SPKIHash())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	}()
	if err := srv.ServeTLS(ln, "", ""); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
