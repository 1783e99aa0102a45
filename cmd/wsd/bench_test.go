//go:build !js

package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

func benchJSON(t *testing.T, args ...string) (benchResult, result) {
	t.Helper()
	r := runWsd(t, "", append([]string{"bench", "-json"}, args...)...)
	var br benchResult
	if err := json.Unmarshal([]byte(r.stdout), &br); err != nil {
		t.Fatalf("output %q, stderr %q: %v", r.stdout, r.stderr, err)
	}
	return br, r
}

func TestBenchClosedLoop(t *testing.T) {
	url, _ := startServer(t, "echo")
	br, r := benchJSON(t, "-conns", "4", "-duration", "500ms", url)
	if r.code != 0 || br.Connected != 4 || br.Messages < 100 || len(br.Errors) != 0 {
		t.Fatalf("exit %d, %+v", r.code, br)
	}
	l := br.Latency
	if l == nil || !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("latency %+v", l)
	}
	if br.PerSecond < float64(br.Messages)/br.Seconds*0.99 || br.Seconds < 0.5 {
		t.Errorf("%d messages in %vs, %v/s", br.Messages, br.Seconds, br.PerSecond)
	}
	// The text report has the same figures.
	r = runWsd(t, "", "bench", "-conns", "2", "-duration", "200ms", url)
	for _, want := range []string{"2 connected", "round trips", "latency    p50 ", "p99.9", "errors     none"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestBenchRate(t *testing.T) {
	url, _ := startServer(t, "echo")
	br, r := benchJSON(t, "-conns", "4", "-rate", "400", "-duration", "1s", url)
	if r.code != 0 || br.Messages < 300 || br.Messages > 420 {
		t.Errorf("exit %d: %d echoes at 400/s for 1s", r.code, br.Messages)
	}
}

// TestBenchMessageFlags checks that -size, -binary and -deflate shape
// what the server gets.
func TestBenchMessageFlags(t *testing.T) {
	var mu sync.Mutex
	types := map[wsd.MessageType]int{}
	sizes := map[int]int{}
	exts := map[string]int{}
	url := server(t, func(ws *wsd.Conn) {
		ws.OnOpen(func() { mu.Lock(); exts[ws.Extensions()]++; mu.Unlock() })
		ws.OnMessage(func(m wsd.Message) {
			mu.Lock()
			types[m.Type]++
			sizes[len(m.Data)]++
			mu.Unlock()
			ws.Send(m.Data, wsd.SendOptions{Type: m.Type})
		})
	})
	for _, tc := range []struct {
		args    []string
		typ     wsd.MessageType
		size    int
		deflate bool
	}{
		{nil, wsd.TextMessage, 32, false},
		{[]string{"-binary", "-size", "3000"}, wsd.BinaryMessage, 3000, false},
		{[]string{"-deflate", "-size", "100"}, wsd.TextMessage, 100, true},
	} {
		mu.Lock()
		clear(types)
		clear(sizes)
		clear(exts)
		mu.Unlock()
		br, r := benchJSON(t, append(tc.args, "-conns", "2", "-duration", "200ms", url)...)
		mu.Lock()
		if r.code != 0 || br.Messages == 0 || len(types) != 1 || types[tc.typ] == 0 || len(sizes) != 1 || sizes[tc.size] == 0 {
			t.Errorf("%q: exit %d, types %v, sizes %v", tc.args, r.code, types, sizes)
		}
		deflated := exts[""] == 0 && len(exts) == 1
		if deflated != tc.deflate || (br.Deflated == 2) != tc.deflate {
			t.Errorf("%q: extensions %v, %d agreed", tc.args, exts, br.Deflated)
		}
		mu.Unlock()
	}
}

func TestBenchWrongEcho(t *testing.T) {
	url := server(t, func(ws *wsd.Conn) {
		n := 0
		ws.OnMessage(func(m wsd.Message) {
			if n++; n == 5 {
				m.Data[3] ^= 1
			}
			ws.Send(m.Data, wsd.SendOptions{Type: m.Type})
		})
	})
	br, r := benchJSON(t, "-conns", "1", "-duration", "300ms", url)
	if r.code != exitError || br.Errors["wrong echo"] != 1 || !strings.Contains(br.ErrorSamples["wrong echo"], "message 4") {
		t.Errorf("exit %d, errors %v %v", r.code, br.Errors, br.ErrorSamples)
	}
}

func TestBenchNoEcho(t *testing.T) {
	url := server(t, func(ws *wsd.Conn) {
		// A feed: ticks, whatever the client sends.
		ws.OnOpen(func() {
			go func() {
				for ws.SendText("tick") == nil {
					time.Sleep(5 * time.Millisecond)
				}
			}()
		})
	})
	br, r := benchJSON(t, "-no-echo", "-rate", "100", "-conns", "2", "-duration", "500ms", url)
	if r.code != 0 || br.Messages < 50 || br.Latency != nil || br.Sent < 30 {
		t.Errorf("exit %d: %+v", r.code, br)
	}
	// A server that says nothing gets a hint.
	silent := server(t, func(ws *wsd.Conn) {})
	r = runWsd(t, "", "bench", "-conns", "1", "-duration", "200ms", silent)
	if r.code != 0 || !strings.Contains(r.stdout, "use -no-echo") {
		t.Errorf("silent server: exit %d, %q", r.code, r.stdout)
	}
	// Without -no-echo the ticks are messages that echo nothing.
	br, r = benchJSON(t, "-conns", "1", "-duration", "300ms", url)
	if br.Errors["unexpected message"] == 0 || r.code != exitError {
		t.Errorf("exit %d, errors %v", r.code, br.Errors)
	}
}

func TestBenchConnectRate(t *testing.T) {
	url, _ := startServer(t, "echo")
	br, r := benchJSON(t, "-conns", "5", "-connect-rate", "10", "-duration", "100ms", url)
	if r.code != 0 || br.Connected != 5 || br.ConnectMs < 390 {
		t.Errorf("exit %d: 5 connections at 10/s in %vms", r.code, br.ConnectMs)
	}
}

func TestBenchFailures(t *testing.T) {
	refused := "ws://" + refusedAddr(t) + "/"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{refused}, exitConnect, "refused"},
		{[]string{"-conns", "0", refused}, exitUsage, "-conns"},
		{[]string{"-size", "0", refused}, exitUsage, "-size"},
		{[]string{"-duration", "0s", refused}, exitUsage, "-duration"},
		{[]string{"-rate", "-1", refused}, exitUsage, "-rate"},
		{nil, exitUsage, "one URL"},
		{[]string{"http://x/"}, exitUsage, "scheme"},
	} {
		r := runWsd(t, "", append([]string{"bench", "-duration", "100ms"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestBenchHandshakeFlags checks -H, -protocol and the TLS flags.
func TestBenchHandshakeFlags(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	url := serverOpts(t, &wsd.Options{AcceptProtocols: []string{"v2"}}, func(ws *wsd.Conn) {
		ws.OnOpen(func() {
			mu.Lock()
			seen[ws.RequestHeader().Get("X-Load")+" "+ws.Protocol()]++
			mu.Unlock()
		})
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
	})
	br, r := benchJSON(t, "-H", "X-Load: yes", "-protocol", "v1,v2", "-conns", "3", "-duration", "100ms", url)
	mu.Lock()
	if r.code != 0 || br.Connected != 3 || seen["yes v2"] != 3 {
		t.Errorf("exit %d, server saw %v", r.code, seen)
	}
	mu.Unlock()

	p := newPKI(t)
	tlsURL, _ := startServer(t, "serve", "-cert", p.serverCert, "-key", p.serverKey, "-exec", "cat")
	mutual, _ := startServer(t, "serve", "-cert", p.serverCert, "-key", p.serverKey, "-cacert", p.ca, "-exec", "cat")
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{tlsURL}, exitTLS},
		{[]string{"-cacert", p.ca, tlsURL}, 0},
		{[]string{"-insecure", tlsURL}, 0},
		{[]string{"-cacert", p.ca, mutual}, exitTLS},
		{[]string{"-cacert", p.ca, "-cert", p.clientCert, "-key", p.clientKey, mutual}, 0},
	} {
		br, r := benchJSON(t, append(tc.args, "-conns", "2", "-duration", "200ms", "-size", "10")...)
		if r.code != tc.code || (tc.code == 0 && br.Messages == 0) || (tc.code != 0 && br.Errors["tls"] != 2) {
			t.Errorf("%q: exit %d, %d echoes, errors %v", tc.args, r.code, br.Messages, br.Errors)
		}
	}
}
