//go:build !js

// Command chat is a small chat room: one static page, and a WebSocket
// endpoint that passes every message to every member, through a channel
// of the hub package. With -broker, several chat servers share the room
// through NATS or Redis.
//
//	go run . [-addr 127.0.0.1:8080] [-broker nats://HOST:PORT | redis://HOST:PORT]
//
// then open the printed address in two browser windows. The example is a
// module of its own, as the broker adapters bring their dependencies.
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
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/natsbroker"
	"github.com/wsd-go/wsd/hub/redisbroker"
)

//go:embed index.html
var page []byte

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	brokerURL := flag.String("broker", "", "share the room with other chat servers: nats://HOST:PORT or redis://HOST:PORT")
	flag.Parse()

	var broker hub.Broker
	var err error
	switch {
	case *brokerURL == "":
	case strings.HasPrefix(*brokerURL, "nats://"):
		broker, err = natsbroker.Dial(*brokerURL)
	case strings.HasPrefix(*brokerURL, "redis://"):
		broker, err = redisbroker.Dial(*brokerURL)
	default:
		err = fmt.Errorf("broker %q: want nats:// or redis://", *brokerURL)
	}
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	r, err := newRoom(broker)
	if err != nil {
		log.Fatal(err)
	}
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

// channel is the hub channel of the room.
const channel = "chat"

// room is the chat room of this server, a channel of a hub; members on
// other servers sharing the broker are in it too.
type room struct {
	h     *hub.Hub
	group wsd.Group
}

// newRoom returns a room over broker, or for this server alone if nil. A
// member that falls 256 KiB behind is closed with 1008.
func newRoom(broker hub.Broker) (*room, error) {
	h, err := hub.New(hub.Options{
		Broker:        broker,
		MaxQueueBytes: 256 << 10,
		OnLoss:        func(l hub.Loss) { log.Printf("chat: %v", l) },
	})
	if err != nil {
		return nil, err
	}
	return &room{h: h}, nil
}

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
	Members int    `json:"members,omitempty"` // on this server
}

func (r *room) join(w http.ResponseWriter, req *http.Request) {
	conn, err := wsd.NewServer(w, req, &wsd.Options{MaxLength: 16 << 10, Group: &r.group})
	if err != nil {
		return
	}
	conn.OnOpen(func() {
		r.h.Join(conn, channel)
		r.sendMembers()
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
		b, err := json.Marshal(outgoing{
			Type: "message",
			Name: clip(strings.TrimSpace(in.Name), 32, "someone"),
			Text: clip(text, 2000, ""),
			Time: time.Now().Format("15:04"),
		})
		if err == nil {
			r.h.Publish(channel, wsd.TextMessage, b)
		}
	})
	// The hub has let the connection go when the close event comes.
	conn.OnClose(func(int, string) { r.sendMembers() })
	conn.Start(req.Context())
}

// sendMembers tells this server's members how many they are.
func (r *room) sendMembers() {
	b, _ := json.Marshal(outgoing{Type: "members", Members: r.h.Count(channel)})
	r.h.PublishLocal(channel, wsd.TextMessage, b)
}

// closeAll says goodbye to every member with 1001, which tells the page to
// come back, and waits for them until ctx is done.
func (r *room) closeAll(ctx context.Context) {
	r.group.Shutdown(ctx)
	r.h.Close()
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
