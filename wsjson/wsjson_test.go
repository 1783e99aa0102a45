//go:build !js

package wsjson_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/wsjson"
)

type point struct {
	X, Y int
	Tag  string
}

func TestRoundTrip(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, nil)
		if err != nil || c.Start(r.Context()) != nil {
			return
		}
		go func() {
			for {
				var p point
				if err := wsjson.Read(context.Background(), c, &p); err != nil {
					c.Close(wsd.CloseUnsupportedData, err.Error()[:min(len(err.Error()), 100)])
					return
				}
				p.X, p.Y = p.Y, p.X
				wsjson.Write(context.Background(), c, p)
			}
		}()
	})}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _ := wsd.NewClient("ws://"+ln.Addr().String(), nil)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { c.CloseNow(); <-c.Done() }()
	big := strings.Repeat("é", 100_000)
	for _, p := range []point{{1, 2, "a"}, {3, 4, big}} {
		if err := wsjson.Write(ctx, c, p); err != nil {
			t.Fatal(err)
		}
		var got point
		if err := wsjson.Read(ctx, c, &got); err != nil {
			t.Fatal(err)
		}
		if got.X != p.Y || got.Y != p.X || got.Tag != p.Tag {
			t.Fatalf("got %v, want swapped %v", got.X, p)
		}
	}
	// A value that cannot be encoded sends nothing.
	if err := wsjson.Write(ctx, c, func() {}); err == nil {
		t.Error("encoding a func succeeded")
	}
	// Something that is not JSON ends the server's loop.
	c.Write(ctx, wsd.TextMessage, []byte("not json"))
	if _, _, err := c.Read(ctx); wsd.CloseStatus(err) != wsd.CloseUnsupportedData {
		t.Errorf("after bad JSON: %v, want the server's close with 1003", err)
	}
}
