//go:build !js

package wsd

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkPipelinedEcho echoes 1 KiB messages, 16 in flight, through a
// server written with events (OnMessage, Send) and one written with the
// blocking API (ReadInto, Write), over loopback.
func BenchmarkPipelinedEcho(b *testing.B) {
	for _, api := range []string{"events", "read"} {
		b.Run(api, func(b *testing.B) {
			srv := ServeForTest(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ws, err := NewServer(w, r, nil)
				if err != nil {
					return
				}
				if api == "events" {
					ws.OnMessage(func(m Message) { ws.Send(m.Data, SendOptions{Type: m.Type}) })
				}
				if ws.Start(r.Context()) != nil || api == "events" {
					return
				}
				go func() {
					ctx := context.Background()
					var buf []byte
					for {
						t, msg, err := ws.ReadInto(ctx, buf)
						if err != nil || ws.Write(ctx, t, msg) != nil {
							return
						}
						buf = msg
					}
				}()
			}))
			defer srv.Close()
			c, err := NewClient(wsURL(srv), nil)
			if err != nil {
				b.Fatal(err)
			}
			got := make(chan struct{}, 64)
			c.OnMessage(func(Message) { got <- struct{}{} })
			if err := c.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer c.CloseNow()
			msg := make([]byte, 1024)
			const inflight = 16
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			for i := range b.N + inflight {
				if i >= inflight {
					<-got
				}
				if i < b.N {
					c.SendBinary(msg)
				}
			}
		})
	}
}
