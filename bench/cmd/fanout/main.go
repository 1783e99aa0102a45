// Command fanout measures channels across nodes: wsd's hub with its Redis
// adapter against centrifugal/centrifuge with its Redis broker, on the same
// redis-server. It starts the broker and the nodes as processes of its
// own, connects the subscribers from this process, spread over the nodes,
// has node 0 publish, and reports deliveries per second, publish-to-
// delivery latency and the nodes' CPU time per delivery.
//
//	go run ./cmd/fanout [-subs 1000] [-nodes 3] [-rate 0] [-duration 10s] [-size 128] [-stall 0] [-impl wsd,centrifuge]
//
// -rate 0 publishes as fast as node 0 can; -stall 0.01 makes 1% of the
// subscribers stop reading. Linux only: CPU and memory come from /proc.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsd-go/wsd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		nodeMain(os.Args[2:])
		return
	}
	subs := flag.Int("subs", 1000, "subscribers, spread over the nodes")
	nodes := flag.Int("nodes", 3, "nodes")
	rate := flag.Int("rate", 0, "messages per second from node 0; 0: as fast as it can")
	duration := flag.Duration("duration", 10*time.Second, "publishing time")
	size := flag.Int("size", 128, "message size in bytes")
	stall := flag.Float64("stall", 0, "share of subscribers that read nothing")
	impls := flag.String("impl", "wsd,centrifuge", "comma-separated: wsd, centrifuge")
	restart := flag.Duration("restart", 0, "kill redis-server this long into the publishing and start it again at once (0: never)")
	flag.Parse()
	rs := startRedis()
	defer rs.stop()
	for _, impl := range strings.Split(*impls, ",") {
		r := runOnce(impl, rs, *nodes, *subs, *rate, *duration, *size, *stall, *restart)
		fmt.Println(r)
	}
}

// redisServer is a redis-server process on a free 127.0.0.1 port.
type redisServer struct {
	addr string
	port int
	cmd  *exec.Cmd
}

func startRedis() *redisServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	r := &redisServer{port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	r.addr = fmt.Sprintf("127.0.0.1:%d", r.port)
	r.start()
	return r
}

func (r *redisServer) start() {
	for try := 0; ; try++ {
		r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--save", "", "--appendonly", "no")
		if err := r.cmd.Start(); err != nil {
			log.Fatalf("redis-server: %v", err)
		}
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", r.addr); err == nil {
				c.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		r.stop()
		if try == 10 {
			log.Fatal("redis-server did not start")
		}
	}
}

func (r *redisServer) stop() {
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// node is a node process.
type node struct {
	cmd    *exec.Cmd
	addr   string
	in     io.WriteCloser
	out    *bufio.Reader
	losses atomic.Int64 // "loss:" lines the node logged
}

func startNode(impl, redisAddr string) *node {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	n := &node{cmd: exec.Command(self, "node", "-impl", impl, "-redis", redisAddr)}
	stderr, _ := n.cmd.StderrPipe()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "loss:") {
				if n.losses.Add(1) > 3 {
					continue
				}
			}
			fmt.Fprintln(os.Stderr, sc.Text())
		}
	}()
	n.in, _ = n.cmd.StdinPipe()
	out, _ := n.cmd.StdoutPipe()
	n.out = bufio.NewReader(out)
	if err := n.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := n.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		log.Fatalf("node: %q %v", line, err)
	}
	n.addr = strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	return n
}

func (n *node) stop() {
	n.in.Close()
	done := make(chan struct{})
	go func() {
		n.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
}

// cpu returns the process's user and system time.
func (n *node) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// rss returns the process's resident memory in bytes.
func (n *node) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// histogram counts latencies in buckets 5% apart, from 1 µs.
type histogram struct{ b [400]atomic.Int64 }

func (h *histogram) add(d time.Duration) {
	us := float64(d.Microseconds())
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/math.Log(1.05)), len(h.b)-1)
	}
	h.b[i].Add(1)
}

func (h *histogram) quantile(q float64) time.Duration {
	var total int64
	for i := range h.b {
		total += h.b[i].Load()
	}
	want := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= want && want > 0 {
			return time.Duration(math.Pow(1.05, float64(i+1))) * time.Microsecond
		}
	}
	return 0
}

// parseT finds the send times in a frame: one for wsd, one per
// publication in a centrifuge frame (which may carry several).
func parseT(data []byte, f func(int64)) {
	for {
		i := strings.Index(string(data), `"t":`)
		if i < 0 {
			return
		}
		data = data[i+4:]
		var t int64
		j := 0
		for ; j < len(data) && data[j] >= '0' && data[j] <= '9'; j++ {
			t = t*10 + int64(data[j]-'0')
		}
		f(t)
		data = data[j:]
	}
}

type result struct {
	impl                 string
	nodes, subs, stalled int
	rate                 int
	published            int
	delivered            int64
	elapsed              time.Duration
	p50, p99             time.Duration
	cpu                  time.Duration
	rss                  int64
	expected             int64
}

func (r result) String() string {
	rate := "max"
	if r.rate > 0 {
		rate = strconv.Itoa(r.rate) + "/s"
	}
	perDelivery := float64(r.cpu.Microseconds()) / math.Max(1, float64(r.delivered))
	return fmt.Sprintf("| %s | %d | %d | %d | %s | %d | %.0f | %.1f%% | %v | %v | %.2f | %.0f |",
		r.impl, r.nodes, r.subs, r.stalled, rate, r.published,
		float64(r.delivered)/r.elapsed.Seconds(), 100*float64(r.delivered)/math.Max(1, float64(r.expected)),
		r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), perDelivery, float64(r.rss)/(1<<20))
}

func runOnce(impl string, rs *redisServer, nNodes, subs, rate int, d time.Duration, size int, stallShare float64, restartAfter time.Duration) result {
	ns := make([]*node, nNodes)
	for i := range ns {
		ns[i] = startNode(impl, rs.addr)
	}
	defer func() {
		for _, n := range ns {
			n.stop()
		}
	}()
	var hist histogram
	var delivered atomic.Int64
	var remote atomic.Int64 // deliveries to members of other nodes than the publisher's
	var measuring atomic.Bool
	stalled := int(float64(subs) * stallShare)
	var wg sync.WaitGroup
	var ready atomic.Int64
	var conns []*wsd.Conn
	var raw []net.Conn
	var mu sync.Mutex
	sem := make(chan struct{}, 64)
	for i := range subs {
		n := ns[i%nNodes]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if i < stalled {
				c := dialStalled(impl, n.addr)
				mu.Lock()
				raw = append(raw, c)
				mu.Unlock()
				ready.Add(1)
				return
			}
			c := dialSubscriber(impl, n.addr, &ready, func(data []byte) {
				if !measuring.Load() {
					return
				}
				now := time.Now().UnixNano()
				parseT(data, func(t int64) {
					delivered.Add(1)
					if i%nNodes != 0 {
						remote.Add(1)
					}
					hist.add(time.Duration(now - t))
				})
			})
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for deadline := time.Now().Add(60 * time.Second); ready.Load() < int64(subs); {
		if time.Now().After(deadline) {
			log.Fatalf("%s: %d of %d subscribers ready", impl, ready.Load(), subs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // subscriptions reach the broker
	cpu0 := make([]time.Duration, nNodes)
	for i, n := range ns {
		cpu0[i] = n.cpu()
	}
	measuring.Store(true)
	start := time.Now()
	var resumed atomic.Int64 // nanoseconds from the restart to the next delivery
	resumed.Store(-1)
	if restartAfter > 0 {
		go func() {
			time.Sleep(restartAfter)
			rs.stop()
			rs.start()
			back := time.Now()
			base := remote.Load()
			for time.Since(back) < 30*time.Second {
				if remote.Load() > base {
					resumed.Store(int64(time.Since(back)))
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	fmt.Fprintf(ns[0].in, "publish %d %v %d\n", rate, d, size)
	line, _ := ns[0].out.ReadString('\n')
	published, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "published ")))
	// Deliveries still in flight get a moment.
	expected := int64(published) * int64(subs-stalled)
	for deadline := time.Now().Add(5 * time.Second); delivered.Load() < expected && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	measuring.Store(false)
	var cpu time.Duration
	var rss int64
	for i, n := range ns {
		cpu += n.cpu() - cpu0[i]
		rss = max(rss, n.rss())
	}
	if restartAfter > 0 {
		var losses int64
		for _, n := range ns {
			losses += n.losses.Load()
		}
		if r := resumed.Load(); r >= 0 {
			log.Printf("%s: broker restarted; deliveries to other nodes resumed %v later; the nodes reported %d losses", impl, time.Duration(r).Round(time.Millisecond), losses)
		} else {
			log.Printf("%s: broker restarted; deliveries did not resume within 30 s; the nodes reported %d losses", impl, losses)
		}
	}
	for _, c := range conns {
		c.CloseNow()
	}
	for _, c := range raw {
		c.Close()
	}
	return result{impl: impl, nodes: nNodes, subs: subs, stalled: stalled, rate: rate, published: published,
		delivered: delivered.Load(), expected: expected, elapsed: elapsed, p50: hist.quantile(0.5), p99: hist.quantile(0.99), cpu: cpu, rss: rss}
}

// dialSubscriber connects a subscriber and calls onData with each
// message; ready counts it once it is subscribed.
func dialSubscriber(impl, addr string, ready *atomic.Int64, onData func([]byte)) *wsd.Conn {
	url := "ws://" + addr + "/bench"
	if impl == "centrifuge" {
		url = "ws://" + addr + "/connection/websocket"
	}
	c, err := wsd.NewClient(url, nil)
	if err != nil {
		log.Fatal(err)
	}
	var subscribed atomic.Bool
	c.OnMessage(func(m wsd.Message) {
		if impl == "centrifuge" && !subscribed.Load() {
			if strings.Contains(string(m.Data), `"id":2`) {
				subscribed.Store(true)
				ready.Add(1)
			}
		}
		onData(m.Data)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		log.Fatalf("subscriber: %v", err)
	}
	if impl == "centrifuge" {
		c.SendText(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"bench"}}`)
	} else {
		ready.Add(1)
	}
	return c
}

// dialStalled connects a subscriber that never reads.
func dialStalled(impl, addr string) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4 << 10)
	}
	path := "/bench"
	if impl == "centrifuge" {
		path = "/connection/websocket"
	}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, addr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(nc)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			log.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
	}
	if impl == "centrifuge" {
		writeMasked(nc, `{"id":1,"connect":{}}`+"\n"+`{"id":2,"subscribe":{"channel":"bench"}}`)
	}
	return nc
}

// writeMasked writes a masked text frame with a zero key.
func writeMasked(w io.Writer, s string) {
	hdr := []byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}
	w.Write(append(hdr, s...))
}
