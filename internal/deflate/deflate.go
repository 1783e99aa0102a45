// Package deflate is the codec of the permessage-deflate extension
// (RFC 7692): it compresses and inflates one message at a time with
// compress/flate, keeping the LZ77 context between messages only where
// context takeover is in force, and keeping as little as possible per
// connection.
//
// Memory: flate readers and writers are large (about 40 KiB and 0.8 to
// 1.2 MiB), so they come from pools shared by all connections, except the
// writer of a compressor that keeps its context. A decompressor with
// context takeover keeps only its window (the last 2^bits bytes inflated),
// and a reader is reset with it as dictionary for each message.
package deflate

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/wsd-go/wsd/internal/proto"
)

// Tail is the end of a sync flush, which RFC 7692 section 7.2.1 has the
// sender remove from each compressed message and the receiver put back.
var Tail = [4]byte{0x00, 0x00, 0xff, 0xff}

// finalTail follows the tail when inflating: an empty final stored block,
// so that a message that ends at a block boundary ends the stream with
// io.EOF, and a truncated one does not.
var finalTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// DefaultLevel is the compression level used when none is set:
// flate.BestSpeed, the fastest level, and the cheapest to reset.
const DefaultLevel = flate.BestSpeed

// ValidLevel reports whether level is a compression level that
// Compressor accepts: 1 to 9, or flate.HuffmanOnly (-2).
func ValidLevel(level int) bool {
	return level >= flate.BestSpeed && level <= flate.BestCompression || level == flate.HuffmanOnly
}

// ErrCorrupt wraps the errors of inflating a bad message.
var ErrCorrupt = errors.New("invalid compressed data")

// redirect is the destination a flate.Writer is created with, so that the
// real destination can change for each message without a Reset.
type redirect struct{ w io.Writer }

func (r *redirect) Write(p []byte) (int, error) { return r.w.Write(p) }

type pooledWriter struct {
	fw  *flate.Writer
	dst redirect
}

// writerPools holds idle writers by level: index level+2, so that
// HuffmanOnly (-2) has a place.
var writerPools [flate.BestCompression + 3]sync.Pool

func getWriter(level int) *pooledWriter {
	if w, ok := writerPools[level+2].Get().(*pooledWriter); ok {
		return w
	}
	w := &pooledWriter{}
	w.fw, _ = flate.NewWriter(&w.dst, level)
	return w
}

func putWriter(level int, w *pooledWriter) {
	w.dst.w = nil
	writerPools[level+2].Put(w)
}

// Compressor compresses the messages of one connection. Its methods must
// not be called concurrently.
type Compressor struct {
	level    int
	bits     int
	takeover bool
	w        *pooledWriter // kept between messages with context takeover
}

// NewCompressor returns a compressor at level (0 means DefaultLevel) whose
// back-references never reach more than 2^bits bytes back. With takeover,
// messages may refer to earlier ones, and the compressor keeps a flate
// writer for the life of the connection; without, it borrows a pooled one
// for each message.
//
// compress/flate cannot shrink its window below 32 KiB, so with bits
// below 15 the compressor works without takeover and restarts the
// compression every 2^bits bytes (a sync flush then a reset, at
// flate.BestSpeed whose reset costs nothing), so that no match reaches
// further back than the window.
func NewCompressor(level, bits int, takeover bool) *Compressor {
	if level == 0 {
		level = DefaultLevel
	}
	if bits <= 0 || bits > 15 {
		bits = 15
	}
	if bits < 15 {
		takeover = false
		if level != flate.HuffmanOnly {
			level = flate.BestSpeed
		}
	}
	return &Compressor{level: level, bits: bits, takeover: takeover}
}

// Compress writes the compression of p to dst, as a run of non-final
// DEFLATE blocks ending with a sync flush: what dst receives ends with
// Tail, which the caller removes before sending (RFC 7692, section 7.2.1).
// dst may receive the output in any number of writes.
func (c *Compressor) Compress(dst io.Writer, p []byte) error {
	w := c.w
	if w == nil {
		w = getWriter(c.level)
		if c.takeover {
			c.w = w
		} else {
			defer putWriter(c.level, w)
		}
		w.dst.w = dst
		w.fw.Reset(&w.dst)
	}
	w.dst.w = dst
	if c.bits == 15 || c.level == flate.HuffmanOnly {
		if _, err := w.fw.Write(p); err != nil {
			return err
		}
		return w.fw.Flush()
	}
	size := 1 << c.bits
	for first := true; first || len(p) > 0; first = false {
		if !first {
			w.fw.Reset(&w.dst)
		}
		k := min(len(p), size)
		if _, err := w.fw.Write(p[:k]); err != nil {
			return err
		}
		if err := w.fw.Flush(); err != nil {
			return err
		}
		p = p[k:]
	}
	return nil
}

// Release returns the kept writer, if any, to its pool. The compressor
// can still be used; it starts a fresh context.
func (c *Compressor) Release() {
	if c.w != nil {
		putWriter(c.level, c.w)
		c.w = nil
	}
}

// Takeover reports whether the compressor keeps its context.
func (c *Compressor) Takeover() bool { return c.takeover }

// Bits returns the base-2 logarithm of the compressor's window.
func (c *Compressor) Bits() int { return c.bits }

// Level returns the compression level.
func (c *Compressor) Level() int { return c.level }

// source is what a flate reader reads: the compressed payload, then
// finalTail. It implements io.ByteReader, so the reader takes no buffer
// of its own and reads no further than it must.
type source struct {
	p    []byte
	tail int // bytes of finalTail read
}

func (s *source) ReadByte() (byte, error) {
	if len(s.p) > 0 {
		b := s.p[0]
		s.p = s.p[1:]
		return b, nil
	}
	if s.tail < len(finalTail) {
		s.tail++
		return finalTail[s.tail-1], nil
	}
	return 0, io.EOF
}

func (s *source) Read(b []byte) (int, error) {
	if len(s.p) > 0 {
		n := copy(b, s.p)
		s.p = s.p[n:]
		return n, nil
	}
	if s.tail < len(finalTail) {
		n := copy(b, finalTail[s.tail:])
		s.tail += n
		return n, nil
	}
	return 0, io.EOF
}

type pooledReader struct {
	fr    io.ReadCloser
	src   source
	probe [512]byte
}

var readerPool = sync.Pool{New: func() any {
	r := &pooledReader{}
	r.fr = flate.NewReader(&r.src)
	return r
}}

// Decompressor inflates the messages of one connection. Its methods must
// not be called concurrently.
type Decompressor struct {
	size     int    // window size, 2^bits
	takeover bool   // the peer may refer to earlier messages
	window   []byte // the last size bytes inflated, with takeover
}

// NewDecompressor returns a decompressor for a peer whose window is
// 2^bits bytes. With takeover, it keeps that many bytes of the messages
// it inflated, which later messages may refer to.
func NewDecompressor(bits int, takeover bool) *Decompressor {
	if bits < 8 || bits > 15 {
		bits = 15
	}
	return &Decompressor{size: 1 << bits, takeover: takeover}
}

// Decompress appends to dst the message whose compressed payload (without
// Tail) is src. It produces at most limit bytes: if the message inflates
// to more, it stops there and returns an error that wraps proto.ErrTooBig.
// Bad data gives an error that wraps ErrCorrupt. Bytes after a final
// block, which RFC 7692 allows to end a message, are ignored.
func (d *Decompressor) Decompress(dst, src []byte, limit int64) ([]byte, error) {
	if len(src) == 0 {
		// Not valid DEFLATE data once the tail is added, but an empty
		// message is what a sender that skips the flush of an empty
		// message means.
		return dst, nil
	}
	r := readerPool.Get().(*pooledReader)
	defer func() {
		r.src = source{}
		readerPool.Put(r)
	}()
	r.src = source{p: src}
	var dict []byte
	if d.takeover {
		dict = d.window
	}
	if err := r.fr.(flate.Resetter).Reset(&r.src, dict); err != nil {
		return dst, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	start := len(dst)
	for {
		produced := int64(len(dst) - start)
		var n int
		var err error
		if len(dst) < cap(dst) && produced < limit {
			room := min(int64(cap(dst)), int64(start)+limit)
			n, err = r.fr.Read(dst[len(dst):room])
			dst = dst[:len(dst)+n]
		} else {
			// The buffer is full, or the limit reached: read a little
			// to learn whether the message goes on before growing, and
			// never more than one byte past the limit.
			b := r.probe[:min(int64(len(r.probe)), limit-produced+1)]
			n, err = r.fr.Read(b)
			if int64(n) > limit-produced {
				return dst, fmt.Errorf("%w: message inflates to more than %d bytes", proto.ErrTooBig, limit)
			}
			if len(dst)+n > cap(dst) {
				dst = grow(dst, len(dst)+n, len(src), int64(start)+limit)
			}
			dst = append(dst, b[:n]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = errors.New("message ends inside a block")
			}
			return dst, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	if d.takeover {
		d.remember(dst[start:])
	}
	return dst, nil
}

// grow makes room in dst for at least need bytes: it doubles it, up to
// limit, starting from a guess at the size of a message of n compressed
// bytes.
func grow(dst []byte, need, n int, limit int64) []byte {
	want := min(int64(max(2*cap(dst), need, 4*n, 512)), limit)
	out := make([]byte, len(dst), want)
	copy(out, dst)
	return out
}

// remember keeps the last d.size bytes of what was inflated so far.
func (d *Decompressor) remember(p []byte) {
	if d.window == nil {
		d.window = make([]byte, 0, d.size)
	}
	if len(p) >= d.size {
		d.window = append(d.window[:0], p[len(p)-d.size:]...)
		return
	}
	if over := len(d.window) + len(p) - d.size; over > 0 {
		d.window = d.window[:copy(d.window, d.window[over:])]
	}
	d.window = append(d.window, p...)
}

// Takeover reports whether the decompressor keeps a window.
func (d *Decompressor) Takeover() bool { return d.takeover }
