//go:build !js

package hub_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
	"github.com/wsd-go/wsd/hub"
)

const waitTimeout = 10 * time.Second

var engines = []string{"goroutine", "epoll"}

// serve serves h on 127.0.0.1 on the engine until the test ends and
// returns its ws:// URL.
func serve(t testing.TB, engine string, h http.Handler) string {
	t.Helper()
	if engine == "goroutine" {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return "ws" + strings.TrimPrefix(s.URL, "http")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &eventloop.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(done)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "ws://" + ln.Addr().String()
}

// node is a hub served over WebSockets: a connection to /NAME joins the
// channel NAME, and what it sends is published there.
type node struct {
	h     *hub.Hub
	url   string
	conns sync.WaitGroup
}

func newNode(t testing.TB, engine string, opts hub.Options, wopts *wsd.Options) *node {
	t.Helper()
	h, err := hub.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{h: h}
	var mu sync.Mutex
	var all []*wsd.Conn
	n.url = serve(t, engine, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, wopts)
		if err != nil {
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		c.OnMessage(func(m wsd.Message) { h.Publish(name, m.Type, m.Data) })
		if err := h.Join(c, name); err != hub.ErrNotOpen {
			t.Errorf("Join before Start: %v, want ErrNotOpen", err)
		}
		c.OnOpen(func() {
			if err := h.Join(c, name); err != nil {
				t.Errorf("Join: %v", err)
			}
		})
		mu.Lock()
		all = append(all, c)
		mu.Unlock()
		c.Start(r.Context())
	}))
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range all {
			c.Close(1001, "")
			select {
			case <-c.Done():
			case <-time.After(waitTimeout):
				t.Errorf("a server connection did not close")
			}
		}
		h.Close()
	})
	return n
}

// client is a member seen from outside: the messages it receives.
type client struct {
	c    *wsd.Conn
	msgs chan wsd.Message
	code atomic.Int32
}

func dial(t testing.TB, url string, opts *wsd.Options) *client {
	t.Helper()
	c, err := wsd.NewClient(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{c: c, msgs: make(chan wsd.Message, 100_000)}
	c.OnMessage(func(m wsd.Message) {
		select {
		case cl.msgs <- wsd.Message{Type: m.Type, Data: []byte(m.String())}:
		default:
			t.Errorf("client buffer full")
		}
	})
	c.OnClose(func(code int, _ string) { cl.code.Store(int32(code)) })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close(1000, "")
		<-c.Done()
	})
	return cl
}

func (cl *client) expect(t testing.TB, typ wsd.MessageType, data string) {
	t.Helper()
	select {
	case m := <-cl.msgs:
		if m.Type != typ || string(m.Data) != data {
			t.Fatalf("got %v %.40q, want %v %.40q", m.Type, m.Data, typ, data)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %v, want %.40q", waitTimeout, data)
	}
}

func (cl *client) expectNone(t testing.TB) {
	t.Helper()
	select {
	case m := <-cl.msgs:
		t.Fatalf("unexpected message %.40q", m.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

// eventually polls cond until it holds or the wait times out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJoinPublishLeave(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			n := newNode(t, engine, hub.Options{}, nil)
			a1, a2 := dial(t, n.url+"/a", nil), dial(t, n.url+"/a", nil)
			b := dial(t, n.url+"/b", nil)
			eventually(t, "3 members", func() bool { return n.h.Count("a") == 2 && n.h.Count("b") == 1 })
			if got := len(n.h.Members("a")); got != 2 {
				t.Fatalf("Members(a): %d, want 2", got)
			}
			a1.c.SendText("hello a")
			a1.expect(t, wsd.TextMessage, "hello a")
			a2.expect(t, wsd.TextMessage, "hello a")
			b.c.SendBinary([]byte{1, 2, 3})
			b.expect(t, wsd.BinaryMessage, "\x01\x02\x03")
			if err := n.h.Publish("a", wsd.BinaryMessage, []byte("from the server")); err != nil {
				t.Fatal(err)
			}
			a2.expect(t, wsd.BinaryMessage, "from the server")
			a1.expect(t, wsd.BinaryMessage, "from the server")
			b.expectNone(t)

			// A server connection leaves, then closes: the channel
			// empties.
			for _, c := range n.h.Members("a") {
				n.h.Leave(c, "a")
				n.h.Leave(c, "a")
			}
			if n.h.Count("a") != 0 || len(n.h.Channels()) != 1 {
				t.Fatalf("after Leave: %d members of a, channels %v", n.h.Count("a"), n.h.Channels())
			}
			n.h.Publish("a", wsd.TextMessage, []byte("nobody"))
			a1.expectNone(t)
			b.c.Close(1000, "")
			eventually(t, "b left on close", func() bool { return n.h.Count("b") == 0 })
			if err := n.h.Publish("", wsd.TextMessage, nil); err == nil {
				t.Error("published to a channel without a name")
			}
			if err := n.h.Publish("a", wsd.TextMessage, []byte{0xff}); err == nil {
				t.Error("published invalid UTF-8 as text")
			}
			n.h.Close()
			if err := n.h.Publish("a", wsd.TextMessage, nil); err != hub.ErrClosed {
				t.Errorf("Publish after Close: %v, want ErrClosed", err)
			}
			if err := n.h.Join(a1.c, "a"); err != hub.ErrClosed {
				t.Errorf("Join after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// Members that agreed permessage-deflate get the compressed frame, the
// others the plain one, from one publish.
func TestCompressedMembers(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			n := newNode(t, engine, hub.Options{}, nil)
			plain := dial(t, n.url+"/c", nil)
			z := dial(t, n.url+"/c", &wsd.Options{Compression: wsd.CompressionOptions{Mode: wsd.CompressionEnabled}})
			if z.c.Extensions() == "" {
				t.Fatal("no deflate agreed")
			}
			eventually(t, "2 members", func() bool { return n.h.Count("c") == 2 })
			text := strings.Repeat("all the same, ", 100)
			for i := range 20 {
				n.h.Publish("c", wsd.TextMessage, []byte(fmt.Sprint(i, text)))
			}
			for i := range 20 {
				plain.expect(t, wsd.TextMessage, fmt.Sprint(i, text))
				z.expect(t, wsd.TextMessage, fmt.Sprint(i, text))
			}
		})
	}
}

// stalled opens a WebSocket to url and never reads from it.
func stalled(t testing.TB, url string) net.Conn {
	t.Helper()
	u := strings.TrimPrefix(url, "ws://")
	host, path, _ := strings.Cut(u, "/")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10)
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(nc, "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, host, base64.StdEncoding.EncodeToString(key))
	nc.SetReadDeadline(time.Now().Add(waitTimeout))
	br := bufio.NewReaderSize(nc, 16)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	return nc
}

// A member that reads nothing holds up no other member and no publisher;
// it loses messages, and the application hears of it, by policy.
func TestStalledMember(t *testing.T) {
	for _, engine := range engines {
		for _, policy := range []hub.Policy{hub.CloseSlow, hub.DropNew} {
			t.Run(fmt.Sprint(engine, "/", policy), func(t *testing.T) {
				var mu sync.Mutex
				var losses []hub.Loss
				opts := hub.Options{Policy: policy, OnLoss: func(l hub.Loss) {
					mu.Lock()
					if len(losses) > 0 && losses[0].Conn != l.Conn {
						t.Errorf("a second member lost messages: %v", l)
					}
					losses = append(losses, l)
					mu.Unlock()
				}}
				n := newNode(t, engine, opts, &wsd.Options{CloseTimeout: 500 * time.Millisecond})
				var readers []*client
				for range 4 {
					readers = append(readers, dial(t, n.url+"/s", nil))
				}
				stalled(t, n.url+"/s")
				eventually(t, "5 members", func() bool { return n.h.Count("s") == 5 })
				payload := strings.Repeat("x", 16<<10)
				const count = 600 // about 10 MB: more than the socket buffers hold
				start := time.Now()
				var slowest time.Duration
				// The readers keep up: every 8 messages the test reads
				// them; the stalled member falls behind.
				for i := range count {
					t0 := time.Now()
					n.h.Publish("s", wsd.TextMessage, []byte(fmt.Sprint(i, payload)))
					slowest = max(slowest, time.Since(t0))
					if i%8 == 7 {
						for j := i - 7; j <= i; j++ {
							for _, r := range readers {
								r.expect(t, wsd.TextMessage, fmt.Sprint(j, payload))
							}
						}
					}
				}
				t.Logf("published %d messages in %v (slowest %v); every reader got them all", count, time.Since(start), slowest)
				if slowest > time.Second {
					t.Errorf("a publish took %v: it waited for the stalled member", slowest)
				}
				eventually(t, "the loss reported", func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(losses) > 0
				})
				mu.Lock()
				l := losses[0]
				lost := 0
				for _, l := range losses {
					lost += l.Messages
				}
				mu.Unlock()
				if l.Conn == nil || l.Channel != "s" || l.Reason != hub.ErrSlowConsumer || l.Closed != (policy == hub.CloseSlow) || l.Messages == 0 {
					t.Fatalf("loss %v", l)
				}
				t.Logf("%d messages lost for the stalled member", lost)
				if policy == hub.CloseSlow {
					eventually(t, "the stalled member gone", func() bool { return n.h.Count("s") == 4 })
				} else if n.h.Count("s") != 5 {
					t.Fatalf("%d members; the stalled one is still a member with DropNew", n.h.Count("s"))
				}
			})
		}
	}
}

// Two hubs on one bus are two nodes: every member gets each message once,
// in the order of its publisher, and a gap is reported.
func TestTwoNodes(t *testing.T) {
	var bus hub.MemoryBus
	n1 := newNode(t, "goroutine", hub.Options{Broker: bus.Broker()}, nil)
	n2 := newNode(t, "epoll", hub.Options{Broker: bus.Broker()}, nil)
	c1, c2 := dial(t, n1.url+"/room", nil), dial(t, n2.url+"/room", nil)
	other := dial(t, n2.url+"/other", nil)
	eventually(t, "members", func() bool { return n1.h.Count("room") == 1 && n2.h.Count("room") == 1 })
	for i := range 100 {
		c1.c.SendText(fmt.Sprint("one ", i))
	}
	for i := range 100 {
		want := fmt.Sprint("one ", i)
		c1.expect(t, wsd.TextMessage, want)
		c2.expect(t, wsd.TextMessage, want)
	}
	n2.h.Publish("room", wsd.BinaryMessage, []byte("two"))
	c1.expect(t, wsd.BinaryMessage, "two")
	c2.expect(t, wsd.BinaryMessage, "two")
	c1.expectNone(t)
	c2.expectNone(t)
	other.expectNone(t)
}
