package deflate

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Source gives the compressed payload of one message as it arrives.
type Source interface {
	// Pull fills p with the next compressed bytes, waiting for them if
	// need be; fin reports that the message's payload ends with them.
	Pull(p []byte) (n int, fin bool, err error)
}

// Stream inflates one message whose compressed payload is pulled from a
// Source as it is read, so that neither the payload nor the message is
// ever held whole. The zero Stream is ready for Start.
type Stream struct {
	d   *Decompressor
	r   *pooledReader
	src pullSource
	out int64 // bytes inflated so far, for the window
}

// pullSource is what the flate reader reads while streaming: the pulled
// bytes, then finalTail. As an io.ByteReader it needs no buffer of flate's.
type pullSource struct {
	s    Source
	buf  *[4 << 10]byte // pooled, while a message is inflated
	b    []byte
	fin  bool
	tail int
	err  error
}

func (p *pullSource) fill() {
	for len(p.b) == 0 && !p.fin && p.err == nil {
		var n int
		n, p.fin, p.err = p.s.Pull(p.buf[:])
		p.b = p.buf[:n]
	}
}

func (p *pullSource) ReadByte() (byte, error) {
	p.fill()
	if len(p.b) > 0 {
		c := p.b[0]
		p.b = p.b[1:]
		return c, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	if p.tail < len(finalTail) {
		p.tail++
		return finalTail[p.tail-1], nil
	}
	return 0, io.EOF
}

func (p *pullSource) Read(b []byte) (int, error) {
	p.fill()
	if len(p.b) > 0 {
		n := copy(b, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	if p.err != nil {
		return 0, p.err
	}
	if p.tail < len(finalTail) {
		n := copy(b, finalTail[p.tail:])
		p.tail += n
		return n, nil
	}
	return 0, io.EOF
}

// Start begins inflating a message of d's connection from src.
func (s *Stream) Start(d *Decompressor, src Source) error {
	s.Stop()
	s.d, s.out = d, 0
	s.src = pullSource{s: src, buf: pullBufs.Get().(*[4 << 10]byte)}
	s.r = readerPool.Get().(*pooledReader)
	var dict []byte
	if d.takeover {
		dict = d.window
	}
	if err := s.r.fr.(flate.Resetter).Reset(&s.src, dict); err != nil {
		s.Stop()
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return nil
}

// Read inflates into p. It returns io.EOF at the end of the message; an
// error from the Source as it is; bad data as an error wrapping
// ErrCorrupt.
func (s *Stream) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, io.EOF
	}
	n, err := s.r.fr.Read(p)
	if n > 0 && s.d.takeover {
		s.d.remember(p[:n])
	}
	s.out += int64(n)
	switch {
	case err == io.EOF:
		s.Stop()
	case err != nil && err == s.src.err:
		// The Source's own error, such as the connection's end.
	case err == io.ErrUnexpectedEOF:
		err = fmt.Errorf("%w: message ends inside a block", ErrCorrupt)
	case err != nil && !errors.Is(err, ErrCorrupt):
		err = fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return n, err
}

// Stop ends the message early, or after its end, and gives the flate
// reader back.
func (s *Stream) Stop() {
	if s.r != nil {
		s.r.src = source{}
		readerPool.Put(s.r)
		s.r = nil
	}
	if s.src.buf != nil {
		pullBufs.Put(s.src.buf)
	}
	s.src = pullSource{}
}

// pullBufs hold the compressed bytes being inflated, so that an idle
// connection keeps none.
var pullBufs = sync.Pool{New: func() any { return new([4 << 10]byte) }}
