//go:build !js

// Package hubtest is the conformance suite of hub.Broker adapters: an
// adapter's tests call Run with a way to make brokers on a real server,
// and the suite checks what the hub relies on: order per publisher and
// channel, each message once to every member on every node, no delivery
// after Unsubscribe, a broker restart survived and reported, and a node
// leaving without disturbing the others.
package hubtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/hub"
)

// Config tells the suite how to reach the broker under test.
type Config struct {
	// NewBroker returns a new broker connected to the server; the suite
	// makes one per node and closes it through its hub.
	NewBroker func(t testing.TB) hub.Broker
	// Restart stops the broker server and starts it again at the same
	// address. Nil skips the restart test.
	Restart func(t testing.TB)
}

// waitTimeout bounds every wait of the suite.
const waitTimeout = 15 * time.Second

// Run runs the suite.
func Run(t *testing.T, c Config) {
	t.Run("Order", func(t *testing.T) { testOrder(t, c) })
	t.Run("EveryMemberOnce", func(t *testing.T) { testEveryMemberOnce(t, c) })
	t.Run("Unsubscribe", func(t *testing.T) { testUnsubscribe(t, c) })
	t.Run("NodeLeaves", func(t *testing.T) { testNodeLeaves(t, c) })
	if c.Restart != nil {
		t.Run("Restart", func(t *testing.T) { testRestart(t, c) })
	}
}

// node is a hub serving WebSockets: /NAME joins channel NAME.
type node struct {
	h      *hub.Hub
	url    string
	mu     sync.Mutex
	losses []hub.Loss
}

func newNode(t testing.TB, c Config) *node {
	t.Helper()
	n := &node{}
	h, err := hub.New(hub.Options{Broker: c.NewBroker(t), OnLoss: func(l hub.Loss) {
		n.mu.Lock()
		n.losses = append(n.losses, l)
		n.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	n.h = h
	var cmu sync.Mutex
	var conns []*wsd.Conn
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnOpen(func() { h.Join(ws, strings.TrimPrefix(r.URL.Path, "/")) })
		cmu.Lock()
		conns = append(conns, ws)
		cmu.Unlock()
		ws.Start(r.Context())
	}))
	n.url = "ws" + strings.TrimPrefix(s.URL, "http")
	t.Cleanup(func() {
		cmu.Lock()
		for _, ws := range conns {
			ws.Close(1001, "")
			<-ws.Done()
		}
		cmu.Unlock()
		s.Close()
		h.Close()
	})
	return n
}

func (n *node) lossCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.losses)
}

// member is a client of a node, recording the text messages it gets.
type member struct {
	mu   sync.Mutex
	got  []string
	more chan struct{}
}

func join(t testing.TB, n *node, channel string) *member {
	t.Helper()
	m := &member{more: make(chan struct{}, 1)}
	c, err := wsd.NewClient(n.url+"/"+channel, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.OnMessage(func(msg wsd.Message) {
		m.mu.Lock()
		m.got = append(m.got, msg.String())
		m.mu.Unlock()
		select {
		case m.more <- struct{}{}:
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close(1000, "")
		<-c.Done()
	})
	deadline := time.Now().Add(waitTimeout)
	for n.h.Count(channel) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the member did not join")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return m
}

// messages returns what m got that starts with prefix.
func (m *member) messages(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, s := range m.got {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// waitFor waits until m got n messages starting with prefix.
func (m *member) waitFor(t testing.TB, prefix string, n int) []string {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		got := m.messages(prefix)
		if len(got) >= n {
			return got
		}
		select {
		case <-m.more:
		case <-timeout:
			t.Fatalf("%d messages %q within %v, want %d", len(got), prefix, waitTimeout, n)
		}
	}
}

// settle publishes probes from every node until every member has one
// from each: the brokers' subscriptions are then in force.
func settle(t testing.TB, channel string, nodes []*node, members []*member) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for i, n := range nodes {
		prefix := fmt.Sprintf("probe %d ", i)
		for {
			n.h.Publish(channel, wsd.TextMessage, []byte(prefix))
			all := true
			for _, m := range members {
				if len(m.messages(prefix)) == 0 {
					all = false
				}
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				for j, m := range members {
					m.mu.Lock()
					t.Logf("member %d got %d messages: %.200q", j, len(m.got), m.got)
					m.mu.Unlock()
				}
				t.Fatalf("node %d's messages do not reach every member", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func publish(t testing.TB, n *node, channel, prefix string, count int) {
	t.Helper()
	for i := range count {
		if err := n.h.Publish(channel, wsd.TextMessage, fmt.Appendf(nil, "%s%d", prefix, i)); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
}

// checkSequence checks that got is prefix0 .. prefix(count-1), in order.
func checkSequence(t testing.TB, got []string, prefix string, count int) {
	t.Helper()
	if len(got) != count {
		t.Fatalf("%d messages %q, want %d", len(got), prefix, count)
	}
	for i, s := range got {
		if want := fmt.Sprint(prefix, i); s != want {
			t.Fatalf("message %d is %q, want %q", i, s, want)
		}
	}
}

func testOrder(t *testing.T, c Config) {
	a, b := newNode(t, c), newNode(t, c)
	ma, mb := join(t, a, "order"), join(t, b, "order")
	settle(t, "order", []*node{a, b}, []*member{ma, mb})
	const count = 500
	publish(t, a, "order", "m", count)
	for _, m := range []*member{ma, mb} {
		m.waitFor(t, "m", count)
	}
	time.Sleep(100 * time.Millisecond) // room for duplicates to show
	checkSequence(t, ma.messages("m"), "m", count)
	checkSequence(t, mb.messages("m"), "m", count)
}

func testEveryMemberOnce(t *testing.T, c Config) {
	nodes := []*node{newNode(t, c), newNode(t, c), newNode(t, c)}
	var members []*member
	for _, n := range nodes {
		members = append(members, join(t, n, "all"), join(t, n, "all"))
	}
	other := join(t, nodes[0], "other")
	settle(t, "all", nodes, members)
	const count = 100
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publish(t, n, "all", fmt.Sprintf("n%d-", i), count)
		}()
	}
	wg.Wait()
	for _, m := range members {
		for i := range nodes {
			m.waitFor(t, fmt.Sprintf("n%d-", i), count)
		}
	}
	time.Sleep(100 * time.Millisecond)
	for _, m := range members {
		for i := range nodes {
			prefix := fmt.Sprintf("n%d-", i)
			checkSequence(t, m.messages(prefix), prefix, count)
		}
	}
	if got := other.messages(""); len(got) != 0 {
		t.Fatalf("a member of another channel got %d messages", len(got))
	}
}

// recorder is a Receiver that records what a broker delivers.
type recorder struct {
	mu  sync.Mutex
	got map[string]int
}

func (r *recorder) Receive(channel string, msg []byte) {
	r.mu.Lock()
	r.got[channel]++
	r.mu.Unlock()
}

func (r *recorder) Lost(string, error) {}

func (r *recorder) count(channel string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[channel]
}

func testUnsubscribe(t *testing.T, c Config) {
	pub, sub := c.NewBroker(t), c.NewBroker(t)
	rec := &recorder{got: map[string]int{}}
	if err := pub.Open(&recorder{got: map[string]int{}}); err != nil {
		t.Fatal(err)
	}
	if err := sub.Open(rec); err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	defer sub.Close()
	sub.Subscribe("u")
	sub.Subscribe("v")
	wait := func(channel string, n int) {
		t.Helper()
		deadline := time.Now().Add(waitTimeout)
		for rec.count(channel) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d messages on %q, want %d", rec.count(channel), channel, n)
			}
			pub.Publish(channel, []byte("x"))
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("u", 1)
	wait("v", 1)
	if err := sub.Unsubscribe("u"); err != nil {
		t.Fatal(err)
	}
	// Once a message on v published after the unsubscribe arrives, the
	// unsubscribe is in force: nothing on u may follow.
	base := rec.count("v")
	wait("v", base+1)
	before := rec.count("u")
	for range 20 {
		pub.Publish("u", []byte("y"))
	}
	wait("v", rec.count("v")+1)
	time.Sleep(100 * time.Millisecond)
	if got := rec.count("u"); got != before {
		t.Fatalf("%d messages on u after Unsubscribe", got-before)
	}
}

func testNodeLeaves(t *testing.T, c Config) {
	nodes := []*node{newNode(t, c), newNode(t, c), newNode(t, c)}
	var members []*member
	for _, n := range nodes {
		members = append(members, join(t, n, "stay"))
	}
	settle(t, "stay", nodes, members)
	publish(t, nodes[0], "stay", "a", 100)
	nodes[2].h.Close()
	publish(t, nodes[0], "stay", "a", 0)
	for i := 100; i < 200; i++ {
		nodes[1].h.Publish("stay", wsd.TextMessage, fmt.Appendf(nil, "b%d", i-100))
		nodes[0].h.Publish("stay", wsd.TextMessage, fmt.Appendf(nil, "a%d", i))
	}
	for _, m := range members[:2] {
		m.waitFor(t, "a", 200)
		m.waitFor(t, "b", 100)
	}
	time.Sleep(100 * time.Millisecond)
	for _, m := range members[:2] {
		checkSequence(t, m.messages("a"), "a", 200)
		checkSequence(t, m.messages("b"), "b", 100)
	}
	for i, n := range nodes[:2] {
		if k := n.lossCount(); k != 0 {
			t.Errorf("node %d reported %d losses", i, k)
		}
	}
}

func testRestart(t *testing.T, c Config) {
	a, b := newNode(t, c), newNode(t, c)
	ma, mb := join(t, a, "r"), join(t, b, "r")
	settle(t, "r", []*node{a, b}, []*member{ma, mb})
	publish(t, a, "r", "before", 50)
	mb.waitFor(t, "before", 50)
	c.Restart(t)
	restarted := time.Now()
	// Publish until b's member hears from a again.
	deadline := restarted.Add(waitTimeout)
	for i := 0; ; i++ {
		a.h.Publish("r", wsd.TextMessage, fmt.Appendf(nil, "after%d", i))
		if len(mb.messages("after")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no delivery within %v of the restart", waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("delivery resumed %v after the restart", time.Since(restarted).Round(time.Millisecond))
	// Either the reconnection or the gap in numbers was reported on b.
	for b.lossCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the restart was not reported as a possible loss")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.mu.Lock()
	t.Logf("reported: %v", b.losses[0])
	b.mu.Unlock()
	// After the restart, messages flow in order again.
	publish(t, a, "r", "again", 100)
	mb.waitFor(t, "again", 100)
	checkSequence(t, mb.messages("again"), "again", 100)
}
