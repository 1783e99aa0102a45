//go:build !js

package wsd

import (
	"context"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkLargeMessage sends one message of 1 GiB from a client to a
// server over loopback, streamed (Writer, Reader) and whole (Send,
// OnMessage). It reports the throughput and the process's peak RSS; run
// each sub-benchmark in a process of its own for the peak to be its own:
//
//	go test -run '^$' -bench 'LargeMessage/stream' -benchtime 1x
//	go test -run '^$' -bench 'LargeMessage/whole' -benchtime 1x
func BenchmarkLargeMessage(b *testing.B) {
	const size = 1 << 30
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	run := func(b *testing.B, stream bool) {
		got := make(chan int64, 1)
		srv := ServeForTest(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := NewServer(w, r, &Options{MaxLength: size + 1})
			if err != nil {
				return
			}
			if !stream {
				ws.OnMessage(func(m Message) { got <- int64(len(m.Data)) })
			}
			if ws.Start(r.Context()) != nil || !stream {
				return
			}
			go func() {
				for {
					_, r, err := ws.Reader(context.Background())
					if err != nil {
						return
					}
					n, _ := io.CopyBuffer(io.Discard, r, make([]byte, 64<<10))
					got <- n
				}
			}()
		}))
		defer srv.Close()
		c, err := NewClient(wsURL(srv), nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer c.CloseNow()
		var whole []byte
		if !stream {
			whole = make([]byte, size) // Send needs the message whole
			for i := 0; i < size; i += len(chunk) {
				copy(whole[i:], chunk)
			}
		}
		b.SetBytes(size)
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if stream {
				w, err := c.Writer(context.Background(), BinaryMessage)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < size; i += len(chunk) {
					w.Write(chunk)
				}
				w.Close()
			} else if err := c.SendBinary(whole); err != nil {
				b.Fatal(err)
			}
			select {
			case n := <-got:
				if n != size {
					b.Fatalf("received %d bytes", n)
				}
			case <-time.After(2 * time.Minute):
				b.Fatal("no message")
			}
		}
		b.ReportMetric(float64(size)*float64(b.N)/time.Since(start).Seconds()/(1<<20), "MiB/s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
		runtime.KeepAlive(whole)
	}
	b.Run("stream", func(b *testing.B) { run(b, true) })
	b.Run("whole", func(b *testing.B) { run(b, false) })
}

// peakRSS returns the process's peak resident set, from /proc, or 0.
func peakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
