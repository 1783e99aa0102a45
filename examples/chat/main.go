//go:build !js

// Command chat is a small chat room: one static page, and a WebSocket
// endpoint that passes every message to every member.
//
//	go run ./examples/chat [-addr 127.0.0.1:8080]
//
// then open the printed address in two browser windows.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wsd-go/wsd"
)

//go:embed index.html
var page []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	r := newRoom()
	srv := &http.Server{Handler: r.handler(), ReadHeaderTimeout: 10 * time.Second}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("listening on http://%s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-served:
		log.Fatal(err)
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	r.closeAll(ctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// A member's messages wait in its queue; a member that falls this far
// behind is let go.
const queueSize = 64

type member struct {
	conn  *wsd.Conn
	queue chan []byte
}

type room struct {
	mu      sync.Mutex
	members map[*member]struct{}
}

func newRoom() *room { return &room{members: map[*member]struct{}{}} }

// handler serves the page at / and the room at /ws.
func (r *room) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	mux.HandleFunc("GET /ws", r.join)
	return mux
}

// What the page sends, and what the room sends to the page.
type incoming struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type outgoing struct {
	Type    string `json:"type"` // "message" or "members"
	Name    string `json:"name,omitempty"`
	Text    string `json:"text,omitempty"`
	Time    string `json:"time,omitempty"`
	Members int    `json:"members,omitempty"`
}

func (r *room) join(w http.ResponseWriter, req *http.Request) {
	conn, err := wsd.NewServer(w, req, &wsd.Options{MaxLength: 16 << 10})
	if err != nil {
		return
	}
	m := &member{conn: conn, queue: make(chan []byte, queueSize)}
	conn.OnOpen(func() {
		r.mu.Lock()
		r.members[m] = struct{}{}
		r.mu.Unlock()
		go m.write()
		r.broadcastMembers()
	})
	conn.OnMessage(func(msg wsd.Message) {
		var in incoming
		if msg.Type != wsd.TextMessage || json.Unmarshal(msg.Data, &in) != nil {
			return
		}
		text := strings.TrimSpace(in.Text)
		if text == "" {
			return
		}
		r.broadcast(outgoing{
			Type: "message",
			Name: clip(strings.TrimSpace(in.Name), 32, "someone"),
			Text: clip(text, 2000, ""),
			Time: time.Now().Format("15:04"),
		})
	})
	conn.OnClose(func(int, string) {
		r.mu.Lock()
		_, ok := r.members[m]
		delete(r.members, m)
		r.mu.Unlock()
		if ok {
			close(m.queue)
			r.broadcastMembers()
		}
	})
	conn.Start(req.Context())
}

// write sends the member's queue in order, on a goroutine of its own, so
// that a slow member holds up no one else.
func (m *member) write() {
	for b := range m.queue {
		m.conn.SendText(string(b))
	}
}

func (r *room) broadcast(out outgoing) {
	b, err := json.Marshal(out)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for m := range r.members {
		select {
		case m.queue <- b:
		default:
			go m.conn.Close(1008, "too slow")
		}
	}
}

func (r *room) broadcastMembers() {
	r.mu.Lock()
	n := len(r.members)
	r.mu.Unlock()
	r.broadcast(outgoing{Type: "members", Members: n})
}

// closeAll says goodbye to every member with 1001, which tells the page to
// come back, and waits for them until ctx is done.
func (r *room) closeAll(ctx context.Context) {
	r.mu.Lock()
	var conns []*wsd.Conn
	for m := range r.members {
		conns = append(conns, m.conn)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.Close(1001, "server restarting")
	}
	for _, c := range conns {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return
		}
	}
}

// clip returns s cut to at most n runes, or def if s is empty.
func clip(s string, n int, def string) string {
	if s == "" {
		return def
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
