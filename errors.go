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

// Is lets errors.Is match a failure by its kind: ErrMessageTooBig for
// 1009, ErrInvalidUTF8 for 1007; and ErrClosed, as the connection is
// failed.
func (e *ProtocolError) Is(target error) bool {
	switch target {
	case ErrClosed:
		return true
	case ErrMessageTooBig:
		return e.Code == CloseTooBig
	case ErrInvalidUTF8:
		return e.Code == CloseInvalidPayload
	}
	return false
}

// CloseError is how Read, Reader and the other blocking calls report a
// connection that has closed: the code and reason that OnClose saw (1006
// with what happened, when there was no closing handshake). It matches
// ErrClosed with errors.Is.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("wsd: connection closed with %d", e.Code)
	}
	return fmt.Sprintf("wsd: connection closed with %d: %s", e.Code, e.Reason)
}

// Is makes a *CloseError match ErrClosed.
func (e *CloseError) Is(target error) bool { return target == ErrClosed }

// CloseStatus returns the close code of err, if it is or wraps a
// *CloseError or a *ProtocolError, and -1 otherwise.
func CloseStatus(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return -1
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

// Errors to tell apart with errors.Is. A write that timed out matches
// os.ErrDeadlineExceeded, and a handshake cut by its context or
// HandshakeTimeout matches context.DeadlineExceeded; a refused handshake
// is a *HandshakeError, a peer's protocol violation a *ProtocolError.
var (
	// ErrClosed is returned by sends on a connection that is not open:
	// not yet started, closing or closed. Start returns an error that
	// matches it when Close canceled the handshake.
	ErrClosed = errors.New("wsd: connection is not open")

	// ErrMessageTooBig matches the *ProtocolError of a peer's message
	// over Options.MaxLength (close code 1009).
	ErrMessageTooBig = errors.New("wsd: message too big")

	// ErrInvalidUTF8 is returned by a send of text that is not valid
	// UTF-8, and matches the *ProtocolError of a peer's text that is not
	// (close code 1007).
	ErrInvalidUTF8 = errors.New("wsd: text is not valid UTF-8")

	// ErrPendingFull is returned by a send on a connection still
	// connecting once Options.MaxPendingSends bytes wait for it to open.
	ErrPendingFull = errors.New("wsd: too many bytes sent before the connection opened")
)

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
