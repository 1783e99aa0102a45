//go:build !js

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// member joins the room at url and returns the messages it receives.
func join(t *testing.T, ctx context.Context, url string) (*wsd.Conn, <-chan outgoing) {
	t.Helper()
	c, err := wsd.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan outgoing, 16)
	c.OnMessage(func(m wsd.Message) {
		var out outgoing
		if err := json.Unmarshal(m.Data, &out); err != nil {
			t.Errorf("bad message %q: %v", m.Data, err)
		}
		got <- out
	})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close(1000, "")
		<-c.Done()
	})
	return c, got
}

// next returns the next message of the given type.
func next(t *testing.T, got <-chan outgoing, typ string) outgoing {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-got:
			if m.Type == typ {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s message within 5 s", typ)
		}
	}
}

func TestRoom(t *testing.T) {
	r, err := newRoom(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.h.Close()
	srv := httptest.NewServer(r.handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "new WebSocket") {
		t.Fatalf("GET / = %d, %d bytes without the page's script", resp.StatusCode, len(body))
	}

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	alice, fromAlice := join(t, ctx, url)
	if m := next(t, fromAlice, "members"); m.Members != 1 {
		t.Fatalf("alice sees %d members, want 1", m.Members)
	}
	_, toBob := join(t, ctx, url)
	if m := next(t, toBob, "members"); m.Members != 2 {
		t.Fatalf("bob sees %d members, want 2", m.Members)
	}

	alice.SendText(`{"name":"  alice ","text":" hi bob "}`)
	alice.SendText(`not json`)
	alice.SendText(`{"name":"alice","text":"   "}`)
	for _, got := range []<-chan outgoing{toBob, fromAlice} {
		m := next(t, got, "message")
		if m.Name != "alice" || m.Text != "hi bob" || m.Time == "" {
			t.Fatalf("got %+v, want alice's trimmed message", m)
		}
	}

	alice.Close(1000, "")
	<-alice.Done()
	if m := next(t, toBob, "members"); m.Members != 1 {
		t.Fatalf("after alice left bob sees %d members, want 1", m.Members)
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, "def"},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"日本語です", 3, "日本語"},
	} {
		if got := clip(c.s, c.n, "def"); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
