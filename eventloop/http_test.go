//go:build !js

package eventloop_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
)

// mixedHandler upgrades /ws and answers other paths over plain HTTP.
func mixedHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", echoHandler(nil))
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Hello", "1")
		io.WriteString(w, "hello, "+r.Method)
	})
	mux.HandleFunc("POST /body", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusCreated)
		w.Write(bytes.ToUpper(b))
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("on purpose") })
	return mux
}

func httpURL(ws string) string { return "http" + strings.TrimPrefix(ws, "ws") }

func TestPlainHTTP(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		base := httpURL(serve(mixedHandler()))
		resp, err := http.Get(base + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello, GET" || resp.Header.Get("X-Hello") != "1" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || resp.ContentLength != int64(len(body)) {
			t.Errorf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		resp, err = http.Head(base + "/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("HEAD: %d", resp.StatusCode)
		}
		resp, err = http.Post(base+"/body", "text/plain", strings.NewReader("some body"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || string(body) != "SOME BODY" {
			t.Errorf("POST: %d %q", resp.StatusCode, body)
		}
		resp, err = http.Get(base + "/nowhere")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("404 path: %d", resp.StatusCode)
		}
		// A WebSocket on the same server still works.
		c := dial(t, serveURLFromHTTP(base)+"/ws", nil)
		c.SendText("x")
		if m := c.next(t); m.String() != "x" {
			t.Errorf("echo %q", m.Data)
		}
	})
}

func serveURLFromHTTP(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

func TestHandlerPanic(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		url := serve(mixedHandler())
		r := dialRaw(t, url)
		r.write([]byte("GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"))
		r.eof()
		c := dial(t, url+"/ws", nil)
		c.SendText("still here")
		if m := c.next(t); m.String() != "still here" {
			t.Errorf("echo %q", m.Data)
		}
	})
}

func TestBadHandshakes(t *testing.T) {
	for _, tc := range []struct {
		name, request string
		status        int
		header, value string
	}{
		{"not an upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, "", ""},
		{"POST", strings.Replace(handshakeRequest, "GET /chat", "POST /ws", 1), 405, "Allow", "GET"},
		{"no key", strings.Replace(handshakeRequest, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), 400, "", ""},
		{"bad key", strings.Replace(handshakeRequest, "dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=", 1), 400, "", ""},
		{"version 8", strings.Replace(handshakeRequest, "Version: 13", "Version: 8", 1), 426, "Sec-Websocket-Version", "13"},
		{"no version", strings.Replace(handshakeRequest, "Sec-WebSocket-Version: 13\r\n", "", 1), 426, "Sec-Websocket-Version", "13"},
		{"HTTP/1.0", strings.Replace(handshakeRequest, "HTTP/1.1", "HTTP/1.0", 1), 400, "", ""},
		{"no host", strings.Replace(handshakeRequest, "Host: example.com\r\n", "", 1), 400, "", ""},
		{"garbage", "HELLO\r\n\r\n", 400, "", ""},
		{"bad header line", "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "", ""},
		{"huge headers", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 32<<10) + "\r\n\r\n", 431, "", ""},
		{"huge request line", "GET /" + strings.Repeat("a", 32<<10), 431, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, serve func(http.Handler) string) {
				url := serve(echoHandler(nil))
				r := dialRaw(t, url)
				r.nc.Write([]byte(tc.request))
				resp := r.response()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tc.status {
					t.Errorf("status %d (%q), want %d", resp.StatusCode, body, tc.status)
				}
				if tc.header != "" && resp.Header.Get(tc.header) != tc.value {
					t.Errorf("%s: %q, want %q", tc.header, resp.Header.Get(tc.header), tc.value)
				}
				if isEpoll(t) {
					r.eof() // one request per connection
				}
			})
		})
	}
}

func TestSlowHandshakeTimesOut(t *testing.T) {
	_, url := startEventloop(t, echoHandler(nil), func(s *eventloop.Server) { s.ReadHeaderTimeout = 150 * time.Millisecond })
	start := time.Now()
	r := dialRaw(t, url)
	r.write([]byte(handshakeRequest[:20]))
	r.eof()
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("closed after %v, want about 150ms", d)
	}
	// Idle too: a connection that sends nothing is closed as well.
	r = dialRaw(t, url)
	r.eof()
	// A prompt client is not affected.
	c := dial(t, url, nil)
	time.Sleep(300 * time.Millisecond)
	c.SendText("late")
	if m := c.next(t); m.String() != "late" {
		t.Errorf("echo %q", m.Data)
	}
}

func TestWebSocketClientAgainstPlainAnswer(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		url := serve(mixedHandler())
		_, err := dialErr(url+"/hello", nil)
		var herr *wsd.HandshakeError
		if !errorsAs(err, &herr) || herr.Status != 200 {
			t.Errorf("dial a plain page: %v", err)
		}
	})
}
