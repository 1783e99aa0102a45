package wsd

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// MessageType is the type of a message or frame. Its values are the
// RFC 6455 opcodes.
type MessageType int

// Message types.
const (
	TextMessage   MessageType = 1
	BinaryMessage MessageType = 2
	CloseMessage  MessageType = 8
	PingMessage   MessageType = 9
	PongMessage   MessageType = 10
)

func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	case CloseMessage:
		return "close"
	case PingMessage:
		return "ping"
	case PongMessage:
		return "pong"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// Message is a whole message received from the peer.
//
// Data is only valid until the OnMessage handler returns: the connection
// reuses its memory for the next message. Copy it (or call String) to keep
// it.
type Message struct {
	Type MessageType // TextMessage or BinaryMessage
	Data []byte      // for TextMessage, valid UTF-8
}

// String returns the message's data as a string (a copy).
func (m Message) String() string { return string(m.Data) }

// ReadyState is the state of a connection.
type ReadyState int32

// Ready states, as in the WebSocket API.
const (
	Connecting ReadyState = iota // before the handshake completes
	Open                         // messages may be sent and received
	Closing                      // a close frame was sent or received
	Closed                       // the TCP connection is closed
)

func (s ReadyState) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Open:
		return "open"
	case Closing:
		return "closing"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("ReadyState(%d)", int(s))
}

// SendOptions refine Send. The zero value sends all of data as one binary
// message.
type SendOptions struct {
	// Type is the kind of frame to send; zero means BinaryMessage.
	// CloseMessage starts the closing handshake, with data as the reason.
	Type MessageType
	// Start and End bound the part of data to send, data[Start:End]; an
	// End of zero means len(data).
	Start, End int
	// Code is the status code of a close frame; zero means 1000.
	Code int
	// Compress overrides, for this message, whether it is compressed when
	// permessage-deflate is in use. Control frames never are.
	Compress CompressChoice
	// Callback, if set, is called once the bytes are written, with nil,
	// or with the error that stopped them. It runs before Send returns.
	Callback func(error)
}

// slice returns data[Start:End], or an error if the bounds are out of range.
func (o *SendOptions) slice(data []byte) ([]byte, error) {
	end := o.End
	if end == 0 {
		end = len(data)
	}
	if o.Start < 0 || o.Start > end || end > len(data) {
		return nil, fmt.Errorf("wsd: send bounds [%d:%d] out of range for %d bytes", o.Start, end, len(data))
	}
	return data[o.Start:end], nil
}

// callback calls f, if set, with err, and returns err.
func callback(f func(error), err error) error {
	if f != nil {
		f(err)
	}
	return err
}

// checkData checks the type of a message the application sends, and its
// text.
func checkData(t MessageType, p []byte) error {
	switch t {
	case BinaryMessage:
		return nil
	case TextMessage:
		if !utf8.Valid(p) {
			return ErrInvalidUTF8
		}
		return nil
	}
	return fmt.Errorf("wsd: cannot send a message of type %v", t)
}

// awaitQueued waits for a send queued while the connection opens (err is
// enqueue's), for Write: its context ending leaves the message queued.
func awaitQueued(ctx context.Context, err error, done <-chan error) error {
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("wsd: write: %w (the message stays queued)", ctx.Err())
	}
}
