//go:build !js

package wsd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd/internal/proto"
)

// Tests of Read, ReadInto and Reader; they run on both transports.

// readEchoServer serves connections that echo with the blocking API: Read
// then Write, until Read fails; the errors it ended with come on the
// channel.
func readEchoServer(t *testing.T, opts *Options) (*TestHTTPServer, chan error) {
	t.Helper()
	ended := make(chan error, 16)
	srv := ServeForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := NewServer(w, r, opts)
		if err != nil {
			return
		}
		if ws.Start(r.Context()) != nil {
			return
		}
		go func() {
			ctx := context.Background()
			var buf []byte
			for {
				t, msg, err := ws.ReadInto(ctx, buf)
				if err != nil {
					ended <- err
					return
				}
				if err := ws.Write(ctx, t, msg); err != nil {
					ended <- err
					return
				}
				buf = msg
			}
		}()
	}))
	t.Cleanup(srv.Close)
	return srv, ended
}

func TestReadWriteEcho(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[deflate], func(t *testing.T) {
			srv, ended := readEchoServer(t, &Options{MaxLength: 8 << 20})
			copts := &Options{MaxLength: 8 << 20}
			if deflate {
				copts.Compression.Mode = CompressionEnabled
			}
			c := clientStart(t, wsURL(srv), copts, nil)
			if (c.Extensions() != "") != deflate {
				t.Fatalf("extensions %q", c.Extensions())
			}
			ctx := context.Background()
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			msgs := []struct {
				t MessageType
				p []byte
			}{
				{TextMessage, []byte("hello")},
				{BinaryMessage, []byte{0, 1, 2, 255}},
				{TextMessage, nil},
				{BinaryMessage, big},
				{TextMessage, []byte(strings.Repeat("héllo wörld ", 5000))},
			}
			for _, m := range msgs {
				if err := c.Write(ctx, m.t, m.p); err != nil {
					t.Fatal(err)
				}
			}
			for i, m := range msgs {
				typ, got, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if typ != m.t || !bytes.Equal(got, m.p) {
					t.Fatalf("message %d: %v of %d bytes, want %v of %d", i, typ, len(got), m.t, len(m.p))
				}
			}
			c.Close(4000, "done")
			err := waitFor(t, ended, 5*time.Second, "server reader's end")
			if CloseStatus(err) != 4000 || !errors.Is(err, ErrClosed) {
				t.Errorf("server Read ended with %v (status %d), want a CloseError with 4000", err, CloseStatus(err))
			}
			var ce *CloseError
			if !errors.As(err, &ce) || ce.Reason != "done" {
				t.Errorf("CloseError %+v, want reason \"done\"", ce)
			}
		})
	}
}

// A message far larger than the read queue, or any buffer, streams
// through Writer and Reader in bounded memory.
func TestReaderAndWriterStreamALargeMessage(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under the race detector")
	}
	const size = 256 << 20
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[deflate], func(t *testing.T) {
			type result struct {
				n   int64
				sum [32]byte
				err error
			}
			got := make(chan result, 1)
			srv, _ := serveConns(t, &Options{MaxLength: size + 1}, func(ws *Conn) {
				go func() {
					_, r, err := ws.Reader(context.Background())
					if err != nil {
						got <- result{err: err}
						return
					}
					h := sha256.New()
					n, err := io.CopyBuffer(h, r, make([]byte, 32<<10))
					var res result
					res.n, res.err = n, err
					copy(res.sum[:], h.Sum(nil))
					got <- res
				}()
			})
			copts := &Options{}
			if deflate {
				copts.Compression.Mode = CompressionEnabled
			}
			c := clientStart(t, wsURL(srv), copts, nil)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			peak := before.HeapInuse
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapInuse)
				}
			})
			w, err := c.Writer(context.Background(), BinaryMessage)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			chunk := make([]byte, 64<<10)
			for i := 0; i < size/len(chunk); i++ {
				for j := range chunk {
					chunk[j] = byte(i + j/1024)
				}
				h.Write(chunk)
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			res := waitFor(t, got, 60*time.Second, "the message")
			close(stop)
			wg.Wait()
			if res.err != nil || res.n != size || !bytes.Equal(res.sum[:], h.Sum(nil)) {
				t.Fatalf("server read %d bytes, %v, sums match %v", res.n, res.err, bytes.Equal(res.sum[:], h.Sum(nil)))
			}
			if grew := int64(peak) - int64(before.HeapInuse); grew > 32<<20 {
				t.Errorf("heap grew by %d MiB while %d MiB streamed", grew>>20, size>>20)
			}
		})
	}
}

func TestReadOnAConnectionWithAHandler(t *testing.T) {
	srv, _ := serve(t, nil) // echoes with OnMessage
	c := clientStart(t, wsURL(srv), nil, func(c *Conn) { c.OnMessage(func(Message) {}) })
	if _, _, err := c.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "OnMessage") {
		t.Errorf("Read on a connection with OnMessage: %v, want an error that says so", err)
	}
}

func TestReadContextEndsFailTheConnection(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	codes := make(chan int, 1)
	clientStart(t, wsURL(srv), nil, func(c *Conn) {
		c.OnClose(func(code int, _ string) { codes <- code })
		c.OnMessage(func(Message) {})
	})
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := ws.Read(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Read past its context: %v, want context.DeadlineExceeded", err)
	}
	waitFor(t, ws.Done(), 5*time.Second, "connection end")
	if code := waitFor(t, codes, 5*time.Second, "client close"); code != CloseAbnormal {
		t.Errorf("client saw %d, want 1006", code)
	}
	if _, _, err := ws.Read(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after the end: %v, want ErrClosed", err)
	}
}

// A connection whose application does not read stops reading its socket:
// the sender is held back, nothing piles up, nothing is lost.
func TestUnreadMessagesPushBack(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	c := clientStart(t, wsURL(srv), nil, nil)
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	const n, size = 16 << 10, 1 << 10 // 16 MiB in all
	sent := make(chan error, 1)
	go func() {
		msg := make([]byte, size)
		for i := range n {
			msg[0], msg[1] = byte(i), byte(i>>8)
			if err := c.SendBinary(msg); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	select {
	case err := <-sent:
		t.Fatalf("16 MiB sent to an application that reads nothing: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	s := ws.sx.Load()
	s.mu.Lock()
	queued := 0
	if s.buf != nil {
		queued = len(*s.buf) - s.off
	}
	held := s.held
	s.mu.Unlock()
	// The queue's bound, plus what the transport had read at once: up
	// to its pending bytes on the engine.
	if limit := readQueueBytes + 512<<10; !held || queued > limit {
		t.Errorf("held %v with %d bytes queued, want held with at most %d", held, queued, limit)
	}
	buf := make([]byte, 0, size)
	for i := range n {
		_, m, err := ws.ReadInto(context.Background(), buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(m) != size || m[0] != byte(i) || m[1] != byte(i>>8) {
			t.Fatalf("message %d out of order or cut: %d bytes, %x", i, len(m), m[:2])
		}
	}
	if err := waitFor(t, sent, 5*time.Second, "the sender's end"); err != nil {
		t.Fatal(err)
	}
}

func TestReaderFailsInvalidTextAsItArrives(t *testing.T) {
	srv, conns := serveConns(t, nil, nil)
	nc, br, _ := rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	nc.Write([]byte{0x01, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}) // text, not final
	typ, r, err := ws.Reader(context.Background())
	if err != nil || typ != TextMessage {
		t.Fatalf("Reader: %v %v", typ, err)
	}
	p := make([]byte, 16)
	if n, err := r.Read(p); err != nil || string(p[:n]) != "hello" {
		t.Fatalf("first fragment: %q, %v", p[:n], err)
	}
	nc.Write([]byte{0x00, 0x82, 0, 0, 0, 0, 0xc3, 0x28}) // invalid, still not final
	_, err = io.ReadAll(r)
	var perr *ProtocolError
	if !errors.As(err, &perr) || perr.Code != CloseInvalidPayload || !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("reading past invalid UTF-8: %v, want a ProtocolError with 1007", err)
	}
	f, err := readServerFrame(br)
	if err != nil || f.op != 0x8 || len(f.payload) < 2 || int(f.payload[0])<<8|int(f.payload[1]) != 1007 {
		t.Errorf("peer got %+v, %v, want a close frame with 1007", f, err)
	}
}

func TestReaderRefusesAnOversizedMessageAtItsHeader(t *testing.T) {
	srv, conns := serveConns(t, &Options{MaxLength: 1000}, nil)
	nc, _, _ := rawClient(t, srv, "")
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	nc.Write([]byte{0x82, 0xfe, 0x13, 0x88, 0, 0, 0, 0}) // 5000 bytes announced, none sent
	_, _, err := ws.Reader(context.Background())
	if !errors.Is(err, ErrMessageTooBig) {
		t.Errorf("Reader: %v, want a message-too-big error", err)
	}
}

func TestReaderBoundsACompressedBomb(t *testing.T) {
	srv, conns := serveConns(t, &Options{MaxLength: 1 << 20}, nil)
	c := clientStart(t, wsURL(srv), &Options{Compression: CompressionOptions{Mode: CompressionEnabled}}, nil)
	ws := waitFor(t, conns, 5*time.Second, "server connection")
	go c.SendBinary(make([]byte, 16<<20)) // 16 MiB of zeros: about 16 KiB on the wire
	_, r, err := ws.Reader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if !errors.Is(err, ErrMessageTooBig) || n > 1<<20 {
		t.Errorf("read %d bytes of a bomb, then %v; want at most 1 MiB, then message too big", n, err)
	}
	// The client ends once its send, compressing on, lets it see the close.
	waitFor(t, c.Done(), 20*time.Second, "client end")
}

func TestReadIntoDoesNotAllocate(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	client := proto.NewMachine(proto.Config{Role: proto.Client})
	for _, n := range []int{32, 1 << 10, 4 << 10} {
		frame := client.AppendFrame(nil, proto.OpBinary, true, 0, make([]byte, n))
		c := newConn(proto.Server, nil)
		c.nc = &loopConn{}
		c.state.Store(int32(Open))
		in := make([]byte, len(frame))
		buf := make([]byte, 0, n)
		ctx := context.Background()
		for range 10 { // warm the pools
			copy(in, frame)
			c.feed(in)
			c.ReadInto(ctx, buf)
		}
		allocs := testing.AllocsPerRun(200, func() {
			copy(in, frame)
			c.feed(in)
			if _, m, err := c.ReadInto(ctx, buf); err != nil || len(m) != n {
				t.Fatalf("ReadInto: %d bytes, %v", len(m), err)
			}
			c.Write(ctx, BinaryMessage, buf[:n])
		})
		if allocs != 0 {
			t.Errorf("ReadInto and Write of %d bytes: %v allocations per message, want 0", n, allocs)
		}
	}
}
