package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wsd-go/wsd"
)

const waitTimeout = 10 * time.Second

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wsd-hub")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(waitTimeout) {
		t.Fatal("nats-server not ready")
	}
	return s
}

// startNode runs the command and returns its ws:// URL; it is stopped by
// its PID at the end of the test.
func startNode(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(waitTimeout):
			cmd.Process.Kill()
			<-done
			t.Errorf("node did not stop on SIGTERM")
		}
	})
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ws://127.0.0.1:") {
		t.Fatalf("first line %q, %v; stderr %s", line, err, stderr.String())
	}
	for _, a := range args {
		if strings.Contains(a, "://") {
			if l, _ := br.ReadString('\n'); l != "broker "+a+"\n" {
				t.Fatalf("second line %q, want the broker", l)
			}
		}
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

type member struct {
	c    *wsd.Conn
	msgs chan wsd.Message
}

func join(t *testing.T, url string) *member {
	t.Helper()
	c, err := wsd.NewClient(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{c: c, msgs: make(chan wsd.Message, 1000)}
	c.OnMessage(func(msg wsd.Message) { m.msgs <- wsd.Message{Type: msg.Type, Data: bytes.Clone(msg.Data)} })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(1000, ""); <-c.Done() })
	return m
}

func (m *member) expect(t *testing.T, typ wsd.MessageType, data string) {
	t.Helper()
	select {
	case got := <-m.msgs:
		if got.Type != typ || string(got.Data) != data {
			t.Fatalf("got %v %q, want %v %q", got.Type, got.Data, typ, data)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("no %q within %v", data, waitTimeout)
	}
}

// settle sends probes from m until other gets one (the node's subscription
// is then in force), and drains them from both.
func settle(t *testing.T, m *member, others ...*member) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for _, o := range others {
		for {
			m.c.SendText("probe")
			select {
			case <-o.msgs:
			case <-time.After(50 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("probes do not cross the broker")
				}
				continue
			}
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, x := range append(others, m) {
		for len(x.msgs) > 0 {
			<-x.msgs
		}
	}
}

// twoNodes checks that members of one channel on two nodes get each
// other's messages, with their types, in order, the sender included.
func twoNodes(t *testing.T, a, b string) {
	ma, mb := join(t, a+"/room"), join(t, b+"/room")
	other := join(t, b+"/other")
	settle(t, ma, mb)
	ma.c.SendText("hello from a")
	ma.c.SendBinary([]byte{0, 1, 2})
	for _, m := range []*member{ma, mb} {
		m.expect(t, wsd.TextMessage, "hello from a")
		m.expect(t, wsd.BinaryMessage, "\x00\x01\x02")
	}
	for i := range 200 {
		mb.c.SendText(fmt.Sprint("b", i))
	}
	for i := range 200 {
		ma.expect(t, wsd.TextMessage, fmt.Sprint("b", i))
		mb.expect(t, wsd.TextMessage, fmt.Sprint("b", i))
	}
	select {
	case m := <-other.msgs:
		t.Fatalf("a member of another channel got %q", m.Data)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestNATS(t *testing.T) {
	bin := build(t)
	port := freePort(t)
	ns := startNATS(t, port)
	defer func() { ns.Shutdown() }()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	a := startNode(t, bin, "-broker", url)
	b := startNode(t, bin, "-broker", url, "-engine", "epoll")
	twoNodes(t, a, b)

	// The broker goes away: each node keeps serving its own members,
	// and the nodes find each other again once it is back.
	ma, mb := join(t, a+"/later"), join(t, b+"/later")
	settle(t, ma, mb)
	ns.Shutdown()
	ns.WaitForShutdown()
	ma.c.SendText("alone")
	ma.expect(t, wsd.TextMessage, "alone")
	ns = startNATS(t, port)
	settle(t, ma, mb)
	ma.c.SendText("together again")
	ma.expect(t, wsd.TextMessage, "together again")
	mb.expect(t, wsd.TextMessage, "together again")
}

func TestRedis(t *testing.T) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	bin := build(t)
	port := freePort(t)
	rs := exec.Command(path, "--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--save", "", "--appendonly", "no")
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		rs.Process.Kill()
		rs.Wait()
	}()
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	url := fmt.Sprintf("redis://127.0.0.1:%d", port)
	twoNodes(t, startNode(t, bin, "-broker", url, "-engine", "epoll"), startNode(t, bin, "-broker", url))
}

// A single node needs no broker.
func TestSingleNode(t *testing.T) {
	url := startNode(t, build(t))
	m1, m2 := join(t, url+"/x"), join(t, url+"/x")
	m1.c.SendText("one")
	m1.expect(t, wsd.TextMessage, "one")
	m2.expect(t, wsd.TextMessage, "one")
}

// An unreachable broker at start is an error, with a non-zero status.
func TestBrokerUnreachable(t *testing.T) {
	for _, scheme := range []string{"nats", "redis"} {
		var stdout, stderr bytes.Buffer
		url := fmt.Sprintf("%s://127.0.0.1:%d", scheme, freePort(t))
		if code := run([]string{"hub", "-addr", "127.0.0.1:0", "-broker", url}, &stdout, &stderr); code != 1 {
			t.Errorf("%s: exit %d, want 1", scheme, code)
		}
		if !strings.Contains(stderr.String(), url) {
			t.Errorf("%s: stderr %q does not name the broker", scheme, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-broker", "kafka://127.0.0.1:1"}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "nats:// or redis://") {
		t.Errorf("unknown scheme: exit %d, %q", code, stderr.String())
	}
}
