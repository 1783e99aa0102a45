//go:build linux

// Command soak holds many WebSocket connections against an echo server for
// a set time, each sending messages of random sizes and types and checking
// every echo byte for byte, while some connections drop abruptly in the
// middle of a message. It samples the server's memory and goroutines and
// prints a report; it exits non-zero if any message was corrupted or lost
// or the server did not return to its baseline.
//
//	go run ./internal/cmd/soak -url ws://127.0.0.1:9001/ -pid PID -debug http://127.0.0.1:9001/debug/vars
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
)

var (
	sent, received, corrupted, lost, dropped, failedDials, reconnects atomic.Int64
	bytesEchoed                                                       atomic.Int64
)

func main() {
	target := flag.String("url", "ws://127.0.0.1:9001/", "echo server URL")
	conns := flag.Int("conns", 10000, "concurrent connections")
	duration := flag.Duration("d", time.Minute, "how long to run")
	pid := flag.Int("pid", 0, "server process to sample RSS of (0: none)")
	debug := flag.String("debug", "", "server's /debug/vars URL, for goroutine counts")
	sources := flag.Int("sources", 4, "source addresses 127.0.0.2.. to spread connections over")
	maxSize := flag.Int("max", 64<<10, "largest message size")
	dropEvery := flag.Duration("drop", 2*time.Second, "each interval, one connection in 100 drops abruptly mid-message and is replaced")
	every := flag.Duration("every", 10*time.Second, "sampling interval")
	flag.Parse()
	raiseFileLimit()

	baseRSS, baseG := rss(*pid), goroutines(*debug)
	fmt.Printf("soak: %d connections to %s for %v; server baseline RSS %s, goroutines %d\n", *conns, *target, *duration, mb(baseRSS), baseG)

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(ctx, *target, i, *sources, *maxSize, *dropEvery)
		}()
		if i%500 == 499 {
			time.Sleep(50 * time.Millisecond) // do not flood the accept queue
		}
	}
	fmt.Printf("%8s %10s %10s %9s %6s %7s %10s %10s %10s %10s\n", "time", "sent", "received", "corrupt", "lost", "drops", "RSS", "heap", "idle", "goroutines")
	tick := time.NewTicker(*every)
	defer tick.Stop()
	var samples []int64
loop:
	for {
		select {
		case <-tick.C:
			r := rss(*pid)
			samples = append(samples, r)
			v := vars(*debug)
			fmt.Printf("%8s %10d %10d %9d %6d %7d %10s %10s %10s %10d\n", time.Since(start).Round(time.Second), sent.Load(), received.Load(),
				corrupted.Load(), lost.Load(), dropped.Load(), mb(r), mb(v.Memstats.HeapInuse), mb(v.Memstats.HeapIdle-v.Memstats.HeapReleased), v.Goroutines)
		case <-ctx.Done():
			break loop
		}
	}
	wg.Wait()
	// Give the server a moment to finish its closing handshakes.
	endG := goroutines(*debug)
	for deadline := time.Now().Add(10 * time.Second); *debug != "" && endG > baseG && time.Now().Before(deadline); endG = goroutines(*debug) {
		time.Sleep(200 * time.Millisecond)
	}
	endRSS := rss(*pid)
	fmt.Printf("\nmessages sent %d, received %d, corrupted %d, lost %d; %.1f MB echoed\n", sent.Load(), received.Load(), corrupted.Load(), lost.Load(), float64(bytesEchoed.Load())/1e6)
	fmt.Printf("abrupt drops %d, reconnects %d, failed dials %d\n", dropped.Load(), reconnects.Load(), failedDials.Load())
	fmt.Printf("server RSS: baseline %s, samples %s, after %s\n", mb(baseRSS), mbs(samples), mb(endRSS))
	fmt.Printf("server goroutines: baseline %d, after %d\n", baseG, endG)
	ok := corrupted.Load() == 0 && lost.Load() == 0 && failedDials.Load() == 0 && (*debug == "" || endG <= baseG)
	if !ok {
		fmt.Println("soak: FAILED")
		os.Exit(1)
	}
	fmt.Println("soak: ok")
}

// worker keeps one connection busy until ctx ends, replacing it when it
// is dropped on purpose.
func worker(ctx context.Context, target string, id, sources, maxSize int, dropEvery time.Duration) {
	r := rand.New(rand.NewPCG(uint64(id), 1))
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+id%max(1, sources)))}}
	var seq uint64
	for ctx.Err() == nil {
		if r.IntN(100) == 0 && dropEvery > 0 {
			dropMidMessage(ctx, target, dialer, r, dropEvery)
			continue
		}
		session(ctx, target, dialer, id, r, &seq, maxSize, dropEvery)
	}
}

// session runs one connection: send, await the echo, compare, repeat.
func session(ctx context.Context, target string, dialer *net.Dialer, id int, r *rand.Rand, seq *uint64, maxSize int, life time.Duration) {
	c, err := wsd.NewClient(target, &wsd.Options{DialContext: dialer.DialContext, CloseTimeout: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	echoes := make(chan wsd.Message, 1)
	c.OnMessage(func(m wsd.Message) { echoes <- wsd.Message{Type: m.Type, Data: bytes.Clone(m.Data)} })
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = c.Start(dctx)
	cancel()
	if err != nil {
		// A dial cut short by the end of the run is no failure; its
		// socket deadline may fire a moment before ctx reports it.
		if dl, _ := ctx.Deadline(); ctx.Err() == nil && time.Until(dl) > time.Second {
			failedDials.Add(1)
			fmt.Fprintf(os.Stderr, "dial: %v\n", err)
			time.Sleep(time.Second)
		}
		return
	}
	reconnects.Add(1)
	end := time.Now().Add(life * time.Duration(50+r.IntN(100)))
	for ctx.Err() == nil && time.Now().Before(end) {
		*seq++
		typ, msg := message(r, id, *seq, maxSize)
		if err := c.Send(msg, wsd.SendOptions{Type: typ}); err != nil {
			lost.Add(1)
			fmt.Fprintf(os.Stderr, "conn %d: send: %v\n", id, err)
			break
		}
		sent.Add(1)
		select {
		case m := <-echoes:
			received.Add(1)
			bytesEchoed.Add(int64(len(m.Data)))
			if m.Type != typ || !bytes.Equal(m.Data, msg) {
				corrupted.Add(1)
				fmt.Fprintf(os.Stderr, "conn %d: message %d corrupted (%d bytes, got %d)\n", id, *seq, len(msg), len(m.Data))
			}
		case <-time.After(30 * time.Second):
			lost.Add(1)
			fmt.Fprintf(os.Stderr, "conn %d: message %d not echoed within 30s\n", id, *seq)
		case <-c.Done():
			lost.Add(1)
			fmt.Fprintf(os.Stderr, "conn %d: closed while message %d was out\n", id, *seq)
		}
		// Pace the connections: think time as a real client has.
		select {
		case <-time.After(time.Duration(r.IntN(2000)) * time.Millisecond):
		case <-ctx.Done():
		}
	}
	c.Close(1000, "")
	select {
	case <-c.Done():
	case <-time.After(15 * time.Second):
	}
}

// message builds a message whose bytes follow from its connection and
// sequence number, so any change on the way is caught.
func message(r *rand.Rand, id int, seq uint64, maxSize int) (wsd.MessageType, []byte) {
	n := r.IntN(1024)
	if r.IntN(10) == 0 {
		n = r.IntN(maxSize + 1)
	}
	if r.IntN(2) == 0 {
		b := make([]byte, n)
		x := uint64(id)<<32 ^ seq
		for i := range b {
			x = x*6364136223846793005 + 1442695040888963407
			b[i] = byte(x >> 56)
		}
		return wsd.BinaryMessage, b
	}
	s := strings.Repeat("soak é ✓ "+strconv.FormatUint(seq, 10)+" ", n/16+1)
	return wsd.TextMessage, []byte(s)
}

// dropMidMessage opens a connection by hand, sends half a frame and drops
// the TCP connection, as a crashing or disconnected peer would.
func dropMidMessage(ctx context.Context, target string, dialer *net.Dialer, r *rand.Rand, wait time.Duration) {
	u, _ := url.Parse(target)
	nc, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", u.Host)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil || resp.StatusCode != 101 {
		return
	}
	// A masked binary frame announcing 1000 bytes, of which 100 are sent.
	frame := append([]byte{0x82, 0x80 | 126, 0x03, 0xe8, 1, 2, 3, 4}, make([]byte, 100)...)
	nc.Write(frame)
	select {
	case <-time.After(time.Duration(r.IntN(int(wait)))):
	case <-ctx.Done():
	}
	dropped.Add(1)
}

func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// serverVars are the server's runtime figures: its goroutines, and its
// heap in use and held idle (not yet returned to the system), which tell
// live memory from what the runtime keeps after a peak.
type serverVars struct {
	Goroutines int `json:"goroutines"`
	Memstats   struct {
		HeapInuse    int64
		HeapIdle     int64
		HeapReleased int64
	} `json:"memstats"`
}

func vars(debugURL string) serverVars {
	v := serverVars{Goroutines: -1}
	if debugURL == "" {
		return serverVars{}
	}
	resp, err := http.Get(debugURL)
	if err != nil {
		return v
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		v.Goroutines = -1
	}
	return v
}

func goroutines(debugURL string) int { return vars(debugURL).Goroutines }

func mb(n int64) string { return fmt.Sprintf("%.1fMB", float64(n)/(1<<20)) }

func mbs(v []int64) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = mb(n)
	}
	return strings.Join(s, " ")
}

func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
