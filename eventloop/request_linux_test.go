//go:build linux

package eventloop

import (
	"context"
	"net/http"
	"reflect"
	"testing"
)

const handshakeRequest = "GET /chat?room=1 HTTP/1.1\r\n" +
	"Host: 127.0.0.1:8080\r\n" +
	"User-Agent: Go-http-client/1.1\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"Upgrade: websocket\r\n" +
	"\r\n"

var requestSeeds = []string{
	handshakeRequest,
	"GET / HTTP/1.0\nHost: x\nConnection: keep-alive, Upgrade\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nhOST: a\r\nx-custom_h: 1\r\nX-Custom_H: 2\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	"GET / HTTP/1.1\r\n: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \ta b\t \r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: \x01\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /a%20b#frag HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET //a/b HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://h/p HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
	"G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"GET  / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1 \r\n\r\n",
	"GET /\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nPragma: no-cache\r\n\r\n",
	"GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n",
	"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
	"GET / HTTP/1.1\r\nA-Very-Long-Header-Name-That-Goes-On-And-On-Beyond-Sixty-Four-Bytes: v\r\n\r\n",
}

// FuzzParseRequest compares the engine's parser with http.ReadRequest:
// the same requests are rejected, and an accepted one has the same fields.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := headerEnd(b, 0)
		if end < 0 {
			return
		}
		b = b[:end]
		want, werr := readRequest(b, len(b)+1)
		got, gerr := parseRequest(b, len(b)+1)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, net/http's %v", b, gerr, werr)
		}
		common := parseCommon(b)
		if common == nil {
			return
		}
		if werr != nil {
			t.Fatalf("%q: accepted, net/http says %v", b, werr)
		}
		if d := requestDiff(common, want); d != "" {
			t.Fatalf("%q: %s", b, d)
		}
		if got == nil {
			t.Fatalf("%q: parseRequest returned nil", b)
		}
	})
}

// requestDiff names the first field in which a and b differ.
func requestDiff(a, b *http.Request) string {
	fields := []struct {
		name string
		a, b any
	}{
		{"Method", a.Method, b.Method},
		{"URL", a.URL, b.URL},
		{"Proto", a.Proto, b.Proto},
		{"ProtoMajor", a.ProtoMajor, b.ProtoMajor},
		{"ProtoMinor", a.ProtoMinor, b.ProtoMinor},
		{"Header", a.Header, b.Header},
		{"Body", a.Body, b.Body},
		{"ContentLength", a.ContentLength, b.ContentLength},
		{"TransferEncoding", a.TransferEncoding, b.TransferEncoding},
		{"Close", a.Close, b.Close},
		{"Host", a.Host, b.Host},
		{"Trailer", a.Trailer, b.Trailer},
		{"RequestURI", a.RequestURI, b.RequestURI},
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.a, f.b) {
			return f.name + ": " + reprint(f.a) + ", net/http's " + reprint(f.b)
		}
	}
	return ""
}

func reprint(v any) string { return reflect.ValueOf(v).String() + " " + stringOf(v) }

func stringOf(v any) string {
	switch v := v.(type) {
	case http.Header:
		s := ""
		for k, vv := range v {
			s += k + "=" + reprintStrings(vv) + ";"
		}
		return s
	}
	return ""
}

func reprintStrings(vv []string) string {
	s := "["
	for _, v := range vv {
		s += "\"" + v + "\""
	}
	return s + "]"
}

// TestParseRequestCommon checks that the requests of browsers and WebSocket
// clients take the engine's own path, not net/http's.
func TestParseRequestCommon(t *testing.T) {
	browser := "GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n" +
		"Pragma-Directive: x\r\nCache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Upgrade: websocket\r\nOrigin: http://example.com\r\nSec-WebSocket-Version: 13\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: a=b; c=d\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	for _, s := range []string{handshakeRequest, browser} {
		req := parseCommon([]byte(s))
		if req == nil {
			t.Fatalf("%q went to net/http", s)
		}
		want, err := readRequest([]byte(s), len(s))
		if err != nil {
			t.Fatal(err)
		}
		if d := requestDiff(req, want); d != "" {
			t.Fatal(d)
		}
	}
}

// BenchmarkHandshakeRequest measures what a handshake's request costs the
// engine, from its bytes to the request its handler gets, with net/http's
// parser and with the engine's own.
func BenchmarkHandshakeRequest(b *testing.B) {
	in := []byte(handshakeRequest)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, p := range []struct {
		name  string
		parse func([]byte, int) (*http.Request, error)
	}{
		{"ReadRequest", readRequest},
		{"engine", parseRequest},
	} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, err := p.parse(in, 8<<10)
				if err != nil {
					b.Fatal(err)
				}
				var cancel context.CancelFunc
				sink, cancel = withContext(ctx, req)
				cancel()
			}
		})
	}
}

var sink *http.Request
