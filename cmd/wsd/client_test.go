//go:build !js

package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// recorder is a test server's view of a connection: the messages it got
// and the close code the client sent.
type recorder struct {
	mu    sync.Mutex
	msgs  []wsd.Message
	pings int
	close int
	hdr   http.Header
}

func (r *recorder) add(m wsd.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, wsd.Message{Type: m.Type, Data: bytes.Clone(m.Data)})
	r.mu.Unlock()
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, m := range r.msgs {
		s = append(s, fmt.Sprintf("%v:%s", m.Type, m.Data))
	}
	return s
}

// echoRecorder starts a server that echoes and records each connection.
func echoRecorder(t *testing.T, opts *wsd.Options) (string, *recorder) {
	rec := &recorder{}
	url := serverOpts(t, opts, func(ws *wsd.Conn) {
		rec.mu.Lock()
		rec.hdr = ws.RequestHeader()
		rec.mu.Unlock()
		ws.OnMessage(func(m wsd.Message) {
			rec.add(m)
			ws.Send(m.Data, wsd.SendOptions{Type: m.Type})
		})
		ws.OnPing(func([]byte) { rec.mu.Lock(); rec.pings++; rec.mu.Unlock() })
		ws.OnClose(func(code int, _ string) { rec.mu.Lock(); rec.close = code; rec.mu.Unlock() })
	})
	return url, rec
}

func TestClientSend(t *testing.T) {
	file := filepath.Join(t.TempDir(), "msg.json")
	os.WriteFile(file, []byte(`{"from":"file"}`), 0o644)
	url, rec := echoRecorder(t, nil)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  []string // what the server got
		out   string   // stdout
	}{
		{"literals in order", "", []string{"-send", "one", "-send", "two"}, []string{"text:one", "text:two"}, ""},
		{"file", "", []string{"-send", "@" + file}, []string{`text:{"from":"file"}`}, ""},
		{"at escaped", "", []string{"-send", "@@home"}, []string{"text:@home"}, ""},
		{"stdin lines among sends", "a\nb\n", []string{"-send", "first", "-send", "-", "-send", "last"}, []string{"text:first", "text:a", "text:b", "text:last"}, ""},
		{"stdin whole", "a\nb\n", []string{"-stdin-whole", "-send", "-"}, []string{"text:a\nb\n"}, ""},
		{"pipe", "x\ny\n", nil, []string{"text:x", "text:y"}, ""},
		{"pipe whole", "x\ny\n", []string{"-stdin-whole"}, []string{"text:x\ny\n"}, ""},
		{"count", "", []string{"-send", "p", "-send", "q", "-send", "r", "-count", "2"}, nil, "p\nq\n"},
		{"until", "", []string{"-send", "p", "-send", "stop here", "-send", "r", "-until", "^stop"}, nil, "p\nstop here\n"},
		{"flags after the URL", "", []string{"-send", "z", "URL", "-count", "1"}, []string{"text:z"}, "z\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.msgs = nil
			rec.mu.Unlock()
			args := []string{"client"}
			hasURL := false
			for _, a := range tc.args {
				if a == "URL" {
					a, hasURL = url, true
				}
				args = append(args, a)
			}
			if !hasURL {
				args = append(args, url)
			}
			r := runWsd(t, tc.stdin, args...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if tc.want != nil {
				if got := rec.texts(); strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Errorf("server got %q, want %q", got, tc.want)
				}
			}
			if tc.out != "" && r.stdout != tc.out {
				t.Errorf("stdout %q, want %q", r.stdout, tc.out)
			}
		})
	}
}

// TestClientExitCodes checks each exit status, one case at a time.
func TestClientExitCodes(t *testing.T) {
	closer := func(code int) string {
		return server(t, func(ws *wsd.Conn) { ws.OnOpen(func() { ws.Close(code, "because") }) })
	}
	refused := "ws://" + refusedAddr(t) + "/"
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer forbidden.Close()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	quiet(tlsSrv)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	silent := server(t, func(ws *wsd.Conn) {})
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stderr string
	}{
		{"normal close 1000", []string{"-count", "1", closer(1000)}, "", 8, "before -count"},
		{"peer closes 1000", []string{closer(1000)}, "", 0, "closed: 1000"},
		{"peer closes 1001", []string{closer(1001)}, "", 0, "closed: 1001"},
		{"count met", []string{"-send", "x", "-count", "1", server(t, func(ws *wsd.Conn) {
			ws.OnMessage(func(m wsd.Message) { ws.SendText("reply") })
		})}, "", 0, ""},
		{"invalid UTF-8 on stdin", []string{"-send", "-", silent}, "\xff\xfe\n", 1, "not valid UTF-8"},
		{"usage: no URL", nil, "", 2, "want exactly one URL"},
		{"usage: bad flag", []string{"-nope", silent}, "", 2, "not defined"},
		{"usage: bad output", []string{"-output", "xml", silent}, "", 2, "-output"},
		{"usage: bad close code", []string{"-close-code", "1005", silent}, "", 2, "-close-code"},
		{"usage: bad regexp", []string{"-until", "(", silent}, "", 2, "-until"},
		{"usage: missing file", []string{"-send", "@/nonexistent/file", silent}, "", 2, "nonexistent"},
		{"usage: bad scheme", []string{"http://127.0.0.1/"}, "", 2, "scheme"},
		{"cannot connect", []string{refused}, "", 3, "refused"},
		{"TLS failure", []string{"wss" + strings.TrimPrefix(tlsSrv.URL, "https")}, "", 4, "certificate"},
		{"handshake refused", []string{"ws" + strings.TrimPrefix(forbidden.URL, "http")}, "", 5, "403"},
		{"peer closes 4000", []string{closer(4000)}, "", 6, "closed: 4000 because"},
		{"peer closes 1011", []string{closer(1011)}, "", 6, "closed: 1011"},
		{"dropped", []string{"-count", "1", fakeServer(t, nil)}, "", 6, "closed: 1006"},
		{"protocol error", []string{"-count", "1", fakeServer(t, []byte{0x83, 0})}, "", 6, "protocol error"},
		{"timeout", []string{"-count", "1", "-timeout", "300ms", silent}, "", 7, "timed out"},
		{"unmet until", []string{"-until", "never", closer(1001)}, "", 8, "before -count or -until"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWsd(t, tc.stdin, append([]string{"client"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.stderr)
			}
		})
	}
}

func TestClientTimeoutConnecting(t *testing.T) {
	// A listener that never answers the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	r := runWsd(t, "", "client", "-timeout", "500ms", "ws://"+ln.Addr().String()+"/")
	if r.code != exitTimeout || !strings.Contains(r.stderr, "while connecting") {
		t.Errorf("exit %d, stderr %q; want %d", r.code, r.stderr, exitTimeout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestClientBinaryAndOutput(t *testing.T) {
	url, rec := echoRecorder(t, nil)
	bin := filepath.Join(t.TempDir(), "frame.bin")
	os.WriteFile(bin, []byte{0, 1, 2, 0xff}, 0o644)

	r := runWsd(t, "", "client", "-binary", "-send", "@"+bin, "-count", "1", url)
	if r.code != 0 || rec.texts()[0] != "binary:\x00\x01\x02\xff" {
		t.Fatalf("binary: exit %d, server got %q, stderr %q", r.code, rec.texts(), r.stderr)
	}
	if r.stdout != "binary 4 bytes: 000102ff\n" {
		t.Errorf("text output of binary %q", r.stdout)
	}
	r = runWsd(t, "", "client", "-send", "@"+bin, url)
	if r.code != exitUsage || !strings.Contains(r.stderr, "-binary") {
		t.Errorf("non-UTF-8 file as text: exit %d, stderr %q", r.code, r.stderr)
	}

	r = runWsd(t, "", "client", "-output", "raw", "-binary", "-send", "@"+bin, "-send", "ab", "-count", "2", url)
	if r.stdout != "\x00\x01\x02\xffab" {
		t.Errorf("raw output %q", r.stdout)
	}

	r = runWsd(t, "", "client", "-output", "ndjson", "-send", "héllo", "-binary", "-send", "@"+bin, "-count", "2", url)
	if r.code != 0 {
		t.Fatalf("ndjson: exit %d, %q", r.code, r.stderr)
	}
	var events []event
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
			t.Errorf("time %q: %v", e.Time, err)
		}
		e.Time = ""
		events = append(events, e)
	}
	want := []event{
		{Dir: "out", Type: "binary", Size: 6, Data: []byte("héllo")},
		{Dir: "out", Type: "binary", Size: 4, Data: []byte{0, 1, 2, 0xff}},
		{Dir: "in", Type: "binary", Size: 6, Data: []byte("héllo")},
		{Dir: "in", Type: "binary", Size: 4, Data: []byte{0, 1, 2, 0xff}},
		{Dir: "out", Type: "close", Size: 2, Code: 1000},
		{Dir: "in", Type: "close", Size: 2, Code: 1000},
	}
	// Each direction is in order; echoes may come between sends.
	byDir := func(ev []event) (s string) {
		for _, dir := range []string{"out", "in"} {
			for _, e := range ev {
				if e.Dir == dir {
					s += fmt.Sprint(e)
				}
			}
		}
		return s
	}
	if byDir(events) != byDir(want) {
		t.Errorf("events\n%v\nwant\n%v", events, want)
	}

	r = runWsd(t, "", "client", "-output", "ndjson", "-send", "hi", "-count", "1", url)
	if !strings.Contains(r.stdout, `"dir":"in","type":"text","size":2,"text":"hi"`) {
		t.Errorf("ndjson text %q", r.stdout)
	}
}

func TestClientPretty(t *testing.T) {
	url, _ := echoRecorder(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-pretty", "-send", `{"a":[1,2]}`}, "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n"},
		{[]string{"-send", `{"a":[1,2]}`}, "{\"a\":[1,2]}\n"},
		{[]string{"-pretty", "-send", "not json"}, "not json\n"},
	} {
		r := runWsd(t, "", append(append([]string{"client", "-count", "1"}, tc.args...), url)...)
		if r.stdout != tc.want {
			t.Errorf("%q: stdout %q, want %q", tc.args, r.stdout, tc.want)
		}
	}
}

func TestClientVerboseHandshake(t *testing.T) {
	url, rec := echoRecorder(t, &wsd.Options{AcceptProtocols: []string{"chat"}})
	// Without -v, only what was agreed is printed, and stdout has the message only.
	r := runWsd(t, "", "client", "-protocol", "chat", "-send", "x", "-count", "1", url)
	if r.stderr != "connected, protocol \"chat\"\n" || r.stdout != "x\n" {
		t.Errorf("quiet run: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = runWsd(t, "", "client", "-v", "-deflate", "-protocol", "other,chat", "-H", "X-Trace: 42", "-send", "x", "-count", "1", url+"/path?q=1")
	if r.code != 0 {
		t.Fatalf("exit %d: %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"> GET /path?q=1 HTTP/1.1", "> X-Trace: 42", "> Sec-Websocket-Protocol: other, chat",
		"< HTTP/1.1 101", "< Sec-Websocket-Accept: ", "< Sec-Websocket-Protocol: chat",
		`connected, protocol "chat", extensions "permessage-deflate`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if got := rec.hdr.Get("X-Trace"); got != "42" {
		t.Errorf("server saw X-Trace %q", got)
	}
}

func TestClientPing(t *testing.T) {
	url, rec := echoRecorder(t, nil)
	r := runWsd(t, "", "client", "-v", "-ping", "50ms", "-output", "ndjson", "-count", "1", "-timeout", "400ms", url)
	if r.code != exitTimeout {
		t.Fatalf("exit %d, want the timeout; stderr %q", r.code, r.stderr)
	}
	rec.mu.Lock()
	pings := rec.pings
	rec.mu.Unlock()
	if pings < 3 {
		t.Errorf("server got %d pings in 400ms at 50ms", pings)
	}
	if n := strings.Count(r.stderr, "round trip"); n < 3 {
		t.Errorf("%d round trips printed: %q", n, r.stderr)
	}
	if n := strings.Count(r.stdout, `"dir":"in","type":"pong"`); n < 3 {
		t.Errorf("%d pongs in the ndjson: %q", n, r.stdout)
	}
	// The client answers the server's pings.
	pinger := server(t, func(ws *wsd.Conn) {
		ws.OnOpen(func() { ws.SendPing([]byte("hey"), func() { ws.Close(1000, "") }) })
	})
	r = runWsd(t, "", "client", "-output", "ndjson", "-count", "1", pinger)
	if !strings.Contains(r.stdout, `"dir":"in","type":"ping","size":3,"text":"hey"`) {
		t.Errorf("ping not recorded: %q", r.stdout)
	}
}

func TestClientCloseCode(t *testing.T) {
	url, rec := echoRecorder(t, nil)
	for _, code := range []int{1000, 4001} {
		r := runWsd(t, "", "client", "-close-code", fmt.Sprint(code), "-send", "x", url)
		if r.code != 0 {
			t.Errorf("exit %d: %q", r.code, r.stderr)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			rec.mu.Lock()
			got := rec.close
			rec.mu.Unlock()
			if got == code {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server saw close %d, want %d", got, code)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestClientTLS(t *testing.T) {
	p := newPKI(t)
	cert, err := tls.LoadX509KeyPair(p.serverCert, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	})
	start := func(cfg *tls.Config) string {
		srv := httptest.NewUnstartedServer(h)
		srv.TLS = cfg
		quiet(srv)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return "wss" + strings.TrimPrefix(srv.URL, "https")
	}
	plain := start(&tls.Config{Certificates: []tls.Certificate{cert}})
	pool, _ := (&tlsFlags{cacert: p.ca}).pool()
	mutual := start(&tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown CA", []string{plain}, exitTLS},
		{"cacert", []string{"-cacert", p.ca, plain}, 0},
		{"insecure", []string{"-insecure", plain}, 0},
		{"no client certificate", []string{"-cacert", p.ca, mutual}, exitTLS},
		{"client certificate", []string{"-cacert", p.ca, "-cert", p.clientCert, "-key", p.clientKey, mutual}, 0},
		{"cert without key", []string{"-cert", p.clientCert, mutual}, exitUsage},
		{"cacert not PEM", []string{"-cacert", p.serverKey + "x", plain}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWsd(t, "", append([]string{"client", "-send", "hi", "-count", "1"}, tc.args...)...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			if tc.code == 0 && r.stdout != "hi\n" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

// connectProxy is an HTTP CONNECT proxy that sends every tunnel to
// target, whatever the host asked for, and records the requests.
type connectProxy struct {
	url    string
	mu     sync.Mutex
	asked  []string // CONNECT targets
	auth   []string // Proxy-Authorization headers
	refuse bool
}

func newConnectProxy(t *testing.T, target string) *connectProxy {
	return startConnectProxy(t, target, nil)
}

// startConnectProxy starts the proxy, behind TLS with cert if not nil.
func startConnectProxy(t *testing.T, target string, cert *tls.Certificate) *connectProxy {
	p := &connectProxy{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.asked = append(p.asked, r.Method+" "+r.Host)
		p.auth = append(p.auth, r.Header.Get("Proxy-Authorization"))
		refuse := p.refuse
		p.mu.Unlock()
		if r.Method != http.MethodConnect || refuse {
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		nc.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(nc, up)
		nc.Close()
	}))
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		quiet(srv)
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func TestClientProxyTLS(t *testing.T) {
	url, _ := echoRecorder(t, nil)
	pk := newPKI(t)
	cert, err := tls.LoadX509KeyPair(pk.serverCert, pk.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	p := startConnectProxy(t, strings.TrimPrefix(url, "ws://"), &cert)
	for _, tc := range []struct {
		env  string
		code int
	}{
		{"SSL_CERT_FILE=" + pk.ca, 0},               // the proxy's CA is trusted
		{"SSL_CERT_FILE=" + pk.clientCert, exitTLS}, // it is not
	} {
		cmd := exec.Command(wsdBin, "client", "-proxy", p.url, "-send", "hi", "-count", "1", "-timeout", "5s", url)
		cmd.Env = append(cleanEnv(), tc.env, "SSL_CERT_DIR=/nonexistent")
		r := runCmd(t, cmd, "")
		if r.code != tc.code {
			t.Errorf("%s: exit %d, want %d; stderr %q", tc.env, r.code, tc.code, r.stderr)
		}
	}
}

func TestClientProxy(t *testing.T) {
	url, _ := echoRecorder(t, nil)
	target := strings.TrimPrefix(url, "ws://")
	p := newConnectProxy(t, target)
	withUser := strings.Replace(p.url, "http://", "http://me:secret@", 1)
	for _, tc := range []struct {
		name   string
		args   []string
		env    []string
		url    string
		code   int
		asked  string // the CONNECT the proxy saw, "" for none
		auth   string
		refuse bool
	}{
		{"flag", []string{"-proxy", p.url}, nil, url, 0, "CONNECT " + target, "", false},
		{"flag with credentials", []string{"-proxy", withUser}, nil, url, 0, "CONNECT " + target, "Basic bWU6c2VjcmV0", false},
		{"HTTP_PROXY", nil, []string{"HTTP_PROXY=" + p.url}, "ws://wsd-test.invalid/", 0, "CONNECT wsd-test.invalid:80", "", false},
		{"NO_PROXY", nil, []string{"HTTP_PROXY=" + p.url, "NO_PROXY=.invalid"}, "ws://wsd-test.invalid/", exitConnect, "", "", false},
		{"refused", []string{"-proxy", p.url}, nil, url, exitConnect, "CONNECT " + target, "", true},
		{"bad proxy URL", []string{"-proxy", "ftp://x"}, nil, url, exitUsage, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.mu.Lock()
			p.asked, p.auth, p.refuse = nil, nil, tc.refuse
			p.mu.Unlock()
			cmd := exec.Command(wsdBin, append(append([]string{"client", "-send", "hi", "-count", "1", "-timeout", "5s"}, tc.args...), tc.url)...)
			cmd.Env = append(cleanEnv(), tc.env...)
			r := runCmd(t, cmd, "")
			if r.code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", r.code, tc.code, r.stderr)
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			asked := strings.Join(p.asked, ",")
			if asked != tc.asked {
				t.Errorf("proxy saw %q, want %q", asked, tc.asked)
			}
			if tc.auth != "" && (len(p.auth) == 0 || p.auth[0] != tc.auth) {
				t.Errorf("Proxy-Authorization %q, want %q", p.auth, tc.auth)
			}
			if tc.refuse && !strings.Contains(r.stderr, "407") {
				t.Errorf("stderr %q lacks the proxy's status", r.stderr)
			}
		})
	}
}

// cleanEnv is the environment without proxy settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func TestClientEchoFlagAndDeflate(t *testing.T) {
	url := server(t, func(ws *wsd.Conn) {
		ws.OnOpen(func() {
			if ws.Extensions() == "" {
				ws.Close(4000, "no deflate")
				return
			}
			ws.SendText("ping me back")
		})
		ws.OnMessage(func(m wsd.Message) {
			ws.Close(1000, "")
		})
	})
	r := runWsd(t, "", "client", "-echo", "-deflate", url)
	if r.code != 0 {
		t.Errorf("exit %d: %q", r.code, r.stderr)
	}
	r = runWsd(t, "", "client", "-echo", url)
	if r.code != exitClosed || !strings.Contains(r.stderr, "4000 no deflate") {
		t.Errorf("without -deflate: exit %d, %q", r.code, r.stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{[]string{"help"}, 0, "wsd client [flags] URL", ""},
		{[]string{"-h"}, 0, "wsd serve", ""},
		{[]string{"help", "client"}, 0, "-until", ""},
		{[]string{"client", "-h"}, 0, "-stdin-whole", ""},
		{[]string{"help", "echo"}, 0, "-engine", ""},
		{[]string{"help", "serve"}, 0, "-static", ""},
		{[]string{"help", "bench"}, 0, "-connect-rate", ""},
		{[]string{"bench", "-h"}, 0, "-no-echo", ""},
		{[]string{"help", "exit-codes"}, 0, "7  -timeout elapsed", ""},
		{[]string{"help", "nothing"}, 2, "", "no help on"},
		{nil, 2, "", "usage:"},
		{[]string{"frobnicate"}, 2, "", "unknown command"},
	} {
		r := runWsd(t, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stdout, tc.out) || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("wsd %q: exit %d, stdout %q..., stderr %q", tc.args, r.code, r.stdout[:min(len(r.stdout), 80)], r.stderr)
		}
	}
}

// acceptKey is the Sec-WebSocket-Accept answer to key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// fakeServer answers the handshake by hand, writes then, and closes the
// connection without a closing handshake.
func fakeServer(t *testing.T, then []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.SetDeadline(time.Now().Add(5 * time.Second))
			req, err := http.ReadRequest(bufio.NewReader(nc))
			if err == nil {
				fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acceptKey(req.Header.Get("Sec-WebSocket-Key")))
				nc.Write(then)
				if then != nil {
					// Wait for the client's close frame, so that it reads ours first.
					nc.Read(make([]byte, 64))
				}
			}
			nc.Close()
		}
	}()
	return "ws://" + ln.Addr().String() + "/"
}

// quiet drops the server's log of failed TLS handshakes, which the tests
// cause on purpose.
func quiet(srv *httptest.Server) { srv.Config.ErrorLog = log.New(io.Discard, "", 0) }

// TestClientProxyWSS tunnels TLS to the server through the proxy.
func TestClientProxyWSS(t *testing.T) {
	pk := newPKI(t)
	wss, _ := startServer(t, "serve", "-cert", pk.serverCert, "-key", pk.serverKey, "-exec", "cat")
	p := newConnectProxy(t, strings.TrimPrefix(wss, "wss://"))
	r := runWsd(t, "", "client", "-proxy", p.url, "-cacert", pk.ca, "-send", "secret", "-count", "1", "-timeout", "5s", wss)
	if r.code != 0 || r.stdout != "secret\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.asked) != 1 || p.asked[0] != "CONNECT "+strings.TrimPrefix(wss, "wss://") {
		t.Errorf("proxy saw %q", p.asked)
	}
}

// TestClientProxySOCKS5 goes through a minimal SOCKS5 proxy (no
// authentication, CONNECT only) that records the address asked for.
func TestClientProxySOCKS5(t *testing.T) {
	url, _ := echoRecorder(t, nil)
	target := strings.TrimPrefix(url, "ws://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	asked := make(chan string, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(nc)
		hello := make([]byte, 2)
		io.ReadFull(br, hello) // version, number of methods
		io.ReadFull(br, make([]byte, hello[1]))
		nc.Write([]byte{5, 0}) // no authentication
		req := make([]byte, 4) // version, CONNECT, reserved, address type
		io.ReadFull(br, req)
		var host string
		switch req[3] {
		case 1:
			ip := make([]byte, 4)
			io.ReadFull(br, ip)
			host = net.IP(ip).String()
		case 3:
			n, _ := br.ReadByte()
			name := make([]byte, n)
			io.ReadFull(br, name)
			host = string(name)
		}
		port := make([]byte, 2)
		io.ReadFull(br, port)
		asked <- net.JoinHostPort(host, fmt.Sprint(int(port[0])<<8|int(port[1])))
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer up.Close()
		nc.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
		nc.SetDeadline(time.Time{})
		go io.Copy(up, br)
		io.Copy(nc, up)
	}()
	r := runWsd(t, "", "client", "-proxy", "socks5://"+ln.Addr().String(), "-send", "via socks", "-count", "1", "-timeout", "5s", "ws://wsd-test.invalid:1234/")
	if r.code != 0 || r.stdout != "via socks\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	select {
	case a := <-asked:
		if a != "wsd-test.invalid:1234" {
			t.Errorf("proxy asked for %q", a)
		}
	default:
		t.Error("the proxy was not used")
	}
}
