//go:build !js

// Command h2bench compares WebSockets over HTTP/2 (RFC 8441) with
// WebSockets over HTTP/1.1, both over TLS, in one run: per-WebSocket
// memory of the server, time to open, and the echo rate of 1 KiB
// messages. For each protocol it starts a fresh echo server in a process
// of its own, opens -n WebSockets from one client one after another,
// reads the server's memory, then runs -c of them in a ping-pong for -d.
//
//	go run ./internal/cmd/h2bench [-n 1000] [-c 50] [-d 5s] [-maxframe 0]
//
// -maxframe sets the server's HTTP/2 MaxReadFrameSize (0: net/http's
// default), which bounds the buffer net/http's client keeps per stream.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/internal/selfsigned"
	_ "github.com/wsd-go/wsd/xconnect"
)

// stats is what the server reports at /stats, after a GC.
type stats struct {
	Heap       uint64 `json:"heap"`   // HeapInuse
	Stacks     uint64 `json:"stacks"` // StackInuse
	Goroutines int    `json:"goroutines"`
	TCPConns   int64  `json:"tcpConns"` // accepted so far
	WebSockets int64  `json:"webSockets"`
}

func readStats(tcp, ws *atomic.Int64) stats {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return stats{Heap: m.HeapInuse, Stacks: m.StackInuse, Goroutines: runtime.NumGoroutine(), TCPConns: tcp.Load(), WebSockets: ws.Load()}
}

func serve(maxFrame int) {
	cert, err := selfsigned.New("127.0.0.1")
	if err != nil {
		log.Fatal(err)
	}
	var tcp, open atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(readStats(&tcp, &open))
	})
	opts := &wsd.Options{}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnOpen(func() { open.Add(1) })
		ws.OnClose(func(int, string) { open.Add(-1) })
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0),
		HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 100000, MaxReadFrameSize: maxFrame}}
	srv.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tcp.Add(1)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("addr=%s cert=%s\n", ln.Addr(), hex.EncodeToString(cert.Leaf.Raw))
	go func() {
		io.Copy(io.Discard, os.Stdin) // the parent ends us by closing stdin
		os.Exit(0)
	}()
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}

// result is one protocol's figures.
type result struct {
	name                  string
	open                  time.Duration // all n, one after another
	p50, p99              time.Duration
	serverPerWS           float64 // heap + stacks, bytes
	clientPerWS           float64
	tcpConns              int64
	roundTrips            float64 // per second
	serverGoroutinesPerWS float64
}

func run(name string, mode wsd.HTTP2Mode, n, c int, d time.Duration, maxFrame int) result {
	cmd := exec.Command(os.Args[0], "serve", fmt.Sprint(maxFrame))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	var addr, certHex string
	if _, err := fmt.Fscanf(stdout, "addr=%s cert=%s\n", &addr, &certHex); err != nil {
		log.Fatal(err)
	}
	der, _ := hex.DecodeString(certHex)
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	tlsCfg := &tls.Config{RootCAs: pool}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	get := func() stats {
		resp, err := hc.Get("https://" + addr + "/stats")
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		var s stats
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			log.Fatal(err)
		}
		return s
	}
	clientMem := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	base := get()
	cbase := clientMem()
	opts := &wsd.Options{HTTP2: mode, TLSConfig: tlsCfg}
	conns := make([]*wsd.Conn, n)
	echoes := make([]chan struct{}, n)
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		ws, err := wsd.NewClient(fmt.Sprintf("wss://%s/ws/%d", addr, i), opts)
		if err != nil {
			log.Fatal(err)
		}
		ch := make(chan struct{}, 1)
		ws.OnMessage(func(wsd.Message) { ch <- struct{}{} })
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = ws.Start(ctx)
		cancel()
		if err != nil {
			log.Fatalf("%s: WebSocket %d: %v", name, i, err)
		}
		lat[i] = time.Since(t0)
		if ws.HTTP2() != (mode != wsd.HTTP2Off) {
			log.Fatalf("%s: HTTP2() = %v", name, ws.HTTP2())
		}
		conns[i], echoes[i] = ws, ch
	}
	r := result{name: name, open: time.Since(start)}
	for get().WebSockets < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	after := get()
	r.serverPerWS = (float64(after.Heap+after.Stacks) - float64(base.Heap+base.Stacks)) / float64(n)
	r.serverGoroutinesPerWS = float64(after.Goroutines-base.Goroutines) / float64(n)
	r.clientPerWS = (float64(clientMem()) - float64(cbase)) / float64(n)
	r.tcpConns = after.TCPConns - base.TCPConns
	slices.Sort(lat)
	r.p50, r.p99 = lat[n/2], lat[n*99/100]

	msg := bytes.Repeat([]byte("x"), 1024)
	var trips atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i := range min(c, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := conns[i].SendBinary(msg); err != nil {
					log.Fatalf("%s: send: %v", name, err)
				}
				select {
				case <-echoes[i]:
				case <-time.After(10 * time.Second):
					log.Fatalf("%s: no echo", name)
				}
				trips.Add(1)
			}
		}()
	}
	wg.Wait()
	r.roundTrips = float64(trips.Load()) / d.Seconds()
	for _, ws := range conns {
		ws.Close(1000, "")
	}
	for _, ws := range conns {
		<-ws.Done()
	}
	return r
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "serve" {
		var maxFrame int
		fmt.Sscan(os.Args[2], &maxFrame)
		serve(maxFrame)
		return
	}
	n := flag.Int("n", 1000, "WebSockets to open")
	c := flag.Int("c", 50, "WebSockets that echo at once")
	d := flag.Duration("d", 5*time.Second, "how long they echo")
	maxFrame := flag.Int("maxframe", 0, "the server's HTTP/2 MaxReadFrameSize (0: net/http's default)")
	flag.Parse()
	var rs []result
	for _, p := range []struct {
		name string
		mode wsd.HTTP2Mode
	}{{"HTTP/1.1 + TLS", wsd.HTTP2Off}, {"HTTP/2 + TLS", wsd.HTTP2Only}} {
		rs = append(rs, run(p.name, p.mode, *n, *c, *d, *maxFrame))
	}
	fmt.Printf("%d WebSockets from one client, opened one after another; %d of them echo 1 KiB for %v; Go %s, %d CPUs\n\n",
		*n, *c, *d, runtime.Version(), runtime.NumCPU())
	fmt.Println("| | " + rs[0].name + " | " + rs[1].name + " |")
	fmt.Println("| --- | ---: | ---: |")
	row := func(label string, f func(r result) string) {
		fmt.Printf("| %s | %s | %s |\n", label, f(rs[0]), f(rs[1]))
	}
	row("TCP connections", func(r result) string { return fmt.Sprint(r.tcpConns) })
	row("time to open, median", func(r result) string { return fmt.Sprint(r.p50.Round(time.Microsecond)) })
	row("time to open, p99", func(r result) string { return fmt.Sprint(r.p99.Round(time.Microsecond)) })
	row(fmt.Sprintf("time to open all %d", *n), func(r result) string { return fmt.Sprint(r.open.Round(time.Millisecond)) })
	row("server memory per WebSocket (heap + stacks)", func(r result) string { return fmt.Sprintf("%.0f B", r.serverPerWS) })
	row("server goroutines per WebSocket", func(r result) string { return fmt.Sprintf("%.2f", r.serverGoroutinesPerWS) })
	row("client memory per WebSocket (heap + stacks)", func(r result) string { return fmt.Sprintf("%.0f B", r.clientPerWS) })
	row("1 KiB echo, round trips/s", func(r result) string { return fmt.Sprintf("%.0f", r.roundTrips) })
}
