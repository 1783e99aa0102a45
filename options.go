package wsd

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// DefaultMaxLength is the largest message accepted when Options.MaxLength
// is zero: 0x3ffffff bytes, as in websocket-driver.
const DefaultMaxLength = 0x3ffffff

// DefaultCloseTimeout bounds the closing handshake when
// Options.CloseTimeout is zero.
const DefaultCloseTimeout = 5 * time.Second

// Options configure a connection. The zero value is ready to use; a nil
// *Options means the zero value.
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

	// TLSConfig is used by clients for wss:// URLs. Nil means a default
	// configuration; ServerName is taken from the URL when empty.
	TLSConfig *tls.Config

	// DialContext, if set, opens the client's TCP connection.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Compression configures permessage-deflate (RFC 7692). By default a
	// server accepts clients' offers and a client makes none; see
	// CompressionOptions.
	Compression CompressionOptions
}

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
