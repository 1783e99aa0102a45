//go:build !js

package wsd

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"
)

// ProxyError is a proxy's refusal to open a tunnel to the server: an HTTP
// proxy that answered CONNECT with a status other than 2xx, or a SOCKS5
// proxy that refused the credentials or the connection.
type ProxyError struct {
	Proxy  string // the proxy's URL, without its password
	Addr   string // the server's address, host:port, asked for
	Status int    // the HTTP status an HTTP proxy answered; 0 for SOCKS5
	Reason string // the status line, or what the SOCKS5 proxy answered
}

// Error names the proxy, the server's address and the refusal.
func (e *ProxyError) Error() string {
	return fmt.Sprintf("wsd: proxy %s refused a tunnel to %s: %s", e.Proxy, e.Addr, e.Reason)
}

// httpURL returns u with the HTTP scheme of its WebSocket scheme: what
// proxy functions and cookie jars expect.
func httpURL(u *url.URL) *url.URL {
	h := *u
	h.Scheme = "http"
	if u.Scheme == "wss" {
		h.Scheme = "https"
	}
	return &h
}

// withPort returns host:port of u, with def as the port if u has none.
func withPort(u *url.URL, def string) string {
	if p := u.Port(); p != "" {
		return net.JoinHostPort(u.Hostname(), p)
	}
	return net.JoinHostPort(u.Hostname(), def)
}

// dialServer opens the connection that the handshake with u goes over:
// through the proxy that Options.Proxy picks, or straight to the server.
func (c *Conn) dialServer(ctx context.Context, u *url.URL) (net.Conn, error) {
	return dialVia(ctx, u, c.opts.DialContext, c.opts.Proxy, c.opts.TLSConfig)
}

// dialVia is dialServer with the options it needs.
func dialVia(ctx context.Context, u *url.URL, dial func(context.Context, string, string) (net.Conn, error), proxy func(*http.Request) (*url.URL, error), tlsConfig *tls.Config) (net.Conn, error) {
	port := "80"
	if u.Scheme == "wss" {
		port = "443"
	}
	addr := withPort(u, port)
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, httpURL(u).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("wsd: bad URL: %w", err)
	}
	pu, err := proxy(req)
	if err != nil {
		return nil, fmt.Errorf("wsd: proxy for %s: %w", u.Host, err)
	}
	if pu == nil {
		nc, err := dial(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("wsd: dial %s: %w", addr, err)
		}
		return nc, nil
	}
	return dialProxy(ctx, dial, pu, addr, tlsConfig)
}

// dialProxy connects to the proxy pu and asks it for a tunnel to addr.
func dialProxy(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), pu *url.URL, addr string, tlsConfig *tls.Config) (net.Conn, error) {
	name := pu.Redacted()
	var port string
	switch pu.Scheme {
	case "http":
		port = "80"
	case "https":
		port = "443"
	case "socks5", "socks5h":
		port = "1080"
	default:
		return nil, fmt.Errorf("wsd: proxy %s: scheme must be http, https, socks5 or socks5h", name)
	}
	if pu.Hostname() == "" {
		return nil, fmt.Errorf("wsd: proxy %s: no host", name)
	}
	nc, err := dial(ctx, "tcp", withPort(pu, port))
	if err != nil {
		return nil, fmt.Errorf("wsd: dial proxy %s: %w", name, err)
	}
	// As in clientHandshake: only the context's end cuts this short.
	raw := nc
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	switch pu.Scheme {
	case "http", "https":
		if pu.Scheme == "https" {
			cfg := tlsConfig.Clone()
			if cfg == nil {
				cfg = &tls.Config{}
			}
			cfg.ServerName = pu.Hostname()
			cfg.NextProtos = []string{"http/1.1"}
			tc := tls.Client(nc, cfg)
			if err = tc.HandshakeContext(ctx); err != nil {
				err = fmt.Errorf("wsd: TLS handshake with proxy %s: %w", name, err)
			}
			nc = tc
		}
		if err == nil {
			err = connectHTTP(nc, pu, addr)
		}
	default:
		err = connectSOCKS5(nc, pu, addr)
	}
	if !stop() {
		// The context ended, and may have set a deadline.
		err = fmt.Errorf("wsd: proxy %s: %w", name, ctx.Err())
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return nc, nil
}

// connectHTTP asks the HTTP proxy pu, connected as nc, for a tunnel to
// addr with CONNECT, authenticated by the user info of pu if any.
func connectHTTP(nc net.Conn, pu *url.URL, addr string) error {
	name := pu.Redacted()
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if pu.User != nil {
		pass, _ := pu.User.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass)) + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		return fmt.Errorf("wsd: proxy %s: %w", name, err)
	}
	br := bufio.NewReader(&io.LimitedReader{R: nc, N: maxResponseSize})
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("connection closed before the response ended")
		}
		return fmt.Errorf("wsd: proxy %s: read CONNECT response: %w", name, err)
	}
	if resp.StatusCode/100 != 2 {
		return &ProxyError{Proxy: name, Addr: addr, Status: resp.StatusCode, Reason: resp.Status}
	}
	// The server speaks only once spoken to, so nothing may follow yet;
	// bytes that did would be lost with br.
	if br.Buffered() > 0 {
		return fmt.Errorf("wsd: proxy %s: data after the CONNECT response", name)
	}
	return nil
}

// socksReplies are the meanings of SOCKS5 reply codes (RFC 1928, section 6).
var socksReplies = []string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// connectSOCKS5 asks the SOCKS5 proxy pu, connected as nc, for a
// connection to addr (RFC 1928), with username and password
// authentication (RFC 1929) when pu has user info. Host names are sent
// for the proxy to resolve, as net/http does for both socks5 and socks5h.
func connectSOCKS5(nc net.Conn, pu *url.URL, addr string) error {
	name := pu.Redacted()
	fail := func(format string, a ...any) error {
		return fmt.Errorf("wsd: SOCKS5 proxy %s: "+format, append([]any{name}, a...)...)
	}
	refused := func(reason string) error {
		return &ProxyError{Proxy: name, Addr: addr, Reason: reason}
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return fail("bad address %q: %v", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return fail("bad port %q", portText)
	}
	// Request, with the greeting: version, then the methods offered.
	req := []byte{5, 1, 0}
	if pu.User != nil {
		req = []byte{5, 2, 0, 2}
	}
	if _, err := nc.Write(req); err != nil {
		return fail("%w", err)
	}
	var b [2]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		return fail("read method: %w", err)
	}
	if b[0] != 5 {
		return fail("version %d, want 5", b[0])
	}
	switch {
	case b[1] == 0:
	case b[1] == 2 && pu.User != nil:
		user := pu.User.Username()
		pass, _ := pu.User.Password()
		if len(user) == 0 || len(user) > 255 || len(pass) > 255 {
			return fail("username must have 1 to 255 bytes, password at most 255")
		}
		auth := append([]byte{1, byte(len(user))}, user...)
		auth = append(append(auth, byte(len(pass))), pass...)
		if _, err := nc.Write(auth); err != nil {
			return fail("%w", err)
		}
		if _, err := io.ReadFull(nc, b[:]); err != nil {
			return fail("read authentication status: %w", err)
		}
		if b[1] != 0 {
			return refused("username and password refused")
		}
	case b[1] == 0xff:
		if pu.User == nil {
			return refused("no acceptable authentication method (offered: none)")
		}
		return refused("no acceptable authentication method (offered: none, username/password)")
	default:
		return fail("chose authentication method %d, which was not offered", b[1])
	}
	req = []byte{5, 1, 0} // CONNECT
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Is4() {
			req = append(req, 1)
		} else {
			req = append(req, 4)
		}
		req = append(req, ip.AsSlice()...)
	} else {
		if len(host) > 255 {
			return fail("host name longer than 255 bytes")
		}
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := nc.Write(req); err != nil {
		return fail("%w", err)
	}
	// Reply: version, code, reserved, then the bound address, unused.
	var r [5]byte
	if _, err := io.ReadFull(nc, r[:]); err != nil {
		return fail("read reply: %w", err)
	}
	if r[0] != 5 {
		return fail("version %d, want 5", r[0])
	}
	if r[1] != 0 {
		reason := "unknown reply"
		if int(r[1]) < len(socksReplies) {
			reason = socksReplies[r[1]]
		}
		return refused(fmt.Sprintf("%s (reply %d)", reason, r[1]))
	}
	var rest int // of the bound address and port, after r[4]
	switch r[3] {
	case 1:
		rest = 4 - 1 + 2
	case 4:
		rest = 16 - 1 + 2
	case 3:
		rest = int(r[4]) + 2
	default:
		return fail("bad address type %d in reply", r[3])
	}
	if _, err := io.ReadFull(nc, make([]byte, rest)); err != nil {
		return fail("read reply: %w", err)
	}
	return nil
}
