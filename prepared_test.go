//go:build !js

package wsd_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wsd-go/wsd"
)

func prepare(t testing.TB, typ wsd.MessageType, data string) *wsd.PreparedMessage {
	t.Helper()
	p, err := wsd.NewPreparedMessage(typ, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPreparedMessageChecks(t *testing.T) {
	if _, err := wsd.NewPreparedMessage(wsd.TextMessage, []byte{0xff}); err == nil {
		t.Error("invalid UTF-8 text was prepared")
	}
	if _, err := wsd.NewPreparedMessage(wsd.PingMessage, nil); err == nil {
		t.Error("a ping was prepared")
	}
	p := prepare(t, wsd.BinaryMessage, "abc")
	if p.Type() != wsd.BinaryMessage || string(p.Data()) != "abc" || p.Size() != 5 {
		t.Errorf("prepared %v %q size %d, want binary \"abc\" size 5", p.Type(), p.Data(), p.Size())
	}
}

// Prepared messages reach the peer in order, whole, however they are
// batched, from a server and from a client.
func TestSendPrepared(t *testing.T) {
	big := strings.Repeat("0123456789", 10_000) // more than one batch
	msgs := []*wsd.PreparedMessage{
		prepare(t, wsd.TextMessage, "one"),
		prepare(t, wsd.BinaryMessage, "two"),
		prepare(t, wsd.TextMessage, big),
		prepare(t, wsd.TextMessage, ""),
		prepare(t, wsd.TextMessage, "last"),
	}
	srv, cli := pair(t, nil, nil, nil, nil)
	for _, side := range []struct {
		name     string
		from, to serverSide
	}{{"server", srv, cli}, {"client", cli, srv}} {
		if err := side.from.c.SendPrepared(msgs...); err != nil {
			t.Fatalf("%s: SendPrepared: %v", side.name, err)
		}
		if err := side.from.c.SendPrepared(msgs[0]); err != nil {
			t.Fatalf("%s: SendPrepared: %v", side.name, err)
		}
		for _, m := range append(msgs, msgs[0]) {
			side.to.rec.expectMessage(t, m.Type(), string(m.Data()))
		}
	}
	srv.c.Close(1000, "")
	if err := srv.c.SendPrepared(msgs[0]); !errors.Is(err, wsd.ErrClosed) {
		t.Errorf("SendPrepared after Close: %v, want ErrClosed", err)
	}
}

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// With permessage-deflate, a prepared message goes out compressed, to
// clients that let the server drop its context and to those that do not.
func TestSendPreparedCompressed(t *testing.T) {
	payload := strings.Repeat("compress me, ", 2000)
	p := prepare(t, wsd.TextMessage, payload)
	for _, tc := range []struct {
		name string
		opts wsd.CompressionOptions
	}{
		{"shared", wsd.CompressionOptions{Mode: wsd.CompressionEnabled}},
		{"peer keeps context", wsd.CompressionOptions{Mode: wsd.CompressionEnabled, PeerNoContextTakeover: false, ContextTakeover: true}},
		{"small window", wsd.CompressionOptions{Mode: wsd.CompressionEnabled, PeerWindowBits: 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newTestServer(t, &wsd.Options{Compression: wsd.CompressionOptions{ContextTakeover: tc.name == "peer keeps context"}}, nil)
			var read atomic.Int64
			copts := &wsd.Options{Compression: tc.opts, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				nc, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countConn{nc, &read}, nil
			}}
			cli, rec := dialClient(t, srv.url, copts, nil)
			if cli.Extensions() == "" {
				t.Fatal("no extension agreed")
			}
			s := srv.accept(t)
			rec.expect(t, "open")
			before := read.Load()
			for range 3 {
				if err := s.c.SendPrepared(p); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				rec.expectMessage(t, wsd.TextMessage, payload)
			}
			if n := read.Load() - before; n > int64(len(payload)) {
				t.Errorf("%d bytes on the wire for 3 messages of %d bytes: not compressed", n, len(payload))
			}
		})
	}
}
