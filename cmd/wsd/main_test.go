//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// wsdBin is the command, built once for all the tests.
var wsdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wsdBin = filepath.Join(dir, "wsd")
	if out, err := exec.Command("go", "build", "-o", wsdBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildWsd(t *testing.T) string { return wsdBin }

// result is how a run of wsd ended.
type result struct {
	stdout, stderr string
	code           int
}

// runWsd runs wsd with args and stdin, and fails the test if it takes
// more than 15 seconds.
func runWsd(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runCmd(t, exec.Command(wsdBin, args...), stdin)
}

func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("wsd %q did not finish; stderr %q", cmd.Args[1:], stderr.String())
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

func TestEchoServerCommand(t *testing.T) {
	bin := buildWsd(t)
	for _, engine := range []string{"goroutine", "epoll", "uring"} {
		t.Run(engine, func(t *testing.T) { testEchoServer(t, bin, engine) })
	}
}

func TestEchoBadEngine(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"echo", "-engine", "fibers"}, strings.NewReader(""), os.Stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "unknown engine") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func testEchoServer(t *testing.T, bin, engine string) {
	cmd := exec.Command(bin, "echo", "-addr", "127.0.0.1:0", "-protocols", "chat,superchat", "-engine", engine)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ws://127.0.0.1:") {
		t.Fatalf("first line %q, %v", line, err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))

	c, err := wsd.NewClient(url+"/any/path", &wsd.Options{AcceptProtocols: []string{"superchat"}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan wsd.Message, 4)
	closed := make(chan [2]any, 1)
	c.OnMessage(func(m wsd.Message) { msgs <- wsd.Message{Type: m.Type, Data: bytes.Clone(m.Data)} })
	c.OnClose(func(code int, reason string) { closed <- [2]any{code, reason} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Protocol() != "superchat" {
		t.Errorf("protocol %q, want superchat", c.Protocol())
	}
	c.SendText("héllo")
	c.SendBinary([]byte{0, 1, 2})
	for _, want := range []wsd.Message{{Type: wsd.TextMessage, Data: []byte("héllo")}, {Type: wsd.BinaryMessage, Data: []byte{0, 1, 2}}} {
		select {
		case m := <-msgs:
			if m.Type != want.Type || !bytes.Equal(m.Data, want.Data) {
				t.Fatalf("echo %v %q, want %v %q", m.Type, m.Data, want.Type, want.Data)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no echo")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case got := <-closed:
		if got[0] != 1001 {
			t.Errorf("close %v, want 1001", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no close after SIGTERM")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("echo server exit: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("echo server did not exit")
	}
}

// server starts a wsd server whose connections run f.
func server(t *testing.T, f func(ws *wsd.Conn)) string {
	return serverOpts(t, nil, f)
}

// serverOpts starts a wsd server with options whose connections run f.
func serverOpts(t *testing.T, opts *wsd.Options, f func(ws *wsd.Conn)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		f(ws)
		ws.Start(r.Context())
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestClientEchoCommand(t *testing.T) {
	bin := buildWsd(t)
	for _, tc := range []struct {
		code     int
		exitZero bool
	}{{1000, true}, {1001, true}, {1011, false}} {
		got := make(chan wsd.Message, 2)
		url := server(t, func(ws *wsd.Conn) {
			ws.OnOpen(func() {
				ws.SendText("one")
				ws.SendBinary([]byte{9, 8})
			})
			ws.OnMessage(func(m wsd.Message) {
				got <- wsd.Message{Type: m.Type, Data: bytes.Clone(m.Data)}
				if len(got) == 2 {
					ws.Close(tc.code, "bye")
				}
			})
		})
		cmd := exec.Command(bin, "client", "--echo", url)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := runTimeout(t, cmd)
		if (err == nil) != tc.exitZero {
			t.Errorf("close %d: exit %v, want zero exit %v (stderr %q)", tc.code, err, tc.exitZero, stderr.String())
		}
		if len(got) != 2 {
			t.Fatalf("close %d: server got %d echoes", tc.code, len(got))
		}
		if m := <-got; m.Type != wsd.TextMessage || string(m.Data) != "one" {
			t.Errorf("first echo %v %q", m.Type, m.Data)
		}
		if m := <-got; m.Type != wsd.BinaryMessage || !bytes.Equal(m.Data, []byte{9, 8}) {
			t.Errorf("second echo %v %q", m.Type, m.Data)
		}
	}
}

func TestClientPipe(t *testing.T) {
	bin := buildWsd(t)
	got := make(chan string, 2)
	url := server(t, func(ws *wsd.Conn) {
		ws.OnOpen(func() { ws.SendText("welcome") })
		ws.OnMessage(func(m wsd.Message) { got <- m.String() })
	})
	cmd := exec.Command(bin, "client", "-H", "X-Test: 1", url)
	cmd.Stdin = strings.NewReader("first line\nsecond line\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := runTimeout(t, cmd); err != nil {
		t.Fatalf("exit %v, stderr %q", err, stderr.String())
	}
	for _, want := range []string{"first line", "second line"} {
		if s := <-got; s != want {
			t.Errorf("server got %q, want %q", s, want)
		}
	}
	if !strings.Contains(stdout.String(), "welcome\n") {
		t.Errorf("stdout %q lacks the server's message", stdout.String())
	}
	if !strings.Contains(stderr.String(), "closed: 1000") {
		t.Errorf("stderr %q lacks the close report", stderr.String())
	}
}

func TestClientBadURL(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"client", "http://x"}, strings.NewReader(""), os.Stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "scheme") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func runTimeout(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("command did not finish")
		return nil
	}
}

func TestEchoServerCutsSlowHandshakes(t *testing.T) {
	bin := buildWsd(t)
	cmd := exec.Command(bin, "echo", "-addr", "127.0.0.1:0", "-handshake-timeout", "300ms")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	addr := strings.TrimPrefix(strings.TrimSpace(line), "listening on ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Half a request line, then nothing, as a slowloris client does.
	nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, nc)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow handshake held for %v", d)
	}
	// Oversized headers are refused.
	nc2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	fmt.Fprintf(nc2, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	nc2.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc2), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized handshake: %v %v, want 431", resp, err)
	}
}
