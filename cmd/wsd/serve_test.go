//go:build !js

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// startServer runs a wsd server command on a free port and returns its
// URL and process; the test's cleanup stops it.
func startServer(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(wsdBin, append(args, "-addr", "127.0.0.1:0")...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening on ")), cmd
}

func TestServeExec(t *testing.T) {
	script := `echo "path=$PATH_INFO query=$QUERY_STRING x=$HTTP_X_A gw=$GATEWAY_INTERFACE remote=$REMOTE_ADDR"
while read -r line; do
  [ "$line" = quit ] && exit 0
  [ "$line" = fail ] && exit 3
  echo "got $line"
done
echo eof > "$OUT"`
	for _, engine := range []string{"goroutine", "epoll"} {
		t.Run(engine, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			os.Setenv("OUT", out) // the server passes its environment on
			defer os.Unsetenv("OUT")
			url, _ := startServer(t, "serve", "-engine", engine, "-exec", "sh -c '"+script+"'")
			for _, tc := range []struct {
				name   string
				args   []string
				code   int
				stdout string
				stderr string
			}{
				{"env and lines", []string{"-H", "X-A: b", "-send", "one", "-send", "two", "-count", "3", url + "/p/q?k=v"}, 0,
					"path=/p/q query=k=v x=b gw=websocketd-CGI/0.1 remote=127.0.0.1\ngot one\ngot two\n", ""},
				{"program exits", []string{"-send", "quit", "-count", "2", url}, exitUnmet, "", "closed: 1000"},
				{"program fails", []string{"-send", "fail", "-count", "2", url}, exitClosed, "", "closed: 1011"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := runWsd(t, "", append([]string{"client"}, tc.args...)...)
					if r.code != tc.code || (tc.stdout != "" && r.stdout != tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
						t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
					}
				})
			}
			// When the client closes, the program sees the end of its stdin.
			os.Remove(out)
			r := runWsd(t, "", "client", "-send", "x", "-count", "2", url)
			if r.code != 0 {
				t.Fatalf("exit %d: %q", r.code, r.stderr)
			}
			deadline := time.Now().Add(3 * time.Second)
			for {
				if b, _ := os.ReadFile(out); string(b) == "eof\n" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the program did not see the end of stdin")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func TestServeExecKillsStuckProgram(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The program ignores the end of its stdin and SIGTERM.
	url, _ := startServer(t, "serve", "-exec", "sh -c 'trap \"\" TERM; echo $$ > "+pidFile+"; echo ready; while :; do sleep 0.1; done'")
	if r := runWsd(t, "", "client", "-count", "1", url); r.code != 0 {
		t.Fatalf("exit %d: %q", r.code, r.stderr)
	}
	b, _ := os.ReadFile(pidFile)
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	proc, _ := os.FindProcess(pid)
	deadline := time.Now().Add(5 * time.Second)
	for proc.Signal(syscall.Signal(0)) == nil {
		if time.Now().After(deadline) {
			proc.Kill()
			t.Fatal("the program outlived its connection")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeStaticAndRoom(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>page</p>"), 0o644)
	url, _ := startServer(t, "serve", "-static", dir)
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws") + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "<p>page</p>" {
		t.Errorf("static file %q", body)
	}
	// Without -exec it is a broadcast room: a listener gets what another sends.
	listener := exec.Command(wsdBin, "client", "-count", "2", "-timeout", "10s", url)
	stdout, _ := listener.StdoutPipe()
	var stderr strings.Builder
	listener.Stderr = &stderr
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	defer listener.Process.Kill()
	// Keep sending until the listener has joined and got two messages.
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(stdout); got <- string(b) }()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		runWsd(t, "", "client", "-send", "hello", url)
		select {
		case s := <-got:
			if s != "hello\nhello\n" {
				t.Errorf("listener got %q, stderr %q", s, stderr.String())
			}
			if err := listener.Wait(); err != nil {
				t.Errorf("listener: %v", err)
			}
			return
		case <-deadline:
			t.Fatal("no broadcast")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestServeTLS(t *testing.T) {
	p := newPKI(t)
	url, _ := startServer(t, "serve", "-cert", p.serverCert, "-key", p.serverKey, "-exec", "cat")
	if !strings.HasPrefix(url, "wss://") {
		t.Fatalf("url %q", url)
	}
	if r := runWsd(t, "", "client", "-cacert", p.ca, "-send", "sec", "-count", "1", url); r.code != 0 || r.stdout != "sec\n" {
		t.Errorf("wss: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	mutual, _ := startServer(t, "serve", "-cert", p.serverCert, "-key", p.serverKey, "-cacert", p.ca, "-exec", "cat")
	if r := runWsd(t, "", "client", "-cacert", p.ca, "-send", "x", "-count", "1", mutual); r.code != exitTLS {
		t.Errorf("no client certificate: exit %d, stderr %q", r.code, r.stderr)
	}
	r := runWsd(t, "", "client", "-cacert", p.ca, "-cert", p.clientCert, "-key", p.clientKey, "-send", "x", "-count", "1", mutual)
	if r.code != 0 {
		t.Errorf("client certificate: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServeOptions(t *testing.T) {
	url, _ := startServer(t, "serve", "-exec", "cat", "-protocols", "chat,v2", "-origin", "*.example.com")
	dial := func(origin string, opts *wsd.Options) (*wsd.Conn, error) {
		opts.AdditionalHeaders = http.Header{"Origin": {origin}}
		c, err := wsd.NewClient(url, opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return c, c.Start(ctx)
	}
	c, err := dial("https://app.example.com", &wsd.Options{AcceptProtocols: []string{"v2"}, Compression: wsd.CompressionOptions{Mode: wsd.CompressionEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Protocol() != "v2" || !strings.HasPrefix(c.Extensions(), "permessage-deflate") {
		t.Errorf("protocol %q, extensions %q", c.Protocol(), c.Extensions())
	}
	c.Close(1000, "")
	if _, err := dial("https://evil.test", &wsd.Options{}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("other origin: %v", err)
	}
	plain, _ := startServer(t, "serve", "-exec", "cat", "-deflate=false")
	r := runWsd(t, "", "client", "-v", "-deflate", "-send", "x", "-count", "1", plain)
	if r.code != 0 || strings.Contains(r.stderr, "< Sec-Websocket-Extensions") {
		t.Errorf("-deflate=false: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServeStopsOnSignal(t *testing.T) {
	url, cmd := startServer(t, "serve")
	client := exec.Command(wsdBin, "client", "-count", "1", url)
	var stderr strings.Builder
	client.Stderr = &stderr
	client.Start()
	defer client.Process.Kill()
	time.Sleep(300 * time.Millisecond) // let it connect
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
	client.Wait()
	if code := client.ProcessState.ExitCode(); code != exitUnmet || !strings.Contains(stderr.String(), "closed: 1001") {
		t.Errorf("client exit %d, stderr %q", code, stderr.String())
	}
}

func TestServeUsage(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-exec", "no-such-program-here"}, "no-such-program-here"},
		{[]string{"-exec", "sh -c 'echo"}, "unterminated"},
		{[]string{"-exec", "  "}, "no command"},
		{[]string{"-static", "/nonexistent/dir"}, "not a directory"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-engine", "fibers"}, "unknown engine"},
		{[]string{"-engine", "epoll", "-cert", p.serverCert, "-key", p.serverKey}, "plain TCP"},
		{[]string{"-cert", p.serverCert}, "-cert and -key"},
		{[]string{"-cacert", p.ca}, "-cacert needs"},
	} {
		r := runWsd(t, "", append([]string{"serve", "-addr", "127.0.0.1:0"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
}
