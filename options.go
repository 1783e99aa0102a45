package wsd

import (
	"context"
	"crypto/tls"
	"log"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultMaxLength is the largest message accepted when Options.MaxLength
// is zero: 0x3ffffff bytes, as in websocket-driver.
const DefaultMaxLength = 0x3ffffff

// DefaultCloseTimeout bounds the closing handshake when
// Options.CloseTimeout is zero.
const DefaultCloseTimeout = 5 * time.Second

// DefaultHandshakeTimeout bounds the opening handshake when
// Options.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// Options configure a connection. The zero value is ready to use; a nil
// *Options means the zero value. Connections keep a pointer to their
// Options rather than a copy (one Options usually serves every connection
// of a server), so Options must not be changed once passed to NewServer or
// NewClient.
type Options struct {
	// MaxLength is the largest message accepted, counted across all its
	// fragments. A bigger message fails the connection with close code
	// 1009 as soon as its frames announce too many bytes; the excess is
	// never buffered. For a compressed message it is the inflated size
	// that counts, checked while inflating: inflation stops, and the
	// connection fails with 1009, as soon as it would produce more. Zero
	// means DefaultMaxLength.
	MaxLength int

	// AcceptProtocols lists subprotocols. A server picks the first
	// protocol offered by the client that is in this list; a client
	// offers them and fails if the server picks one not offered.
	AcceptProtocols []string

	// AdditionalHeaders are sent with the handshake: in the response of
	// a server, in the request of a client.
	AdditionalHeaders http.Header

	// CloseTimeout bounds the wait for the peer's answer to our close
	// frame; then the connection is dropped and the close event reports
	// 1006. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// OriginPatterns lists the origins, besides the request's own host,
	// whose pages may open connections to a server: host or host:port
	// patterns in path.Match syntax, such as "*.example.com" or
	// "localhost:*". "*" allows any origin. Browsers send Origin with
	// every handshake; a request from another origin is refused with 403,
	// which stops other sites' pages from using the user's cookies here
	// (cross-site WebSocket hijacking). Requests without Origin, from
	// programs rather than browsers, are always allowed.
	OriginPatterns []string

	// HandshakeTimeout bounds the opening handshake: a client's dial,
	// TLS and HTTP exchange, a server's 101 response. A context deadline
	// given to Start also applies. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// PingInterval, if positive, turns on keepalive: when nothing has
	// arrived for this long, a ping is sent, and if nothing arrives
	// within PongTimeout after it the connection is dropped and the
	// close event reports 1006.
	PingInterval time.Duration

	// PongTimeout is how long keepalive waits after its ping. Zero means
	// PingInterval.
	PongTimeout time.Duration

	// IdleTimeout, if positive, closes the connection with 1001 when no
	// message (text or binary) has arrived from the peer for this long.
	// Control frames do not count: the pongs that answer our keepalive
	// pings keep a dead peer apart from an idle one, not an idle
	// connection open.
	IdleTimeout time.Duration

	// WriteTimeout, if positive, bounds each write to the socket; a send
	// that cannot finish in time fails, and the connection is dropped.
	// Zero means writes wait as long as the peer needs: sends apply
	// back-pressure to the caller rather than buffering without bound.
	WriteTimeout time.Duration

	// MaxPendingSends bounds the bytes of messages sent while the
	// connection is connecting, which wait and go out, in order, as soon
	// as it opens; a send past it fails with ErrPendingFull. Zero means
	// DefaultMaxPendingSends (1 MiB).
	MaxPendingSends int

	// Group, if set, tracks the connection so that a server can close
	// all its connections at shutdown.
	Group *Group

	// TLSConfig is used by clients for wss:// URLs. Nil means a default
	// configuration; ServerName is taken from the URL when empty.
	TLSConfig *tls.Config

	// DialContext, if set, opens the client's TCP connection: to the
	// proxy when there is one, else to the server.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Proxy picks the proxy for a client's handshake, given a GET request
	// for the server's URL with the scheme http for ws and https for wss.
	// It returns an http:// or https:// URL for a proxy that tunnels with
	// CONNECT, or a socks5:// (or socks5h://) URL for a SOCKS5 proxy; user
	// info in the URL authenticates to the proxy (Proxy-Authorization:
	// Basic, or SOCKS5 username and password). A nil URL and nil error
	// mean no proxy: a Proxy that always returns nil, nil turns proxies
	// off. Nil means http.ProxyFromEnvironment (HTTPS_PROXY, HTTP_PROXY,
	// NO_PROXY, read once per process), which never proxies localhost or
	// loopback addresses. A
	// proxy that refuses the tunnel fails Start with a *ProxyError. An
	// https:// proxy is reached with TLS configured by TLSConfig, its
	// ServerName set to the proxy's host.
	Proxy func(*http.Request) (*url.URL, error)

	// Jar, if set, holds a client's cookies: those it has for the
	// server's URL (with the scheme http for ws, https for wss) are sent
	// with the handshake, besides any Cookie in AdditionalHeaders, and
	// those the server sets in its handshake response are stored in it.
	Jar http.CookieJar

	// HTTP2, for clients, chooses whether the WebSocket runs over an
	// HTTP/2 stream (RFC 8441), sharing one TCP and TLS connection with
	// the other WebSockets of the same Options to the same host; see
	// HTTP2Mode. The default is HTTP/1.1. Proxy and Jar apply over HTTP/2
	// too.
	HTTP2 HTTP2Mode

	// Compression configures permessage-deflate (RFC 7692). By default a
	// server accepts clients' offers and a client makes none; see
	// CompressionOptions.
	Compression CompressionOptions

	// ErrorLog receives what the connection cannot report otherwise: a
	// panic in an event handler, with its stack (the connection is then
	// failed with 1011 and the others go on). Nil means the log
	// package's standard logger.
	ErrorLog *log.Logger
}

// DefaultMaxPendingSends bounds the bytes of sends queued while a
// connection connects, when Options.MaxPendingSends is zero.
const DefaultMaxPendingSends = 1 << 20

func (o *Options) maxLength() int64 {
	if o.MaxLength <= 0 {
		return DefaultMaxLength
	}
	return int64(o.MaxLength)
}

func (o *Options) closeTimeout() time.Duration {
	if o.CloseTimeout <= 0 {
		return DefaultCloseTimeout
	}
	return o.CloseTimeout
}

func (o *Options) handshakeTimeout() time.Duration {
	if o.HandshakeTimeout <= 0 {
		return DefaultHandshakeTimeout
	}
	return o.HandshakeTimeout
}

func (o *Options) pongTimeout() time.Duration {
	if o.PongTimeout <= 0 {
		return o.PingInterval
	}
	return o.PongTimeout
}
