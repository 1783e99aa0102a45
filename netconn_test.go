//go:build !js

package wsd

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// A TCP stream carried through a WebSocket with NetConn arrives whole, in
// order, on both transports.
func TestNetConnCarriesATCPStream(t *testing.T) {
	// The far end: a TCP echo server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			tc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(tc, tc); tc.Close() }()
		}
	}()
	// The WebSocket server relays its stream to the TCP echo server.
	srv, _ := serveConns(t, nil, func(ws *Conn) {
		go func() {
			<-time.After(0)
			tc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return
			}
			nc := NetConn(context.Background(), ws, BinaryMessage)
			go func() { io.Copy(tc, nc); tc.(*net.TCPConn).CloseWrite() }()
			io.Copy(nc, tc)
			nc.Close()
		}()
	})
	c := clientStart(t, wsURL(srv), nil, nil)
	nc := NetConn(context.Background(), c, BinaryMessage)
	data := make([]byte, 4<<20)
	rand.Read(data)
	go func() {
		for p := data; len(p) > 0; {
			k := min(len(p), 1000+len(p)%7000)
			nc.Write(p[:k])
			p = p[k:]
		}
	}()
	got := make([]byte, len(data))
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the stream came back changed")
	}
	if nc.LocalAddr().Network() != "websocket" || nc.RemoteAddr() == nil {
		t.Errorf("addresses %v %v", nc.LocalAddr(), nc.RemoteAddr())
	}
}

func TestNetConnDeadlines(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	c := clientStart(t, wsURL(srv), nil, nil)
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	nc := NetConn(context.Background(), ws, TextMessage)
	// A deadline already passed fails at once and leaves the WebSocket.
	nc.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past its deadline: %v", err)
	}
	nc.SetReadDeadline(time.Time{})
	c.Write(context.Background(), TextMessage, []byte("abc"))
	p := make([]byte, 8)
	if n, err := nc.Read(p); err != nil || string(p[:n]) != "abc" {
		t.Fatalf("read: %q, %v", p[:n], err)
	}
	// A deadline moved while a read waits cuts it.
	done := make(chan error, 1)
	go func() { _, err := nc.Read(p); done <- err }()
	time.Sleep(50 * time.Millisecond)
	nc.SetReadDeadline(time.Now())
	if err := waitFor(t, done, 2*time.Second, "the cut read"); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read cut by its deadline: %v", err)
	}
	waitFor(t, ws.Done(), 5*time.Second, "the WebSocket's end, a message half read")
}

func TestNetConnEOFOnNormalClose(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	c := clientStart(t, wsURL(srv), nil, nil)
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	nc := NetConn(context.Background(), ws, BinaryMessage)
	c.Write(context.Background(), BinaryMessage, []byte("last"))
	c.Close(CloseNormal, "")
	b, err := io.ReadAll(nc)
	if err != nil || string(b) != "last" {
		t.Errorf("ReadAll: %q, %v; want the data, then io.EOF", b, err)
	}
}
