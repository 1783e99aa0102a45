package handshake

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const goodRequest = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n"

// FuzzCheckRequest feeds arbitrary requests to the server's checks: no
// panic, a rejection carries a 4xx status, and an accepted request yields
// a key of 16 bytes and a response that parses.
func FuzzCheckRequest(f *testing.F) {
	f.Add([]byte(goodRequest))
	f.Add([]byte(strings.Replace(goodRequest, "13", "8", 1)))
	f.Add([]byte("POST / HTTP/1.0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			return
		}
		key, herr := CheckRequest(r)
		if herr != nil {
			if herr.Status < 400 || herr.Status > 499 || herr.Reason == "" {
				t.Fatalf("bad rejection %+v", herr)
			}
			return
		}
		if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
			t.Fatalf("accepted key %q", key)
		}
		proto := SelectProtocol(Tokens(r.Header, "Sec-WebSocket-Protocol"), []string{"chat"})
		resp := AppendResponse(nil, AcceptKey(key), proto, "", r.Header)
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("response does not parse: %v\n%s", err, resp)
		}
		if _, err := CheckResponse(res, key, []string{"chat"}); err != nil {
			t.Fatalf("own response rejected: %v", err)
		}
	})
}

// FuzzCheckResponse feeds arbitrary responses to the client's checks.
func FuzzCheckResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil {
			return
		}
		p, err := CheckResponse(res, "dGhlIHNhbXBsZSBub25jZQ==", []string{"chat"})
		if err == nil && (res.StatusCode != 101 || (p != "" && p != "chat")) {
			t.Fatalf("accepted status %d protocol %q", res.StatusCode, p)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// FuzzParseExtensions checks that what parses formats back to a header
// that parses to the same extensions.
func FuzzParseExtensions(f *testing.F) {
	f.Add("permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10")
	f.Add(`x; a="b"; c`)
	f.Add("a;;")
	f.Fuzz(func(t *testing.T, v string) {
		exts, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {v}})
		if err != nil {
			return
		}
		again, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {FormatExtensions(exts)}})
		if err != nil {
			t.Fatalf("formatted %q does not parse: %v", FormatExtensions(exts), err)
		}
		if len(exts) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(exts, again) {
			t.Fatalf("round trip: %+v vs %+v", exts, again)
		}
	})
}

// FuzzDeflateNegotiation checks permessage-deflate negotiation end to end:
// whatever other offers precede a wsd client's own, the server's answer
// passes the client's checks and both sides agree on the parameters; and
// any answer at all either passes the checks with valid window sizes or
// fails them with an error.
func FuzzDeflateNegotiation(f *testing.F) {
	f.Add("x-foo, permessage-deflate; client_max_window_bits=9", uint8(0), uint8(0), "permessage-deflate; server_max_window_bits=10")
	f.Add("", uint8(0xff), uint8(0x3c), "permessage-deflate; client_no_context_takeover")
	f.Fuzz(func(t *testing.T, before string, flags, bits uint8, answer string) {
		client := DeflateConfig{
			ServerNoContextTakeover: flags&1 != 0,
			ClientNoContextTakeover: flags&2 != 0,
			ServerMaxWindowBits:     windowBits(bits & 0xf),
			ClientMaxWindowBits:     windowBits(bits >> 4),
		}
		server := DeflateConfig{
			ServerNoContextTakeover: flags&4 != 0,
			ClientNoContextTakeover: flags&8 != 0,
			ServerMaxWindowBits:     windowBits(flags >> 4),
		}
		offers, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {before}})
		if err != nil {
			offers = nil
		}
		offers = append(offers, DeflateOffer(client))
		resp, sp, ok := AcceptDeflate(offers, server)
		if !ok {
			t.Fatalf("server declined a wsd client's offer %v", DeflateOffer(client))
		}
		if resp.Name != Deflate {
			t.Fatalf("server answered %q", resp.Name)
		}
		// The server may have taken an earlier offer; check against the one
		// it took only when it took ours.
		if len(offers) == 1 {
			cp, ok, err := CheckDeflateResponse([]Extension{resp}, &client)
			if err != nil || !ok {
				t.Fatalf("client rejects the answer %v to its offer: %v", resp, err)
			}
			if cp != sp {
				t.Fatalf("client has %+v, server %+v", cp, sp)
			}
		}
		exts, err := ParseExtensions(http.Header{"Sec-Websocket-Extensions": {answer}})
		if err != nil {
			return
		}
		p, ok, err := CheckDeflateResponse(exts, &client)
		if err == nil && ok && (!validBits(p.ServerMaxWindowBits) || !validBits(p.ClientMaxWindowBits)) {
			t.Fatalf("accepted window bits out of range: %+v", p)
		}
	})
}

// windowBits maps a nibble to no limit (0) or a window size 8..15.
func windowBits(n uint8) int {
	if n < 8 {
		return 0
	}
	return int(n)
}
