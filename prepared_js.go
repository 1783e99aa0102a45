//go:build js && wasm

package wsd

import (
	"context"
)

// PreparedMessage is a text or binary message made once to be sent to
// many connections. In a browser, which frames each message itself, it
// holds the message's type and data. It is safe for concurrent use.
type PreparedMessage struct {
	typ  MessageType
	data []byte
}

// NewPreparedMessage prepares data as one message of type typ, TextMessage
// or BinaryMessage. It copies data.
func NewPreparedMessage(typ MessageType, data []byte) (*PreparedMessage, error) {
	if err := checkData(typ, data); err != nil {
		return nil, err
	}
	return &PreparedMessage{typ: typ, data: append([]byte{}, data...)}, nil
}

// Type returns the message's type.
func (p *PreparedMessage) Type() MessageType { return p.typ }

// Data returns the message's payload; it must not be modified.
func (p *PreparedMessage) Data() []byte { return p.data }

// Size returns the size of its frame, header included, as the native
// build counts it.
func (p *PreparedMessage) Size() int {
	n := len(p.data)
	switch {
	case n < 126:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	}
	return 10 + n
}

// SendPrepared sends the messages in order, each as Send would, and
// returns once the browser has them, or with the error that stopped them.
func (c *Conn) SendPrepared(msgs ...*PreparedMessage) error {
	if c.ReadyState() != Open {
		return ErrClosed
	}
	ctx := context.Background()
	if err := c.lockWrite(ctx); err != nil {
		return err
	}
	defer c.unlockWrite()
	for _, p := range msgs {
		if err := c.sendLocked(ctx, p.typ, p.data, ""); err != nil {
			return err
		}
	}
	return nil
}
