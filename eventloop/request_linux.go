//go:build linux

package eventloop

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// requests holds parsed requests that gave their fields to the request of
// a handler: a request gets its context only by being copied, so the
// parsed one is used once, and reused rather than left as garbage.
var requests sync.Pool

// withContext returns req with a context of its own, derived from ctx,
// and the function that cancels it; req is recycled.
func withContext(ctx context.Context, req *http.Request) (*http.Request, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	r := req.WithContext(ctx)
	*req = http.Request{}
	requests.Put(req)
	return r, cancel
}

// parseRequest parses the request line and headers in b, which ends with
// the empty line, as http.ReadRequest would. The common shape of a request
// (origin-form target, HTTP/1.0 or 1.1, printable ASCII, no body, no
// folded lines) is parsed here with a handful of allocations: one string
// holds the whole head and every header value is a slice of it. Anything
// else goes to http.ReadRequest, so that it decides what is accepted and
// how.
func parseRequest(b []byte, maxLine int) (*http.Request, error) {
	if req := parseCommon(b); req != nil {
		return req, nil
	}
	return readRequest(b, maxLine)
}

// parseCommon returns the request in b, or nil if b is not of the common
// shape; nil says nothing about whether b is valid.
func parseCommon(b []byte) *http.Request {
	lines := 0
	for i, c := range b {
		switch {
		case c == '\n':
			lines++
		case c == '\r':
			if i+1 == len(b) || b[i+1] != '\n' {
				return nil // a lone CR: textproto keeps it
			}
		case c == '\t':
		case c < 0x20 || c >= 0x7f:
			return nil
		}
	}
	if lines < 2 {
		return nil
	}
	s := string(b)

	line, s := nextLine(s)
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !isToken(method) || method == http.MethodConnect ||
		!strings.HasPrefix(target, "/") {
		return nil
	}
	minor := 1
	switch proto {
	case "HTTP/1.1":
	case "HTTP/1.0":
		minor = 0
	default:
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}

	n := lines - 2 // less the request line and the empty line
	h := make(http.Header, n)
	strs := make([]string, n)
	var key [64]byte
	for {
		line, s = nextLine(s)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil // folded, or a first line that starts with a space
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !isToken(k) {
			return nil
		}
		name := canonicalKey(k, key[:0])
		switch name {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Pragma":
			return nil // what net/http does with these is its own
		}
		v = strings.Trim(v, " \t")
		if vv := h[name]; vv != nil {
			if name == "Host" {
				return nil
			}
			h[name] = append(vv, v)
			continue
		}
		vv := strs[:1:1]
		strs = strs[1:]
		vv[0] = v
		h[name] = vv
	}

	req, _ := requests.Get().(*http.Request)
	if req == nil {
		req = new(http.Request)
	}
	*req = http.Request{
		Method:     method,
		URL:        u,
		Proto:      proto,
		ProtoMajor: 1,
		ProtoMinor: minor,
		Header:     h,
		Body:       http.NoBody,
		RequestURI: target,
	}
	if hv := h["Host"]; len(hv) > 0 {
		req.Host = hv[0]
		delete(h, "Host") // as http.ReadRequest does
	}
	conn := h["Connection"]
	req.Close = hasToken(conn, "close") || minor == 0 && !hasToken(conn, "keep-alive")
	return req
}

// nextLine returns the first line of s without its line end, and the rest.
func nextLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// canonicalKey returns the canonical form of the header name k (a token),
// using buf for the work: a common name costs no allocation.
func canonicalKey(k string, buf []byte) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
		upper = c == '-'
	}
	if name, ok := commonHeaders[string(buf)]; ok {
		return name
	}
	if string(buf) == k {
		return k
	}
	return string(buf)
}

// commonHeaders maps the canonical names of the headers of handshakes and
// browsers' requests to themselves.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Cookie", "Host", "Origin",
		"Referer", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Sec-Websocket-Extensions", "Sec-Websocket-Key",
		"Sec-Websocket-Protocol", "Sec-Websocket-Version", "Upgrade",
		"User-Agent", "X-Forwarded-For", "X-Real-Ip",
	} {
		m[k] = k
	}
	return m
}()

// hasToken reports whether the comma-separated lists in values hold token,
// compared without case, as net/http's Connection handling does.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
