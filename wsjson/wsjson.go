// Package wsjson reads and writes JSON messages on a wsd connection,
// streaming through Conn.Reader and Conn.Writer rather than building whole
// copies of a message.
package wsjson

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/wsd-go/wsd"
)

// Read reads the next message and decodes it as JSON into v. The message
// must be text: a binary one is an error, and what is left of it is
// discarded by the next read.
func Read(ctx context.Context, c *wsd.Conn, v any) error {
	t, r, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	if t != wsd.TextMessage {
		return fmt.Errorf("wsjson: got a %v message, want text", t)
	}
	d := json.NewDecoder(r)
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("wsjson: decode: %w", err)
	}
	// Only white space may follow the value.
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("wsjson: more than one JSON value in a message")
	}
	return nil
}

// Write encodes v as JSON and sends it as one text message. A value that
// cannot be encoded sends nothing.
func Write(ctx context.Context, c *wsd.Conn, v any) error {
	w := &lazyWriter{ctx: ctx, c: c}
	if err := json.NewEncoder(w).Encode(v); err != nil {
		if w.w != nil {
			w.w.Close()
		}
		if w.err != nil {
			return w.err
		}
		return fmt.Errorf("wsjson: encode: %w", err)
	}
	if w.w == nil {
		return nil
	}
	return w.w.Close()
}

// lazyWriter opens the message on the first write, so that a value the
// encoder refuses leaves no empty message behind.
type lazyWriter struct {
	ctx context.Context
	c   *wsd.Conn
	w   io.WriteCloser
	err error
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if l.w == nil && l.err == nil {
		l.w, l.err = l.c.Writer(l.ctx, wsd.TextMessage)
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.w.Write(p)
}
