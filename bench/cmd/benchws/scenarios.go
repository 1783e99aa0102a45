package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsd-go/wsd/bench/internal/wsclient"
)

// sample is one measured value of one metric.
type sample struct {
	key   string
	value float64
}

// scenario measures one server process and returns its samples.
type scenario struct {
	name    string
	desc    string
	run     func(cfg *config, srv *serverProc) ([]sample, error)
	deflate bool // whether the server is started with permessage-deflate
}

var allScenarios = []scenario{
	{"echo", "echo round trips", runEcho, false},
	{"pipelined", "pipelined echo", runPipelined, false},
	{"many", "echo over many connections", runMany, false},
	{"deflate", "permessage-deflate echo", runDeflate, true},
	{"idle", "idle memory", runIdle, false},
	{"handshake", "handshakes", runHandshake, false},
}

// Phases of a timed measurement.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// timer drives the phases of a measurement: warm-up, measurement, stop.
// It also reads the CPU time the server process spent in the measurement.
type timer struct {
	phase atomic.Int32
	start time.Time
	end   time.Time
	cpu   time.Duration // server CPU time (user + system) in the measurement; -1 if unknown
}

// runPhases sleeps through warm-up and measurement, switching phases.
func (t *timer) runPhases(cfg *config, srv *serverProc) {
	time.Sleep(cfg.warmup)
	cpu0, err0 := srv.cpuTime()
	t.start = time.Now()
	t.phase.Store(phaseMeasure)
	time.Sleep(cfg.duration)
	t.end = time.Now()
	cpu1, err1 := srv.cpuTime()
	t.phase.Store(phaseStop)
	t.cpu = cpu1 - cpu0
	if err0 != nil || err1 != nil {
		t.cpu = -1
	}
}

// cpuPer returns the server's CPU time in µs per one of n operations.
func (t *timer) cpuPer(n uint64) float64 {
	if t.cpu < 0 || n == 0 {
		return nan
	}
	return float64(t.cpu.Microseconds()) / float64(n)
}

func (t *timer) measuring() bool { return t.phase.Load() == phaseMeasure }
func (t *timer) stopped() bool   { return t.phase.Load() == phaseStop }
func (t *timer) seconds() float64 {
	return t.end.Sub(t.start).Seconds()
}

// ioGrace is how long any single read or write may take beyond the end of
// a measurement before the run is declared stuck.
const ioGrace = 30 * time.Second

// dialTimeout bounds each opening handshake.
const dialTimeout = 10 * time.Second

// opFor alternates binary and text messages so that both are echoed.
func opFor(seq uint64) byte {
	if seq&1 == 0 {
		return wsclient.OpBinary
	}
	return wsclient.OpText
}

// mismatchError reports an echo that differs from the message sent. It
// always aborts the run.
type mismatchError struct{ what string }

func (e *mismatchError) Error() string { return "echo mismatch: " + e.what }

// checkEcho verifies an echoed message against what was sent.
func checkEcho(op byte, p []byte, wantOp byte, size int, seed uint64) error {
	if op != wantOp {
		return &mismatchError{fmt.Sprintf("echo has opcode %d, sent %d", op, wantOp)}
	}
	if len(p) != size {
		return &mismatchError{fmt.Sprintf("echo has %d bytes, sent %d", len(p), size)}
	}
	if !wsclient.Verify(p, seed, op == wsclient.OpText) {
		return &mismatchError{"echoed payload differs from the payload sent"}
	}
	return nil
}

// errOnce keeps the first error reported by any goroutine.
type errOnce struct {
	mu  sync.Mutex
	err error
}

func (e *errOnce) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *errOnce) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// client is one load-generating connection and its message counter.
type client struct {
	id  uint64
	c   *wsclient.Conn
	seq uint64
}

// dialMany opens n connections with at most par handshakes in flight,
// offering permessage-deflate if deflate is set. Connections beyond the
// ephemeral port range of one source address are bound to further loopback
// addresses (127.0.0.2, 127.0.0.3, ...).
func dialMany(addr string, n, par int, deflate bool) ([]*client, error) {
	dial := wsclient.Dial
	if deflate {
		dial = wsclient.DialDeflate
	}
	perSource := ephemeralPorts() * 3 / 4
	clients := make([]*client, n)
	var next atomic.Int64
	var fail errOnce
	var wg sync.WaitGroup
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || fail.get() != nil {
					return
				}
				var local *net.TCPAddr
				if src := i / perSource; src > 0 {
					local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+src))}
				}
				c, err := dial(addr, local, dialTimeout)
				if err != nil {
					fail.set(fmt.Errorf("connection %d: %w", i, err))
					return
				}
				clients[i] = &client{id: uint64(i), c: c}
			}
		})
	}
	wg.Wait()
	if fail.get() != nil {
		closeAll(clients)
		return nil, fail.get()
	}
	return clients, nil
}

func closeAll(clients []*client) {
	for _, cl := range clients {
		if cl != nil {
			cl.c.Close()
		}
	}
}

// ephemeralPorts returns the size of the local port range.
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && hi > lo {
				return hi - lo + 1
			}
		}
	}
	return 28000
}

// runEcho measures round trips: every connection sends a message, waits for
// its echo, checks it, and sends the next, for each message size in turn.
func runEcho(cfg *config, srv *serverProc) ([]sample, error) {
	clients, err := dialMany(srv.addr, cfg.conns, 64, false)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)

	var out []sample
	for _, size := range cfg.sizes {
		st, tm, err := roundTrips(cfg, srv, clients, func(cl *client, tm *timer, st *rtStats) error {
			send := func(seq uint64) error {
				return cl.c.WritePattern(opFor(seq), size, wsclient.Seed(cl.id, seq))
			}
			check := func(seq uint64, op byte, p []byte) error {
				return checkEcho(op, p, opFor(seq), size, wsclient.Seed(cl.id, seq))
			}
			return echoLoop(cl, tm, st, size >= concurrentWriteMin, send, check)
		})
		if err != nil {
			return nil, fmt.Errorf("echo %s: %w", sizeName(size), err)
		}
		out = append(out, rtSamples("echo-"+sizeName(size), size, st, tm)...)
	}
	return out, nil
}

// runMany is runEcho over cfg.many connections with 64-byte messages:
// what an engine does with many sockets that are each only a little busy.
func runMany(cfg *config, srv *serverProc) ([]sample, error) {
	clients, err := dialMany(srv.addr, cfg.many, 64, false)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	st, tm, err := roundTrips(cfg, srv, clients, func(cl *client, tm *timer, st *rtStats) error {
		send := func(seq uint64) error {
			return cl.c.WritePattern(opFor(seq), manySize, wsclient.Seed(cl.id, seq))
		}
		check := func(seq uint64, op byte, p []byte) error {
			return checkEcho(op, p, opFor(seq), manySize, wsclient.Seed(cl.id, seq))
		}
		return echoLoop(cl, tm, st, false, send, check)
	})
	if err != nil {
		return nil, fmt.Errorf("many: %w", err)
	}
	return rtSamples("many", manySize, st, tm), nil
}

// manySize is the message size of the many-connections scenario.
const manySize = 64

// runDeflate is runEcho with permessage-deflate: JSON-like messages (see
// jsonText) sent compressed, echoed compressed by the server, and checked
// after inflating. It also reports how much the server's compression
// shrank the echoes.
func runDeflate(cfg *config, srv *serverProc) ([]sample, error) {
	clients, err := dialMany(srv.addr, cfg.conns, 64, true)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)

	var out []sample
	for _, size := range cfg.deflateSizes {
		payloads := cfg.deflatePayloads[size]
		st, tm, err := roundTrips(cfg, srv, clients, func(cl *client, tm *timer, st *rtStats) error {
			send := func(seq uint64) error {
				return cl.c.WriteMessage(opFor(seq), payloads[seq%deflateVariants].z, true)
			}
			check := func(seq uint64, op byte, p []byte) error {
				if err := checkDeflateEcho(op, p, opFor(seq), payloads[seq%deflateVariants].plain); err != nil {
					return err
				}
				// The servers are told to compress everything; an
				// uncompressed echo would measure something else.
				if _, compressed := cl.c.LastWire(); !compressed {
					return errors.New("server echoed a message uncompressed")
				}
				return nil
			}
			return echoLoop(cl, tm, st, size >= concurrentWriteMin, send, check)
		})
		if err != nil {
			return nil, fmt.Errorf("deflate %s: %w", sizeName(size), err)
		}
		prefix := "deflate-" + sizeName(size)
		ratio := nan
		if st.count > 0 {
			ratio = float64(st.wire) / float64(st.count*uint64(size))
		}
		out = append(out, rtSamples(prefix, size, st, tm)...)
		out = append(out, sample{prefix + "-ratio", ratio})
	}
	return out, nil
}

// checkDeflateEcho verifies an inflated echo against the message sent.
func checkDeflateEcho(op byte, p []byte, wantOp byte, want []byte) error {
	if op != wantOp {
		return &mismatchError{fmt.Sprintf("echo has opcode %d, sent %d", op, wantOp)}
	}
	if len(p) != len(want) {
		return &mismatchError{fmt.Sprintf("echo has %d bytes, sent %d", len(p), len(want))}
	}
	if !bytes.Equal(p, want) {
		return &mismatchError{"echoed payload differs from the payload sent"}
	}
	return nil
}

// rtStats are the round trips of one connection, or of all, completed
// during a measurement.
type rtStats struct {
	hist  histogram
	count uint64
	wire  uint64 // payload bytes of their echoes on the wire
}

// roundTrips runs loop on every client through a warm-up and a
// measurement, and returns the stats of all connections together and the
// length of the measurement in seconds.
func roundTrips(cfg *config, srv *serverProc, clients []*client, loop func(cl *client, tm *timer, st *rtStats) error) (*rtStats, *timer, error) {
	var tm timer
	stats := make([]rtStats, len(clients))
	var fail errOnce
	var wg sync.WaitGroup
	deadline := time.Now().Add(cfg.warmup + cfg.duration + ioGrace)
	for i, cl := range clients {
		_ = cl.c.SetDeadline(deadline)
		wg.Go(func() { fail.set(loop(cl, &tm, &stats[i])) })
	}
	tm.runPhases(cfg, srv)
	wg.Wait()
	if err := fail.get(); err != nil {
		return nil, nil, err
	}
	all := &rtStats{}
	for i := range stats {
		all.hist.merge(&stats[i].hist)
		all.count += stats[i].count
		all.wire += stats[i].wire
	}
	return all, &tm, nil
}

// rtSamples returns the round-trip samples of size-byte messages: rate,
// MB/s one way, p50 and p99 latency in µs, server CPU µs per round trip,
// keyed prefix-rate and so on.
func rtSamples(prefix string, size int, st *rtStats, tm *timer) []sample {
	rate := float64(st.count) / tm.seconds()
	p50, p99 := nan, nan // no latency without a single round trip
	if st.hist.total > 0 {
		p50 = float64(st.hist.quantile(0.50)) / 1e3
		p99 = float64(st.hist.quantile(0.99)) / 1e3
	}
	return []sample{
		{prefix + "-rate", rate},
		{prefix + "-mbps", rate * float64(size) / 1e6},
		{prefix + "-p50", p50},
		{prefix + "-p99", p99},
		{prefix + "-cpu", tm.cpuPer(st.count)},
	}
}

// concurrentWriteMin is the message size from which echoLoop writes from
// a second goroutine while it reads the echo. Servers that stream a large
// echo back while still reading the message would otherwise stall on full
// socket buffers, the client not reading until it has written everything.
const concurrentWriteMin = 16 << 10

// echoLoop is the round-trip loop of one connection: send writes message
// seq and check verifies its echo. With concurrent set, messages are
// written from a second goroutine while the echo is read. It counts, and
// times, the round trips that complete during the measurement phase.
func echoLoop(cl *client, tm *timer, st *rtStats, concurrent bool,
	send func(seq uint64) error, check func(seq uint64, op byte, p []byte) error) error {
	// write sends message seq, here or on the writer goroutine.
	write := send
	wait := func() error { return nil }
	if concurrent {
		seqs, errs := make(chan uint64), make(chan error)
		defer close(seqs)
		go func() {
			for seq := range seqs {
				errs <- send(seq)
			}
		}()
		write = func(seq uint64) error { seqs <- seq; return nil }
		wait = func() error { return <-errs }
	}

	for !tm.stopped() {
		cl.seq++
		t0 := time.Now()
		if err := write(cl.seq); err != nil {
			return err
		}
		op, p, err := cl.c.ReadMessage()
		if werr := wait(); werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
		lat := time.Since(t0)
		if err := check(cl.seq, op, p); err != nil {
			return fmt.Errorf("connection %d message %d: %w", cl.id, cl.seq, err)
		}
		if tm.measuring() {
			st.count++
			st.hist.record(lat)
			n, _ := cl.c.LastWire()
			st.wire += uint64(n)
		}
	}
	return nil
}

// runPipelined measures throughput with cfg.inflight messages in flight on
// every connection: a writer goroutine keeps the window full and a reader
// goroutine checks the echoes in order.
func runPipelined(cfg *config, srv *serverProc) ([]sample, error) {
	clients, err := dialMany(srv.addr, cfg.conns, 64, false)
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)

	var tm timer
	counts := make([]uint64, len(clients))
	var fail errOnce
	var wg sync.WaitGroup
	deadline := time.Now().Add(cfg.warmup + cfg.duration + ioGrace)
	for i, cl := range clients {
		_ = cl.c.SetDeadline(deadline)
		wg.Go(func() {
			fail.set(pipelineConn(cl, cfg.pipeSize, cfg.inflight, &tm, &counts[i], deadline))
		})
	}
	tm.runPhases(cfg, srv)
	wg.Wait()
	if fail.get() != nil {
		return nil, fmt.Errorf("pipelined: %w", fail.get())
	}
	var total uint64
	for _, c := range counts {
		total += c
	}
	return []sample{{"pipe-rate", float64(total) / tm.seconds()}, {"pipe-cpu", tm.cpuPer(total)}}, nil
}

// pipelineConn runs the writer and the reader of one connection. The
// window is a channel of capacity inflight: the writer puts a token in for
// every message sent and the reader takes one out for every echo checked.
func pipelineConn(cl *client, size, inflight int, tm *timer, count *uint64, deadline time.Time) error {
	window := make(chan struct{}, inflight)
	var done atomic.Bool // set once the writer has seen every echo
	var fail errOnce
	first := cl.seq + 1 // sequence number of the first message

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for seq := first; ; seq++ {
			op, p, err := cl.c.ReadMessage()
			if err != nil {
				if !done.Load() {
					fail.set(err)
				}
				return
			}
			if err := checkEcho(op, p, opFor(seq), size, wsclient.Seed(cl.id, seq)); err != nil {
				fail.set(fmt.Errorf("connection %d message %d: %w", cl.id, seq, err))
				return
			}
			if tm.measuring() {
				*count++
			}
			<-window
		}
	}()

	// stopReader makes the reader return and waits for it. Once done is
	// set, the error that wakes it is not reported.
	stopReader := func() {
		done.Store(true)
		_ = cl.c.SetDeadline(time.Now())
		<-readerDone
	}

	var buf []byte
	for !tm.stopped() && fail.get() == nil {
		// Wait for room, then take all the room there is and send that
		// many messages in one write.
		select {
		case window <- struct{}{}:
		case <-readerDone:
			return fail.get()
		}
		n := 1
	fill:
		for n < inflight {
			select {
			case window <- struct{}{}:
				n++
			default:
				break fill
			}
		}
		buf = buf[:0]
		for range n {
			cl.seq++
			buf = wsclient.AppendFrame(buf, opFor(cl.seq), size, wsclient.Seed(cl.id, cl.seq), cl.c.NextMask())
		}
		if err := cl.c.Write(buf); err != nil {
			stopReader()
			return err
		}
	}

	// Drain: once the writer holds every token, every echo has been read.
	drain := time.NewTimer(time.Until(deadline))
	defer drain.Stop()
	for range inflight {
		select {
		case window <- struct{}{}:
		case <-readerDone:
			return fail.get()
		case <-drain.C:
			stopReader()
			return errors.New("echoes still missing after the deadline")
		}
	}
	// The reader is now blocked on a read with nothing in flight.
	stopReader()
	_ = cl.c.SetDeadline(time.Time{})
	return fail.get()
}

// runIdle measures the server's memory per idle connection: its RSS before
// and after opening cfg.idle connections that then stay silent. Afterwards
// every connection must still echo a message.
func runIdle(cfg *config, srv *serverProc) ([]sample, error) {
	if lim := noFileLimit(); lim < uint64(cfg.idle)+100 {
		return nil, fmt.Errorf("idle: %d connections need more open files than the limit of %d", cfg.idle, lim)
	}
	time.Sleep(cfg.settle)
	before, err := srv.rss()
	if err != nil {
		return nil, err
	}
	clients, err := dialMany(srv.addr, cfg.idle, 32, false)
	if err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	defer closeAll(clients)
	time.Sleep(cfg.settle)
	after, err := srv.rss()
	if err != nil {
		return nil, err
	}

	// Every connection must still be alive: one round trip on each.
	var next atomic.Int64
	var fail errOnce
	var wg sync.WaitGroup
	deadline := time.Now().Add(ioGrace)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(clients) || fail.get() != nil {
					return
				}
				cl := clients[i]
				_ = cl.c.SetDeadline(deadline)
				cl.seq++
				op, seed := opFor(cl.seq), wsclient.Seed(cl.id, cl.seq)
				if err := cl.c.WritePattern(op, 32, seed); err != nil {
					fail.set(fmt.Errorf("connection %d: %w", i, err))
					return
				}
				gotOp, p, err := cl.c.ReadMessage()
				if err == nil {
					err = checkEcho(gotOp, p, op, 32, seed)
				}
				if err != nil {
					fail.set(fmt.Errorf("connection %d after idling: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if fail.get() != nil {
		return nil, fmt.Errorf("idle: %w", fail.get())
	}
	return []sample{
		{"idle-perconn", float64(after-before) / float64(cfg.idle)},
		{"idle-before", float64(before) / (1 << 20)},
		{"idle-after", float64(after) / (1 << 20)},
	}, nil
}

// runHandshake measures complete connection lifetimes: open, one 32-byte
// round trip, closing handshake, from cfg.hsWorkers workers at once.
// Lifetimes that fail for other reasons than a wrong echo (refused or
// dropped connections, a server that does not close) are counted and
// reported rather than ending the run; a wrong echo ends it.
func runHandshake(cfg *config, srv *serverProc) ([]sample, error) {
	var tm timer
	counts := make([]uint64, cfg.hsWorkers)
	failed := make([]uint64, cfg.hsWorkers)
	firstFailure := make([]error, cfg.hsWorkers)
	var fail errOnce
	var wg sync.WaitGroup
	for w := range cfg.hsWorkers {
		wg.Go(func() {
			for seq := uint64(1); !tm.stopped() && fail.get() == nil; seq++ {
				err := oneLifetime(srv.addr, uint64(w), seq)
				var mismatch *mismatchError
				switch {
				case errors.As(err, &mismatch):
					fail.set(fmt.Errorf("handshake worker %d: %w", w, err))
					return
				case err != nil:
					if firstFailure[w] == nil {
						firstFailure[w] = err
					}
					if tm.measuring() {
						failed[w]++
					}
				case tm.measuring():
					counts[w]++
				}
			}
		})
	}
	tm.runPhases(cfg, srv)
	wg.Wait()
	if err := fail.get(); err != nil {
		return nil, err
	}
	var total, totalFailed uint64
	for w := range counts {
		total += counts[w]
		totalFailed += failed[w]
		if firstFailure[w] != nil {
			fmt.Fprintf(os.Stderr, "\n  warning: %s: handshake worker %d: %v", srv.name, w, firstFailure[w])
		}
	}
	return []sample{
		{"hs-rate", float64(total) / tm.seconds()},
		{"hs-failed", float64(totalFailed)},
	}, nil
}

// oneLifetime opens a connection, echoes one message and closes it.
func oneLifetime(addr string, worker, seq uint64) error {
	c, err := wsclient.Dial(addr, nil, 5*time.Second)
	if err != nil {
		return err
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	op, seed := opFor(seq), wsclient.Seed(1<<20+worker, seq)
	if err := c.WritePattern(op, 32, seed); err != nil {
		c.Close()
		return err
	}
	gotOp, p, err := c.ReadMessage()
	if err == nil {
		err = checkEcho(gotOp, p, op, 32, seed)
	}
	if err != nil {
		c.Close()
		return err
	}
	return c.CloseHandshake()
}

// sizeName formats a message size as 32B, 1KiB, 64KiB, 1MiB.
func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
