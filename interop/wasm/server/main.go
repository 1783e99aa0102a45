//go:build !js

// Command server is the wsd side of the browser client's test: it serves
// the page, wasm_exec.js and the test client (a wsd client built for
// GOOS=js GOARCH=wasm) from -dir, and the WebSocket endpoints the client
// talks to.
//
//	server -dir DIR [-addr 127.0.0.1:0]
//
// It prints "listening on http://ADDR" when ready. Endpoints:
//
//	/echo?id=ID                  echoes every message (subprotocol "chat" if offered)
//	/close?code=C&reason=R       closes with C and R after the first message
//	/send?n=N&size=S             sends N binary messages of S bytes on open
//	/stall                       never reads: the client's sends back up
//	/slow                        echoes, after holding the handshake 3 s
//	/seen?id=ID                  the close code and reason the server saw
//	                             for connection ID, as "CODE REASON", once
//	                             it has closed (waits up to 10 s)
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wsd-go/wsd"
)

//go:embed index.html
var page []byte

func main() {
	dir := flag.String("dir", "", "directory holding wasm_exec.js and client.wasm")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{seen: map[string]chan string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	files := http.FileServer(http.Dir(*dir))
	mux.Handle("/wasm_exec.js", files)
	mux.Handle("/client.wasm", files)
	mux.HandleFunc("/echo", s.echo)
	mux.HandleFunc("/close", s.close)
	mux.HandleFunc("/send", s.send)
	mux.HandleFunc("/stall", s.stall)
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
			s.echo(w, r)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/seen", s.seenHandler)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Fatal(srv.Serve(ln))
}

type server struct {
	mu   sync.Mutex
	seen map[string]chan string // by connection id: "CODE REASON"
}

func (s *server) seenChan(id string) chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.seen[id]
	if !ok {
		ch = make(chan string, 1)
		s.seen[id] = ch
	}
	return ch
}

// upgrade starts a wsd connection that records its close under ?id.
func (s *server) upgrade(w http.ResponseWriter, r *http.Request, opts *wsd.Options, setup func(*wsd.Conn)) {
	ws, err := wsd.NewServer(w, r, opts)
	if err != nil {
		return
	}
	if id := r.URL.Query().Get("id"); id != "" {
		ch := s.seenChan(id)
		ws.OnClose(func(code int, reason string) { ch <- fmt.Sprintf("%d %s", code, reason) })
	}
	setup(ws)
	ws.Start(r.Context())
}

var chat = &wsd.Options{AcceptProtocols: []string{"chat"}, MaxLength: 64 << 20}

func (s *server) echo(w http.ResponseWriter, r *http.Request) {
	s.upgrade(w, r, chat, func(ws *wsd.Conn) {
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
	})
}

func (s *server) close(w http.ResponseWriter, r *http.Request) {
	code, _ := strconv.Atoi(r.URL.Query().Get("code"))
	reason := r.URL.Query().Get("reason")
	s.upgrade(w, r, nil, func(ws *wsd.Conn) {
		ws.OnMessage(func(wsd.Message) { ws.Close(code, reason) })
	})
}

func (s *server) send(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	s.upgrade(w, r, nil, func(ws *wsd.Conn) {
		ws.OnOpen(func() {
			go func() {
				for i := range n {
					b := make([]byte, size)
					b[0] = byte(i)
					if ws.SendBinary(b) != nil {
						return
					}
				}
			}()
		})
	})
}

// stall has no OnMessage handler and never calls Read, so wsd stops
// reading the socket once its read queue is full.
func (s *server) stall(w http.ResponseWriter, r *http.Request) {
	s.upgrade(w, r, &wsd.Options{MaxLength: 64 << 20}, func(*wsd.Conn) {})
}

func (s *server) seenHandler(w http.ResponseWriter, r *http.Request) {
	ch := s.seenChan(r.URL.Query().Get("id"))
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	select {
	case v := <-ch:
		ch <- v
		fmt.Fprint(w, v)
	case <-ctx.Done():
		http.Error(w, "the connection did not close", http.StatusGatewayTimeout)
	}
}
