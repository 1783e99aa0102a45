//go:build !js

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"

	"github.com/wsd-go/wsd"
)

// Exit statuses of the client, listed by `wsd help exit-codes`.
const (
	exitOK        = 0 // normal close (1000, 1001), or -count / -until met
	exitError     = 1 // anything else: a send failed, a local error
	exitUsage     = 2 // bad flags or arguments
	exitConnect   = 3 // cannot connect: DNS, refused, proxy
	exitTLS       = 4 // TLS handshake failed
	exitHandshake = 5 // the server refused the WebSocket handshake
	exitClosed    = 6 // closed with another code, dropped, or the peer broke the protocol
	exitTimeout   = 7 // -timeout elapsed
	exitUnmet     = 8 // closed normally before -count or -until was met
)

const exitCodesHelp = `Exit status of wsd client (and of the other commands where it applies):

  0  the connection closed normally (1000 or 1001), or -count / -until was met
  1  another error: a send failed, a local error
  2  usage error: bad flags or arguments, an unreadable -send @FILE
  3  cannot connect: DNS failure, connection refused, proxy refused
  4  TLS failure: bad certificate, unknown authority, not TLS
  5  the server refused the WebSocket handshake (its HTTP status is printed)
  6  closed with another code (the code is printed), dropped without a
     close frame (1006), or the peer broke the protocol
  7  -timeout elapsed
  8  closed normally before -count or -until was met
`

// connectExit classifies an error from Start. dialed says whether the TCP
// connection (to the proxy, if any) was made, timedOut whether the
// -timeout deadline passed. TLS fails with the server or an https:// proxy.
func connectExit(err error, dialed, timedOut bool) int {
	var he *wsd.HandshakeError
	var pe *wsd.ProxyError
	switch {
	case timedOut && errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	case errors.As(err, &pe):
		return exitConnect
	case errors.As(err, &he):
		return exitHandshake
	case !dialed:
		return exitConnect
	case isTLSError(err):
		return exitTLS
	}
	return exitConnect
}

func isTLSError(err error) bool {
	var (
		ve *tls.CertificateVerificationError
		ae tls.AlertError
		re tls.RecordHeaderError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &ve) || errors.As(err, &ae) || errors.As(err, &re) ||
		errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		// TLS alerts, such as a server's "certificate required" after
		// a TLS 1.3 handshake, are of an unexported type.
		strings.Contains(err.Error(), "TLS handshake") || strings.Contains(err.Error(), "tls: ")
}
