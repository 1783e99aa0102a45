package wsd

import (
	"errors"
	"fmt"
	"net/http"
)

// ProtocolError is a violation of RFC 6455 by the peer. The connection is
// failed with Code, which is also reported to OnClose.
type ProtocolError struct {
	Code   int    // close code sent to the peer, e.g. 1002 or 1007
	Reason string // what the peer did wrong
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("wsd: protocol error (close %d): %s", e.Code, e.Reason)
}

// HandshakeError is a failed opening handshake. On a server, Status is the
// HTTP status the request was answered with; on a client it is the status
// the server answered (101 when the status was right but a header was not).
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsd: handshake failed: %d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// ErrClosed is returned by sends on a connection that is not open: not yet
// started, closing or closed.
var ErrClosed = errors.New("wsd: connection is not open")

// Close codes of RFC 6455 section 7.4.1.
const (
	CloseNormal          = 1000 // the purpose of the connection is fulfilled
	CloseGoingAway       = 1001 // server shutting down, page navigated away
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003 // a type of message the endpoint cannot take
	CloseNoStatus        = 1005 // reported only: the close frame had no code
	CloseAbnormal        = 1006 // reported only: no closing handshake
	CloseInvalidPayload  = 1007 // e.g. invalid UTF-8 in a text message
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009 // a message exceeded MaxLength
	CloseMandatoryExt    = 1010
	CloseInternalError   = 1011
)
