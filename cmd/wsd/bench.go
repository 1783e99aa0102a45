//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
)

const benchHelp = `usage: wsd bench [flags] URL

Loads a WebSocket echo server: opens -conns connections (at -connect-rate
a second, if set), then sends -size byte messages for -duration, each
connection waiting for the echo of one message before sending the next
(closed loop), or at -rate messages a second in all (open loop, latency
counted from when each message was due). Every echoed byte is checked;
with -no-echo, what comes back is only counted. Prints connect times,
throughput, latency percentiles and errors by kind; -json prints them as
one JSON object. A wrong echo makes the exit status 1.

Examples:
  wsd bench -conns 64 -duration 10s ws://127.0.0.1:9001/
  wsd bench -conns 100 -rate 20000 -size 1024 -binary -json ws://127.0.0.1:9001/

Flags:
`

// benchFlags are the flags of wsd bench.
type benchFlags struct {
	conns       int
	rate        float64
	size        int
	duration    time.Duration
	binary      bool
	deflate     bool
	connectRate float64
	noEcho      bool
	json        bool
	header      headerFlag
	protocol    string
	tls         tlsFlags
}

// bench is the state of a run, shared by its connections.
type bench struct {
	f         benchFlags
	pattern   pattern // what messages are cut from
	latency   hist
	connect   hist
	measuring atomic.Bool
	stopped   atomic.Bool
	messages  atomic.Uint64 // echoes (or messages, with -no-echo) in the window
	bytes     atomic.Uint64
	sent      atomic.Uint64
	deflated  atomic.Int64 // connections that agreed permessage-deflate
	mu        sync.Mutex
	errs      map[string]int
	firstErr  map[string]error
}

func (b *bench) fail(kind string, err error) {
	b.mu.Lock()
	b.errs[kind]++
	if b.firstErr[kind] == nil {
		b.firstErr[kind] = err
	}
	b.mu.Unlock()
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// pattern is the alphabet repeated, long enough for any message at any
// of the 64 offsets; filling and checking a message are then a copy and
// a compare.
type pattern []byte

func newPattern(size int) pattern {
	p := make(pattern, size+len(alphabet))
	for i := range p {
		p[i] = alphabet[i%len(alphabet)]
	}
	return p
}

// message returns message seq of connection id: the pattern at an offset
// that differs from message to message, so that a misplaced echo is caught.
func (p pattern) message(id int, seq uint64, size int) []byte {
	k := (id + int(seq*13)) % len(alphabet)
	return p[k : k+size]
}

// benchConn is one connection of the load.
type benchConn struct {
	b       *bench
	id      int
	c       *wsd.Conn
	typ     wsd.MessageType
	mu      sync.Mutex
	due     []time.Time // when each message in flight was due, oldest first
	sentSeq uint64
	recvSeq uint64
}

// send sends the next message, due at t.
func (bc *benchConn) send(t time.Time) error {
	bc.mu.Lock()
	seq := bc.sentSeq
	bc.sentSeq++
	if !bc.b.f.noEcho {
		bc.due = append(bc.due, t)
	}
	bc.mu.Unlock()
	msg := bc.b.pattern.message(bc.id, seq, bc.b.f.size)
	if err := bc.c.Send(msg, wsd.SendOptions{Type: bc.typ}); err != nil {
		return err
	}
	bc.b.sent.Add(1)
	return nil
}

func (bc *benchConn) onMessage(m wsd.Message) {
	b := bc.b
	now := time.Now()
	if b.f.noEcho {
		if b.measuring.Load() {
			b.messages.Add(1)
			b.bytes.Add(uint64(len(m.Data)))
		}
		return
	}
	bc.mu.Lock()
	if len(bc.due) == 0 {
		bc.mu.Unlock()
		b.fail("unexpected message", fmt.Errorf("connection %d: a message that echoes nothing sent", bc.id))
		return
	}
	due := bc.due[0]
	bc.due = bc.due[1:]
	seq := bc.recvSeq
	bc.recvSeq++
	bc.mu.Unlock()
	if m.Type != bc.typ || !bytes.Equal(m.Data, b.pattern.message(bc.id, seq, b.f.size)) {
		b.fail("wrong echo", fmt.Errorf("connection %d, message %d: echo of %d bytes (%v) differs from what was sent", bc.id, seq, len(m.Data), m.Type))
		return
	}
	if b.measuring.Load() {
		b.latency.record(now.Sub(due))
		b.messages.Add(1)
		b.bytes.Add(uint64(len(m.Data)))
	}
	if b.f.rate == 0 && !b.stopped.Load() {
		// Closed loop: the next message goes as soon as its echo is in.
		if err := bc.send(time.Now()); err != nil && !errors.Is(err, wsd.ErrClosed) {
			b.fail("send", err)
		}
	}
}

func benchCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd bench", flag.ContinueOnError)
	var f benchFlags
	fs.IntVar(&f.conns, "conns", 16, "connections")
	fs.Float64Var(&f.rate, "rate", 0, "messages a second in all, spread over the connections (0: closed loop, as fast as echoes come back)")
	fs.IntVar(&f.size, "size", 32, "message size in bytes")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "length of the measurement, after connecting")
	fs.BoolVar(&f.binary, "binary", false, "send binary messages instead of text")
	fs.BoolVar(&f.deflate, "deflate", false, "offer permessage-deflate and compress every message sent when agreed")
	fs.Float64Var(&f.connectRate, "connect-rate", 0, "connections opened a second (0: as fast as they open, 64 at a time)")
	fs.BoolVar(&f.noEcho, "no-echo", false, "the server does not echo: count what comes back, check nothing")
	fs.BoolVar(&f.json, "json", false, "print the results as one JSON object")
	fs.StringVar(&f.protocol, "protocol", "", "subprotocol to offer (comma-separated for several)")
	f.header = headerFlag{}
	fs.Var(f.header, "H", "extra handshake header 'Name: value' (repeatable)")
	f.tls.register(fs, false)
	rest, code := parseCommand(fs, args, benchHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wsd bench: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case len(rest) != 1:
		return usageErr("want exactly one URL, got %d arguments (wsd help bench)", len(rest))
	case f.conns < 1:
		return usageErr("-conns must be at least 1")
	case f.size < 1 || f.size > wsd.DefaultMaxLength:
		return usageErr("-size must be between 1 and %d", wsd.DefaultMaxLength)
	case f.duration <= 0:
		return usageErr("-duration must be positive")
	case f.rate < 0 || f.connectRate < 0:
		return usageErr("-rate and -connect-rate cannot be negative")
	}
	opts := &wsd.Options{AdditionalHeaders: http.Header(f.header), CloseTimeout: 2 * time.Second}
	var err error
	if f.deflate {
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	}
	if f.protocol != "" {
		opts.AcceptProtocols = strings.Split(f.protocol, ",")
	}
	if opts.TLSConfig, err = f.tls.clientConfig(); err != nil {
		return usageErr("%v", err)
	}
	if _, err := wsd.NewClient(rest[0], opts); err != nil {
		return usageErr("%v", err)
	}

	b := &bench{f: f, pattern: newPattern(f.size), errs: map[string]int{}, firstErr: map[string]error{}}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	progress := isTerminal(stderr) && !f.json

	// Connect.
	start := time.Now()
	conns := b.connectAll(ctx, rest[0], opts, progress, stderr)
	connectTime := time.Since(start)
	if len(conns) == 0 {
		b.report(stdout, rest[0], 0, connectTime, 0)
		return b.connectFailure()
	}

	// Measure.
	b.measuring.Store(true)
	start = time.Now()
	for _, bc := range conns {
		if f.rate > 0 || f.noEcho {
			go bc.sendLoop(f.rate/float64(len(conns)), start)
		} else if err := bc.send(time.Now()); err != nil {
			b.fail("send", err)
		}
	}
	timer := time.NewTimer(f.duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-timer.C:
			break wait
		case <-ctx.Done():
			break wait
		case <-tick.C:
			if progress {
				el := time.Since(start)
				fmt.Fprintf(stderr, "\r%4.0fs  %d connections  %.0f messages/s  p99 %v  errors %d   ",
					el.Seconds(), len(conns), float64(b.messages.Load())/el.Seconds(), b.latency.quantile(0.99), b.errorCount())
			}
		}
	}
	b.measuring.Store(false)
	b.stopped.Store(true)
	elapsed := time.Since(start)
	if progress {
		fmt.Fprint(stderr, "\r\033[K")
	}

	// Close, counting connections the server dropped during the run.
	var wg sync.WaitGroup
	for _, bc := range conns {
		wg.Go(func() {
			bc.c.Close(1000, "")
			<-bc.c.Done()
		})
	}
	wg.Wait()
	b.report(stdout, rest[0], len(conns), connectTime, elapsed)
	if b.errs["wrong echo"] > 0 || b.errs["unexpected message"] > 0 {
		return exitError
	}
	return exitOK
}

// sendLoop sends messages at rate a second (as fast as possible when
// zero) until the run stops.
func (bc *benchConn) sendLoop(rate float64, start time.Time) {
	var every time.Duration
	if rate > 0 {
		every = time.Duration(float64(time.Second) / rate)
		// Connections start spread over one interval, not all at once.
		start = start.Add(time.Duration(bc.id) * every / time.Duration(max(bc.b.f.conns, 1)))
	}
	for n := 0; !bc.b.stopped.Load(); n++ {
		due := start.Add(time.Duration(n) * every)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if err := bc.send(due); err != nil {
			if !errors.Is(err, wsd.ErrClosed) {
				bc.b.fail("send", err)
			}
			return
		}
	}
}

// connectAll opens the connections, at -connect-rate if set.
func (b *bench) connectAll(ctx context.Context, rawURL string, opts *wsd.Options, progress bool, stderr io.Writer) []*benchConn {
	var mu sync.Mutex
	var conns []*benchConn
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range b.f.conns {
		if b.f.connectRate > 0 {
			due := start.Add(time.Duration(float64(i) / b.f.connectRate * float64(time.Second)))
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			bc := b.dial(ctx, i, rawURL, opts)
			if bc != nil {
				mu.Lock()
				conns = append(conns, bc)
				n := len(conns)
				mu.Unlock()
				if progress && n%100 == 0 {
					fmt.Fprintf(stderr, "\r%d connected   ", n)
				}
			}
		})
	}
	wg.Wait()
	sort.Slice(conns, func(i, j int) bool { return conns[i].id < conns[j].id })
	return conns
}

// dial opens connection id, or records why it could not.
func (b *bench) dial(ctx context.Context, id int, rawURL string, opts *wsd.Options) *benchConn {
	c, err := wsd.NewClient(rawURL, opts)
	if err != nil {
		b.fail("connect", err)
		return nil
	}
	bc := &benchConn{b: b, id: id, c: c, typ: wsd.TextMessage}
	if b.f.binary {
		bc.typ = wsd.BinaryMessage
	}
	c.OnMessage(bc.onMessage)
	c.OnClose(func(code int, reason string) {
		if !b.stopped.Load() {
			b.fail("closed by server", fmt.Errorf("connection %d closed: %d %s", id, code, reason))
		}
	})
	t0 := time.Now()
	if err := c.Start(ctx); err != nil {
		kind := "connect"
		switch connectExit(err, true, false) {
		case exitTLS:
			kind = "tls"
		case exitHandshake:
			kind = "handshake"
		}
		b.fail(kind, err)
		return nil
	}
	b.connect.record(time.Since(t0))
	if c.Extensions() != "" {
		b.deflated.Add(1)
	}
	return bc
}

// connectFailure is the exit status when no connection opened.
func (b *bench) connectFailure() int {
	switch {
	case b.errs["tls"] > 0:
		return exitTLS
	case b.errs["handshake"] > 0:
		return exitHandshake
	}
	return exitConnect
}

func (b *bench) errorCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, v := range b.errs {
		n += v
	}
	return n
}

// benchResult is the -json output.
type benchResult struct {
	URL          string            `json:"url"`
	Conns        int               `json:"conns"`
	Connected    int               `json:"connected"`
	Size         int               `json:"size"`
	Binary       bool              `json:"binary"`
	Deflate      bool              `json:"deflate"`
	Deflated     int64             `json:"deflate_agreed"`
	Rate         float64           `json:"rate"`
	Seconds      float64           `json:"seconds"`
	ConnectMs    float64           `json:"connect_ms"`
	Handshake    percentiles       `json:"handshake_ms"`
	Sent         uint64            `json:"sent"`
	Messages     uint64            `json:"messages"`
	PerSecond    float64           `json:"messages_per_second"`
	MBPerSecond  float64           `json:"mb_per_second"`
	Latency      *percentiles      `json:"latency_ms,omitempty"`
	Errors       map[string]int    `json:"errors"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
}

// percentiles of a histogram, in milliseconds.
type percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func percentilesOf(h *hist) percentiles {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return percentiles{ms(h.quantile(0.5)), ms(h.quantile(0.9)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(time.Duration(h.max.Load())), ms(h.mean())}
}

func (p percentiles) String() string {
	return fmt.Sprintf("p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms", p.P50, p.P90, p.P99, p.P999, p.Max)
}

func (b *bench) report(w io.Writer, rawURL string, connected int, connectTime, elapsed time.Duration) {
	r := benchResult{
		URL: rawURL, Conns: b.f.conns, Connected: connected, Size: b.f.size, Binary: b.f.binary,
		Deflate: b.f.deflate, Deflated: b.deflated.Load(), Rate: b.f.rate, Seconds: elapsed.Seconds(),
		ConnectMs: float64(connectTime.Microseconds()) / 1000, Handshake: percentilesOf(&b.connect),
		Sent: b.sent.Load(), Messages: b.messages.Load(), Errors: map[string]int{}, ErrorSamples: map[string]string{},
	}
	if elapsed > 0 {
		r.PerSecond = float64(r.Messages) / elapsed.Seconds()
		r.MBPerSecond = float64(b.bytes.Load()) / elapsed.Seconds() / 1e6
	}
	if !b.f.noEcho {
		p := percentilesOf(&b.latency)
		r.Latency = &p
	}
	b.mu.Lock()
	for k, v := range b.errs {
		r.Errors[k] = v
		r.ErrorSamples[k] = b.firstErr[k].Error()
	}
	b.mu.Unlock()
	if b.f.json {
		out, _ := json.Marshal(r)
		fmt.Fprintf(w, "%s\n", out)
		return
	}
	mode := "closed loop"
	if b.f.rate > 0 {
		mode = fmt.Sprintf("%g messages/s", b.f.rate)
	}
	typ := "text"
	if b.f.binary {
		typ = "binary"
	}
	fmt.Fprintf(w, "target     %s: %d connections, %d-byte %s messages, %s\n", rawURL, b.f.conns, b.f.size, typ, mode)
	fmt.Fprintf(w, "connect    %d connected in %.1fms; handshake %v\n", connected, r.ConnectMs, r.Handshake)
	if b.f.deflate {
		fmt.Fprintf(w, "deflate    agreed on %d of %d connections\n", r.Deflated, connected)
	}
	if connected > 0 {
		what := "round trips"
		if b.f.noEcho {
			what = "messages received"
		}
		fmt.Fprintf(w, "messages   %d %s in %.2fs: %.0f/s, %.2f MB/s (%d sent)\n", r.Messages, what, r.Seconds, r.PerSecond, r.MBPerSecond, r.Sent)
	}
	if r.Latency != nil && connected > 0 {
		fmt.Fprintf(w, "latency    %v\n", r.Latency)
		if r.Messages == 0 && r.Sent > 0 {
			fmt.Fprintln(w, "           no echo came back: if the server does not echo, use -no-echo")
		}
	}
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "errors     none")
		return
	}
	kinds := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "errors     %s: %d (first: %s)\n", k, r.Errors[k], r.ErrorSamples[k])
	}
}
