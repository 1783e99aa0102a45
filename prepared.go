//go:build !js

package wsd

import (
	"sync"
	"time"

	"github.com/wsd-go/wsd/internal/deflate"
	"github.com/wsd-go/wsd/internal/proto"
)

// PreparedMessage is a text or binary message encoded once to be sent to
// many connections: its frame is built once, and compressed once for the
// connections that agreed permessage-deflate without context takeover, and
// every connection writes the same bytes. It is safe for concurrent use.
//
// Server connections share its frames. A client masks every frame with a
// key of its own, and a compressor that keeps its context or a smaller
// window cannot share output, so those connections encode it as Send
// would.
type PreparedMessage struct {
	typ   MessageType
	frame []byte // header then payload, unmasked, uncompressed
	off   int    // where the payload starts in frame

	zonce  sync.Once
	zframe []byte // header (RSV1) then compressed payload; nil on failure
}

// NewPreparedMessage prepares data as one message of type typ, TextMessage
// or BinaryMessage. It copies data.
func NewPreparedMessage(typ MessageType, data []byte) (*PreparedMessage, error) {
	if err := checkData(typ, data); err != nil {
		return nil, err
	}
	h := proto.Header{Fin: true, Op: proto.Opcode(typ), Length: int64(len(data))}
	var hb [proto.MaxHeaderSize]byte
	hdr := proto.AppendHeader(hb[:0], h)
	frame := make([]byte, 0, len(hdr)+len(data))
	frame = append(append(frame, hdr...), data...)
	return &PreparedMessage{typ: typ, frame: frame, off: len(hdr)}, nil
}

// Type returns the message's type.
func (p *PreparedMessage) Type() MessageType { return p.typ }

// Data returns the message's payload; it must not be modified.
func (p *PreparedMessage) Data() []byte { return p.frame[p.off:] }

// Size returns the size of its uncompressed frame, header included: what
// it costs a connection's queue.
func (p *PreparedMessage) Size() int { return len(p.frame) }

func (p *PreparedMessage) payloadLen() int { return len(p.frame) - p.off }

// compressed returns the compressed frame, made on first use at level,
// or nil if compressing failed.
func (p *PreparedMessage) compressed(level int) []byte {
	p.zonce.Do(func() {
		var out appendWriter
		cz := deflate.NewCompressor(level, 15, false)
		if cz.Compress(&out, p.Data()) != nil || len(out) < len(deflate.Tail) {
			return
		}
		payload := out[:len(out)-len(deflate.Tail)]
		h := proto.Header{Fin: true, Rsv: proto.RSV1, Op: proto.Opcode(p.typ), Length: int64(len(payload))}
		var hb [proto.MaxHeaderSize]byte
		hdr := proto.AppendHeader(hb[:0], h)
		frame := make([]byte, 0, len(hdr)+len(payload))
		p.zframe = append(append(frame, hdr...), payload...)
	})
	return p.zframe
}

type appendWriter []byte

func (w *appendWriter) Write(b []byte) (int, error) {
	*w = append(*w, b...)
	return len(b), nil
}

// batchSize bounds the bytes that SendPrepared gathers for one write.
const batchSize = 64 << 10

// SendPrepared sends the messages in order, gathering them into as few
// socket writes as it can. It returns once they are written, or with the
// error that stopped them; like Send, it is serialized with other sends.
func (c *Conn) SendPrepared(msgs ...*PreparedMessage) error {
	if c.ReadyState() != Open {
		return ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	// A message being streamed by a Writer must end first: data frames
	// must not interleave.
	if err := c.awaitWriter(nil); err != nil {
		return err
	}
	if c.m.CloseSent() || c.ReadyState() == Closed {
		return ErrClosed
	}
	bp := wbufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledBuffer {
			wbufPool.Put(bp)
		}
	}()
	buf := (*bp)[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := c.writeRaw(buf)
		buf = buf[:0]
		*bp = buf
		return err
	}
	for _, p := range msgs {
		frame := p.frame
		z := c.z != nil && c.z.cz != nil && c.compress(CompressDefault, p.payloadLen())
		if z || c.m.Role() == proto.Client {
			cz := c.z
			if z && c.m.Role() == proto.Server && !cz.cz.Takeover() && cz.cz.Bits() == 15 {
				frame = p.compressed(cz.cz.Level())
			} else {
				frame = nil
			}
			if frame == nil {
				// This connection must encode it itself.
				if err := flush(); err != nil {
					return err
				}
				c.setWriteDeadline()
				var err error
				if z {
					err = c.writeCompressed(proto.Opcode(p.typ), p.Data())
				} else {
					err = c.writeLocked(proto.Opcode(p.typ), p.Data())
				}
				if err != nil {
					return err
				}
				continue
			}
		}
		if len(buf)+len(frame) > batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(frame) > batchSize {
			if err := c.writeRaw(frame); err != nil {
				return err
			}
			continue
		}
		buf = append(buf, frame...)
		*bp = buf
	}
	return flush()
}

// writeRaw writes ready frames. c.wmu is held.
func (c *Conn) writeRaw(b []byte) error {
	c.setWriteDeadline()
	if err := c.flushLocked(); err != nil {
		return err
	}
	if _, err := c.nc.Write(b); err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// setWriteDeadline gives the next write its own deadline, if the options
// ask for one. c.wmu is held.
func (c *Conn) setWriteDeadline() {
	if c.opts.WriteTimeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	}
}
