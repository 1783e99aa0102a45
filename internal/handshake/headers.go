// Package handshake implements the HTTP/1.1 opening handshake of the
// WebSocket protocol (RFC 6455, section 4) for clients and servers.
package handshake

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// GUID is the fixed string that RFC 6455 appends to Sec-WebSocket-Key
// before hashing, so that only WebSocket servers can produce the answer.
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for the client's
// Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
func AcceptKey(key string) string {
	// A real key is 24 bytes, so key+GUID fits the array and the
	// hash input stays on the stack.
	var buf [64]byte
	b := append(buf[:0], key...)
	b = append(b, GUID...)
	sum := sha1.Sum(b)
	var out [28]byte // base64 length of a 20-byte SHA-1 sum
	base64.StdEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// NewKey returns a fresh Sec-WebSocket-Key: 16 random bytes, base64
// encoded. The key is a nonce, so it must not be predictable.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails, see crypto/rand.Read
	return base64.StdEncoding.EncodeToString(b[:])
}

// HasToken reports whether any value of the header name is a
// comma-separated list containing token. Tokens are compared without
// regard to case, as Connection and Upgrade values are case-insensitive.
func HasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(trimOWS(item), token) {
				return true
			}
		}
	}
	return false
}

// Tokens returns the items of all comma-separated values of the header
// name, trimmed, with empty items dropped. It returns nil if there are none.
func Tokens(h http.Header, name string) []string {
	var tokens []string
	for _, v := range h.Values(name) {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if item = trimOWS(item); item != "" {
				tokens = append(tokens, item)
			}
		}
	}
	return tokens
}

// Extension is one entry of a Sec-WebSocket-Extensions header: an
// extension name and its parameters, in order.
type Extension struct {
	Name   string
	Params []Param
}

// Param is an extension parameter. HasValue tells a bare parameter
// ("server_no_context_takeover") from one with a value, which may be empty
// only when built by hand.
type Param struct {
	Name, Value string
	HasValue    bool
}

// String formats e as it appears in a Sec-WebSocket-Extensions header.
// Values that are not tokens are quoted.
func (e Extension) String() string {
	var b strings.Builder
	b.WriteString(e.Name)
	for _, p := range e.Params {
		b.WriteString("; ")
		b.WriteString(p.Name)
		if !p.HasValue {
			continue
		}
		b.WriteByte('=')
		if isToken(p.Value) {
			b.WriteString(p.Value)
			continue
		}
		b.WriteByte('"')
		for i := 0; i < len(p.Value); i++ {
			if c := p.Value[i]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(p.Value[i])
		}
		b.WriteByte('"')
	}
	return b.String()
}

// FormatExtensions formats exts as one Sec-WebSocket-Extensions value.
func FormatExtensions(exts []Extension) string {
	s := make([]string, len(exts))
	for i, e := range exts {
		s[i] = e.String()
	}
	return strings.Join(s, ", ")
}

// ParseExtensions parses all Sec-WebSocket-Extensions values of h, in
// order, following the grammar of RFC 6455, section 9.1. Quoted parameter
// values are unquoted and, as the RFC requires, must then be tokens.
// Empty list items (as in "a, , b") are ignored, as RFC 7230, section 7
// asks of recipients.
func ParseExtensions(h http.Header) ([]Extension, error) {
	var exts []Extension
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		p := extParser{s: v}
		var err error
		if exts, err = p.parse(exts); err != nil {
			return nil, fmt.Errorf("websocket handshake: bad Sec-WebSocket-Extensions %q: %w", v, err)
		}
	}
	return exts, nil
}

// extParser parses one header value; i is the read position in s.
type extParser struct {
	s string
	i int
}

func (p *extParser) parse(exts []Extension) ([]Extension, error) {
	for {
		p.skipOWS()
		if p.i == len(p.s) {
			return exts, nil
		}
		if p.s[p.i] == ',' {
			p.i++
			continue
		}
		name, err := p.token("extension name")
		if err != nil {
			return nil, err
		}
		ext := Extension{Name: name}
		p.skipOWS()
		for p.next(';') {
			p.skipOWS()
			var param Param
			if param.Name, err = p.token("parameter name"); err != nil {
				return nil, err
			}
			p.skipOWS()
			if p.next('=') {
				p.skipOWS()
				if param.Value, err = p.value(); err != nil {
					return nil, err
				}
				param.HasValue = true
				p.skipOWS()
			}
			ext.Params = append(ext.Params, param)
		}
		if p.i < len(p.s) && p.s[p.i] != ',' {
			return nil, fmt.Errorf("unexpected %q at offset %d", p.s[p.i:p.i+1], p.i)
		}
		exts = append(exts, ext)
	}
}

// next consumes c if it is the next byte.
func (p *extParser) next(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *extParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// token consumes a token; what names it in the error.
func (p *extParser) token(what string) (string, error) {
	start := p.i
	for p.i < len(p.s) && isTokenChar(p.s[p.i]) {
		p.i++
	}
	if p.i == start {
		if p.i == len(p.s) {
			return "", fmt.Errorf("missing %s at end", what)
		}
		return "", fmt.Errorf("missing %s at offset %d (found %q)", what, p.i, p.s[p.i:p.i+1])
	}
	return p.s[start:p.i], nil
}

// value consumes a parameter value: a token or a quoted string whose
// content is a token.
func (p *extParser) value() (string, error) {
	if !p.next('"') {
		return p.token("parameter value")
	}
	start := p.i
	var b []byte // only used if the value has escapes
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			if b != nil {
				v = string(b)
			}
			p.i++
			if !isToken(v) {
				return "", fmt.Errorf("quoted value %q is not a token", v)
			}
			return v, nil
		case c == '\\':
			if b == nil {
				b = []byte(p.s[start:p.i])
			}
			p.i++
			if p.i == len(p.s) {
				return "", errUnterminated
			}
			b = append(b, p.s[p.i])
		case b != nil:
			b = append(b, c)
		}
		p.i++
	}
	return "", errUnterminated
}

var errUnterminated = errors.New("unterminated quoted string")

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// trimOWS trims the optional whitespace (spaces and tabs) of RFC 7230.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// validValue reports whether s may be sent as a header value: no control
// bytes other than tab, so a value can neither end the header early nor
// smuggle in another one.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
