package handshake

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheckConnect(t *testing.T) {
	req := func(method string, h http.Header) *http.Request {
		return &http.Request{Method: method, Proto: "HTTP/2.0", ProtoMajor: 2, Header: h}
	}
	good := http.Header{ProtocolHeader: {"websocket"}, "Sec-Websocket-Version": {"13"}}
	tests := []struct {
		name   string
		r      *http.Request
		status int
		reason string
	}{
		{"good", req("CONNECT", good), 0, ""},
		{"GET", req("GET", good), 405, "want CONNECT"},
		{"no :protocol", req("CONNECT", http.Header{"Sec-Websocket-Version": {"13"}}), 400, "without :protocol"},
		{"other :protocol", req("CONNECT", http.Header{ProtocolHeader: {"webtransport"}, "Sec-Websocket-Version": {"13"}}), 400, `"webtransport"`},
		{"two :protocol", req("CONNECT", http.Header{ProtocolHeader: {"websocket", "websocket"}, "Sec-Websocket-Version": {"13"}}), 400, "unsupported :protocol"},
		{"no version", req("CONNECT", http.Header{ProtocolHeader: {"websocket"}}), 426, "missing Sec-WebSocket-Version"},
		{"version 8", req("CONNECT", http.Header{ProtocolHeader: {"websocket"}, "Sec-Websocket-Version": {"8"}}), 426, `"8"`},
	}
	for _, tt := range tests {
		err := CheckConnect(tt.r)
		switch {
		case tt.status == 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.status != 0 && (err == nil || err.Status != tt.status || !strings.Contains(err.Reason, tt.reason)):
			t.Errorf("%s: %v, want %d with %q", tt.name, err, tt.status, tt.reason)
		}
	}
}

func TestConnectHeader(t *testing.T) {
	extra := http.Header{
		"X-Test":                 {"1"},
		"Connection":             {"close"},   // forbidden in HTTP/2
		"upgrade":                {"foo"},     // forbidden in HTTP/2
		"Host":                   {"example"}, // :authority instead
		"Sec-WebSocket-Version":  {"99"},
		"Sec-WebSocket-Protocol": {"evil"},
		"Bad Name":               {"x"},
		"X-Bad-Value":            {"a\r\nb"},
	}
	h := ConnectHeader([]string{"chat", "superchat"}, "permessage-deflate", extra)
	want := http.Header{
		ProtocolHeader:             {"websocket"},
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Protocol":   {"chat, superchat"},
		"Sec-Websocket-Extensions": {"permessage-deflate"},
		"X-Test":                   {"1"},
	}
	if len(h) != len(want) {
		t.Errorf("header %v, want %v", h, want)
	}
	for k, v := range want {
		if strings.Join(h[k], "|") != strings.Join(v, "|") {
			t.Errorf("%s: %q, want %q", k, h[k], v)
		}
	}
}

func TestCheckConnectResponse(t *testing.T) {
	resp := func(status int, protocols ...string) *http.Response {
		h := http.Header{}
		for _, p := range protocols {
			h.Add("Sec-WebSocket-Protocol", p)
		}
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h}
	}
	if p, err := CheckConnectResponse(resp(200, "chat"), []string{"chat"}); p != "chat" || err != nil {
		t.Errorf("200 chat: %q %v", p, err)
	}
	if p, err := CheckConnectResponse(resp(200), []string{"chat"}); p != "" || err != nil {
		t.Errorf("200 without a protocol: %q %v", p, err)
	}
	for _, r := range []*http.Response{resp(101), resp(403), resp(200, "other"), resp(200, "chat", "chat")} {
		if _, err := CheckConnectResponse(r, []string{"chat"}); err == nil {
			t.Errorf("%d %v: no error", r.StatusCode, r.Header)
		} else if _, ok := err.(*ResponseError); !ok {
			t.Errorf("%d: error %T", r.StatusCode, err)
		}
	}
}

func TestH2Response(t *testing.T) {
	h := H2Response(http.Header{
		"Upgrade":                {"websocket"},
		"Connection":             {"Upgrade"},
		"Sec-Websocket-Accept":   {"x"},
		"Keep-Alive":             {"1"},
		"Sec-Websocket-Protocol": {"chat"},
		"Set-Cookie":             {"a=b"},
	})
	if len(h) != 2 || h.Get("Sec-WebSocket-Protocol") != "chat" || h.Get("Set-Cookie") != "a=b" {
		t.Errorf("H2Response kept %v", h)
	}
}
