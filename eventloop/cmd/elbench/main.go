//go:build linux

// Command elbench measures wsd's transports: the memory an idle connection
// costs, and echo throughput and latency. Each run starts the server in a
// process of its own and the load in another, on 127.0.0.x addresses.
//
//	elbench idle [-n 15000] [-servers goroutine,epoll] [-peers BIN]
//	elbench echo [-c 64] [-d 10s] [-size 64] [-servers goroutine,epoll] [-peers BIN]
//
// idle opens n connections that then sit idle, and reports the growth of
// the server's resident memory per connection, before and after a garbage
// collection (for the wsd servers, which can be asked for one), and checks
// that every connection still echoes. echo runs c connections that each
// send a message and wait for its echo, over and over, for d, and reports
// messages per second and latency percentiles.
//
// -peers names a binary of the peers module beside this command, which
// serves the same echo with other libraries (servers nbio and gws).
//
// It runs on Linux only: it reads /proc and raises descriptor limits.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: elbench idle|echo [flags]")
		os.Exit(2)
	}
	raiseFileLimit()
	var err error
	switch os.Args[1] {
	case "idle":
		err = idleCmd(os.Args[2:])
	case "echo":
		err = echoCmd(os.Args[2:])
	case "serve": // a server process
		err = serve(os.Args[2])
	case "hold": // a load process of idle connections
		err = hold(os.Args[2:])
	case "drive": // a load process of echo traffic
		err = drive(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "elbench:", err)
		os.Exit(1)
	}
}

// raiseFileLimit raises the soft limit on open files to the hard limit.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// serve runs an echo server on engine and answers "gc" on stdin with the
// Go memory figures after a collection. It exits when stdin closes.
func serve(engine string) error {
	if r, err := strconv.Atoi(os.Getenv("ELBENCH_MEMPROFILERATE")); err == nil {
		runtime.MemProfileRate = r
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	switch engine {
	case "goroutine":
		go (&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
	case "epoll":
		loops, _ := strconv.Atoi(os.Getenv("ELBENCH_LOOPS"))
		go (&eventloop.Server{Handler: h, Loops: loops}).Serve(ln)
	default:
		return fmt.Errorf("unknown engine %q", engine)
	}
	fmt.Printf("listening on ws://%s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if path, ok := strings.CutPrefix(in.Text(), "profile "); ok {
			// A heap profile of what is live, for finding what an idle
			// connection holds (set ELBENCH_MEMPROFILERATE=1 for all of it).
			runtime.GC()
			if f, err := os.Create(path); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
			fmt.Println("profile written")
		}
		if path, ok := strings.CutPrefix(in.Text(), "cpuprofile "); ok {
			// A CPU profile of the next five seconds.
			if f, err := os.Create(path); err == nil {
				pprof.StartCPUProfile(f)
				time.Sleep(5 * time.Second)
				pprof.StopCPUProfile()
				f.Close()
			}
			fmt.Println("profile written")
		}
		if in.Text() == "gc" {
			runtime.GC()
			debug.FreeOSMemory()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("gc heap %d stack %d goroutines %d\n", ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine())
		}
	}
	return nil
}

// proc is a child process spoken to over its stdin and stdout.
type proc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func start(name string, args ...string) (*proc, error) {
	return startOn(-1, name, args...)
}

// startOn starts a process pinned to CPU cpu with taskset, unless cpu is
// negative.
func startOn(cpu int, name string, args ...string) (*proc, error) {
	if cpu >= 0 {
		args = append([]string{"-c", strconv.Itoa(cpu), name}, args...)
		name = "taskset"
	}
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

// expect reads lines until one starts with prefix, and returns it.
func (p *proc) expect(prefix string) (string, error) {
	for p.out.Scan() {
		if line := p.out.Text(); strings.HasPrefix(line, prefix) {
			return line, nil
		}
	}
	return "", fmt.Errorf("%s: no %q line (%v)", p.cmd.Path, prefix, p.out.Err())
}

func (p *proc) send(line string) error {
	_, err := io.WriteString(p.in, line+"\n")
	return err
}

// stop closes stdin, waits a little, then kills the process by its PID.
func (p *proc) stop() {
	p.in.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// rss returns the resident memory of the process, in bytes.
func (p *proc) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// gcStats asks a wsd server for a collection and its Go memory figures.
func (p *proc) gcStats() (heap, stack int64, err error) {
	if err := p.send("gc"); err != nil {
		return 0, 0, err
	}
	line, err := p.expect("gc ")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(line)
	heap, _ = strconv.ParseInt(f[2], 10, 64)
	stack, _ = strconv.ParseInt(f[4], 10, 64)
	return heap, stack, nil
}

// startServer starts the named server, on CPU cpu if not negative, and
// returns it with its address.
func startServer(name, peers string, cpu int) (*proc, string, error) {
	var p *proc
	var err error
	switch name {
	case "goroutine", "epoll":
		p, err = startOn(cpu, self(), "serve", name)
	default:
		if peers == "" {
			return nil, "", fmt.Errorf("server %q needs -peers", name)
		}
		p, err = startOn(cpu, peers, name)
	}
	if err != nil {
		return nil, "", err
	}
	line, err := p.expect("listening on ws://")
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, strings.TrimPrefix(line, "listening on ws://"), nil
}

func self() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func isWsd(name string) bool { return name == "goroutine" || name == "epoll" }

func idleCmd(args []string) error {
	fs := flag.NewFlagSet("elbench idle", flag.ExitOnError)
	n := fs.Int("n", 15000, "idle connections")
	sources := fs.Int("sources", 4, "source addresses 127.0.0.2 and up")
	servers := fs.String("servers", "goroutine,epoll", "servers to measure: goroutine, epoll, and with -peers nbio, gws")
	peers := fs.String("peers", "", "binary of the peers module")
	settle := fs.Duration("settle", 3*time.Second, "wait before measuring")
	fs.Parse(args)
	fmt.Printf("%-10s %7s %10s %12s %12s %12s %7s %14s\n", "server", "conns", "base RSS", "RSS/conn", "RSS/conn GC", "Go mem/conn", "alive", "kernel/socket")
	for _, name := range strings.Split(*servers, ",") {
		if err := idleRun(name, *peers, *n, *sources, *settle); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func idleRun(name, peers string, n, sources int, settle time.Duration) error {
	srv, addr, err := startServer(name, peers, -1)
	if err != nil {
		return err
	}
	defer srv.stop()
	var heap0, stack0 int64
	if isWsd(name) {
		if heap0, stack0, err = srv.gcStats(); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond)
	rss0, err := srv.rss()
	if err != nil {
		return err
	}
	slab0 := slab()
	load, err := start(self(), "hold", "-addr", addr, "-n", strconv.Itoa(n), "-sources", strconv.Itoa(sources))
	if err != nil {
		return err
	}
	defer load.stop()
	line, err := load.expect("connected ")
	if err != nil {
		return err
	}
	got, _ := strconv.Atoi(strings.Fields(line)[1])
	time.Sleep(settle)
	slab1 := slab()
	rss1, err := srv.rss()
	if err != nil {
		return err
	}
	perGC, goMem := "-", "-"
	if isWsd(name) {
		heap1, stack1, err := srv.gcStats()
		if err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		rss2, err := srv.rss()
		if err != nil {
			return err
		}
		perGC = fmt.Sprintf("%d B", (rss2-rss0)/int64(got))
		goMem = fmt.Sprintf("%d B", (heap1+stack1-heap0-stack0)/int64(got))
	}
	if err := load.send("check"); err != nil {
		return err
	}
	line, err = load.expect("alive ")
	if err != nil {
		return err
	}
	alive := strings.Fields(line)[1]
	// Both ends of each connection are sockets of this machine.
	fmt.Printf("%-10s %7d %7.1f MiB %10d B %12s %12s %7s %12d B\n", name, got, float64(rss0)/(1<<20), (rss1-rss0)/int64(got), perGC, goMem, alive, (slab1-slab0)/int64(2*got))
	return nil
}

// slab returns the kernel's slab memory, in bytes: where socket, file and
// epoll structures live. Other processes move it too, so it is a rough
// figure.
func slab() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Slab:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// dialer opens connections from 127.0.0.2, 127.0.0.3 and so on in turn,
// so that many connections do not run out of ephemeral ports.
type dialer struct {
	addr    string
	sources int
	next    atomic.Uint32
}

func (d *dialer) dial() (net.Conn, *bufio.Reader, error) {
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+int(d.next.Add(1))%d.sources))}
	nc, err := (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).Dial("tcp", d.addr)
	if err != nil {
		return nil, nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + d.addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	if resp.StatusCode != 101 {
		nc.Close()
		return nil, nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// dialAll opens n connections with a few goroutines.
func (d *dialer) dialAll(n int) ([]net.Conn, []*bufio.Reader, error) {
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	var failed atomic.Bool
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && !failed.Load(); i += 16 {
				nc, br, err := d.dial()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
				conns[i], readers[i] = nc, br
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, nil, firstErr
	}
	return conns, readers, nil
}

// clientFrame is a masked text frame; the mask is all zero, which leaves
// the payload as it is.
func clientFrame(payload []byte) []byte {
	var b []byte
	switch n := len(payload); {
	case n < 126:
		b = []byte{0x81, 0x80 | byte(n)}
	case n <= 0xffff:
		b = []byte{0x81, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		panic("message too large")
	}
	b = append(b, 0, 0, 0, 0)
	return append(b, payload...)
}

// readEcho reads one unmasked server frame of want payload bytes.
func readEcho(br *bufio.Reader, buf []byte) error {
	h, err := br.Peek(2)
	if err != nil {
		return err
	}
	n := int(h[1] & 0x7f)
	hl := 2
	if n == 126 {
		h, err = br.Peek(4)
		if err != nil {
			return err
		}
		n, hl = int(h[2])<<8|int(h[3]), 4
	}
	if _, err := br.Discard(hl); err != nil {
		return err
	}
	if n > len(buf) {
		return fmt.Errorf("echo of %d bytes, want at most %d", n, len(buf))
	}
	_, err = io.ReadFull(br, buf[:n])
	return err
}

func hold(args []string) error {
	fs := flag.NewFlagSet("elbench hold", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	n := fs.Int("n", 1000, "connections")
	sources := fs.Int("sources", 4, "source addresses")
	fs.Parse(args)
	d := &dialer{addr: *addr, sources: *sources}
	conns, readers, err := d.dialAll(*n)
	if err != nil {
		return err
	}
	fmt.Printf("connected %d\n", len(conns))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "check" {
			continue
		}
		var alive atomic.Int64
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 64)
				msg := clientFrame([]byte("still there?"))
				for i := w; i < len(conns); i += 16 {
					conns[i].SetDeadline(time.Now().Add(10 * time.Second))
					if _, err := conns[i].Write(msg); err == nil && readEcho(readers[i], buf) == nil && string(buf[:12]) == "still there?" {
						alive.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		fmt.Printf("alive %d\n", alive.Load())
	}
	for _, c := range conns {
		c.Close()
	}
	return nil
}

func echoCmd(args []string) error {
	fs := flag.NewFlagSet("elbench echo", flag.ExitOnError)
	c := fs.Int("c", 64, "connections")
	d := fs.Duration("d", 10*time.Second, "duration of the measure, after 1s of warm-up")
	size := fs.Int("size", 64, "message size")
	sources := fs.Int("sources", 4, "source addresses 127.0.0.2 and up")
	servers := fs.String("servers", "goroutine,epoll", "servers to measure: goroutine, epoll, and with -peers nbio, gws")
	peers := fs.String("peers", "", "binary of the peers module")
	pin := fs.Bool("pin", false, "run the server on CPU 0 and the load on CPU 1 (with taskset)")
	fs.Parse(args)
	serverCPU, loadCPU := -1, -1
	if *pin {
		serverCPU, loadCPU = 0, 1
	}
	fmt.Printf("%-10s %6s %6s %12s %9s %9s %9s\n", "server", "conns", "size", "msgs/s", "p50", "p99", "p99.9")
	for _, name := range strings.Split(*servers, ",") {
		srv, addr, err := startServer(name, *peers, serverCPU)
		if err != nil {
			return err
		}
		load, err := startOn(loadCPU, self(), "drive", "-addr", addr, "-c", strconv.Itoa(*c), "-d", d.String(), "-size", strconv.Itoa(*size), "-sources", strconv.Itoa(*sources))
		if err != nil {
			srv.stop()
			return err
		}
		line, err := load.expect("result ")
		load.stop()
		srv.stop()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%-10s %s\n", name, strings.TrimPrefix(line, "result "))
	}
	return nil
}

func drive(args []string) error {
	fs := flag.NewFlagSet("elbench drive", flag.ExitOnError)
	addr := fs.String("addr", "", "server address")
	c := fs.Int("c", 64, "connections")
	d := fs.Duration("d", 10*time.Second, "duration")
	size := fs.Int("size", 64, "message size")
	sources := fs.Int("sources", 4, "source addresses")
	fs.Parse(args)
	dl := &dialer{addr: *addr, sources: *sources}
	conns, readers, err := dl.dialAll(*c)
	if err != nil {
		return err
	}
	warm := time.Now().Add(time.Second)
	end := warm.Add(*d)
	lat := make([][]time.Duration, len(conns))
	var failures atomic.Int64
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := clientFrame(make([]byte, *size))
			buf := make([]byte, *size)
			conns[i].SetDeadline(end.Add(10 * time.Second))
			for {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				if _, err := conns[i].Write(msg); err != nil {
					failures.Add(1)
					return
				}
				if err := readEcho(readers[i], buf); err != nil {
					failures.Add(1)
					return
				}
				if t0.After(warm) {
					lat[i] = append(lat[i], time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return errors.New("no messages measured")
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	fmt.Printf("result %6d %6d %12.0f %9s %9s %9s", *c, *size, float64(len(all))/d.Seconds(),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(0.999).Round(time.Microsecond))
	if f := failures.Load(); f > 0 {
		fmt.Printf(" (%d connections failed)", f)
	}
	fmt.Println()
	return nil
}
