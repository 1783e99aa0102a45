//go:build !js

package wsd_test

// The wsd side of docs/migrating.md: every snippet there is a piece of
// one of these functions, which TestMigratingGuide checks.

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/wsjson"
)

func Example_migrateUpgrade() {
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, &wsd.Options{
			OriginPatterns:  []string{"app.example.com"},
			AcceptProtocols: []string{"chat"},
			MaxLength:       1 << 20,
		})
		if err != nil {
			return // answered already: 400, 403, 405 or 426
		}
		if err := c.Start(r.Context()); err != nil {
			return
		}
		defer c.CloseNow()
		// ...
	})
}

func Example_migrateReadLoop() {
	var c *wsd.Conn
	ctx := context.Background()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			log.Printf("read: %v (close code %d)", err, wsd.CloseStatus(err))
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

func Example_migrateWriteDeadline() {
	var c *wsd.Conn
	var msg []byte
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Write(ctx, wsd.TextMessage, msg)
	_ = err
}

func Example_migratePingPong() {
	opts := &wsd.Options{
		PingInterval: 30 * time.Second, // ping after 30 s of silence
		PongTimeout:  10 * time.Second, // drop the peer if nothing answers
	}
	_ = opts
	var c *wsd.Conn
	// Or by hand, with a callback on the pong:
	rtt := time.Now()
	c.SendPing([]byte("probe"), func() { log.Printf("pong after %v", time.Since(rtt)) })
}

func Example_migrateClose() {
	var c *wsd.Conn
	c.Close(wsd.CloseNormal, "bye") // the closing handshake, bounded by CloseTimeout
	<-c.Done()
	c.CloseNow() // or drop at once
}

func Example_migrateCloseStatus() {
	var c *wsd.Conn
	_, _, err := c.Read(context.Background())
	switch wsd.CloseStatus(err) {
	case wsd.CloseNormal, wsd.CloseGoingAway:
		// a clean end
	case -1:
		// not a close: a context, a protocol error
	}
	var ce *wsd.CloseError
	if errors.As(err, &ce) {
		log.Printf("closed with %d: %s", ce.Code, ce.Reason)
	}
}

func Example_migrateJSON() {
	var c *wsd.Conn
	ctx := context.Background()
	var v struct{ Name string }
	if err := wsjson.Read(ctx, c, &v); err != nil {
		return
	}
	wsjson.Write(ctx, c, v)
}

func Example_migrateNetConn() {
	var c *wsd.Conn
	nc := wsd.NetConn(context.Background(), c, wsd.BinaryMessage)
	tcp, err := net.Dial("tcp", "127.0.0.1:5432")
	if err != nil {
		return
	}
	go func() { copyAndClose(tcp, nc) }()
	copyAndClose(nc, tcp)
}

func Example_migrateDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wsd.NewClient("wss://example.com/ws", &wsd.Options{
		AdditionalHeaders: http.Header{"Authorization": {"Bearer token"}},
		AcceptProtocols:   []string{"chat"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil { // dial, TLS, handshake; proxies from the environment
		log.Fatal(err)
	}
	defer c.Close(wsd.CloseNormal, "")
}

func Example_migrateEvents() {
	var c *wsd.Conn
	// Instead of a read loop, events, as websocket-driver has them:
	c.OnMessage(func(m wsd.Message) {
		c.Send(m.Data, wsd.SendOptions{Type: m.Type})
	})
	c.OnClose(func(code int, reason string) { log.Printf("closed: %d %s", code, reason) })
}
