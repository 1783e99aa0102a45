//go:build !js

package wsd

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/wsd-go/wsd/internal/deflate"
	"github.com/wsd-go/wsd/internal/handshake"
	"github.com/wsd-go/wsd/internal/proto"
)

func (o *CompressionOptions) check() error {
	if o.Level != 0 && !deflate.ValidLevel(o.Level) {
		return fmt.Errorf("wsd: compression level %d is not 1 to 9 or -2", o.Level)
	}
	for _, b := range []int{o.WindowBits, o.PeerWindowBits} {
		if b != 0 && (b < handshake.MinWindowBits || b > handshake.MaxWindowBits) {
			return fmt.Errorf("wsd: window bits %d are not 8 to 15", b)
		}
	}
	return nil
}

// deflateConfig turns the options into RFC 7692 parameters for role.
func (o *CompressionOptions) deflateConfig(role proto.Role) handshake.DeflateConfig {
	if role == proto.Server {
		return handshake.DeflateConfig{
			ServerNoContextTakeover: !o.ContextTakeover,
			ClientNoContextTakeover: o.PeerNoContextTakeover,
			ServerMaxWindowBits:     o.WindowBits,
			ClientMaxWindowBits:     o.PeerWindowBits,
		}
	}
	return handshake.DeflateConfig{
		ServerNoContextTakeover: o.PeerNoContextTakeover,
		ClientNoContextTakeover: !o.ContextTakeover,
		ServerMaxWindowBits:     o.PeerWindowBits,
		ClientMaxWindowBits:     o.WindowBits,
	}
}

func (o *CompressionOptions) threshold() int {
	switch {
	case o.Threshold == 0:
		return DefaultCompressionThreshold
	case o.Threshold < 0:
		return 0
	}
	return o.Threshold
}

// compression is the permessage-deflate state of a connection, kept apart
// so that connections without it do not carry its room.
type compression struct {
	extensions string              // as the server's header gave them
	cz         *deflate.Compressor // nil once the connection is closed
	fw         frameWriter         // for compressed sends; guarded by wmu
}

// useDeflate sets the connection up for the negotiated parameters p,
// which the server's header gave as extensions.
func (c *Conn) useDeflate(p handshake.DeflateParams, extensions string) {
	ourTakeover, ourBits := !p.ServerNoContextTakeover, p.ServerMaxWindowBits
	peerTakeover, peerBits := !p.ClientNoContextTakeover, p.ClientMaxWindowBits
	if c.m.Role() == proto.Client {
		ourTakeover, ourBits, peerTakeover, peerBits = peerTakeover, peerBits, ourTakeover, ourBits
	}
	c.z = &compression{extensions: extensions, cz: deflate.NewCompressor(c.opts.Compression.Level, ourBits, ourTakeover)}
	c.m.SetDecompressor(deflate.NewDecompressor(peerBits, peerTakeover))
}

// Extensions returns the extensions agreed in the handshake, as the
// server's Sec-WebSocket-Extensions header gave them, or "".
func (c *Conn) Extensions() string {
	if !c.negotiated() || c.z == nil {
		return ""
	}
	return c.z.extensions
}

func (c *Conn) compress(choice CompressChoice, n int) bool {
	switch choice {
	case CompressNever:
		return false
	case CompressAlways:
		return true
	}
	return n >= c.opts.Compression.threshold()
}

// fragmentSize is the size from which compressed output is sent as a
// frame before the message is done: a large message goes out in
// fragments, with bounded memory.
const fragmentSize = 32 << 10

// maxPooledBuffer bounds the write buffers put back in their pool.
const maxPooledBuffer = 256 << 10

// frameWriter receives the compressed output of one message and sends it
// as frames: RSV1 on the first only, FIN on the last. It holds back the
// last four bytes, the flush tail, which must not be sent.
type frameWriter struct {
	c   *Conn
	op  proto.Opcode
	rsv byte
	buf []byte // MaxHeaderSize bytes of room, then the payload
	err error
}

func (f *frameWriter) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	f.buf = append(f.buf, p...)
	if len(f.buf) >= proto.MaxHeaderSize+fragmentSize+len(deflate.Tail) {
		f.emit(false, len(f.buf)-len(deflate.Tail))
	}
	return len(p), f.err
}

// emit sends buf[MaxHeaderSize:end] as a frame and keeps what follows.
func (f *frameWriter) emit(fin bool, end int) {
	frame := f.c.m.FrameInPlace(f.buf[:end], proto.MaxHeaderSize, f.op, fin, f.rsv)
	if _, err := f.c.nc.Write(frame); err != nil {
		f.err = err
		return
	}
	n := copy(f.buf[proto.MaxHeaderSize:], f.buf[end:])
	f.buf = f.buf[:proto.MaxHeaderSize+n]
	f.op, f.rsv = proto.OpContinuation, 0
}

var errNoTail = errors.New("compressed output does not end with a sync flush")

// finish sends the last frame, without the tail.
func (f *frameWriter) finish() error {
	if f.err != nil {
		return f.err
	}
	if !bytes.HasSuffix(f.buf[proto.MaxHeaderSize:], deflate.Tail[:]) {
		return errNoTail
	}
	f.emit(true, len(f.buf)-len(deflate.Tail))
	return f.err
}

// writeCompressed sends payload as a compressed message. c.wmu is held.
func (c *Conn) writeCompressed(op proto.Opcode, payload []byte) error {
	if err := c.flushLocked(); err != nil {
		return err
	}
	bp := wbufPool.Get().(*[]byte)
	f := &c.z.fw
	*f = frameWriter{c: c, op: op, rsv: proto.RSV1, buf: (*bp)[:proto.MaxHeaderSize]}
	err := c.z.cz.Compress(f, payload)
	if err == nil {
		err = f.finish()
	}
	if cap(f.buf) <= maxPooledBuffer {
		*bp = f.buf[:0]
		wbufPool.Put(bp)
	}
	*f = frameWriter{}
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}
