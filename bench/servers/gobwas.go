package servers

import (
	"bufio"
	"compress/flate"
	"io"
	"net"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

func init() { Register("gobwas", startGobwas) }

// startGobwas serves github.com/gobwas/ws with its low-level API: a raw
// listener, the zero-copy ws.Upgrade on the accepted connection, and one
// goroutine per connection that reads frames with wsutil.Reader, answers
// control frames with wsutil's control handler, and writes each echo as one
// frame in a single write.
//
// With Deflate, connections are served by gobwasDeflateConn instead.
func startGobwas(addr string, o Options) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	serve := gobwasConn
	if o.Deflate {
		serve = gobwasDeflateConn
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	return ln.Addr().String(), func() { _ = ln.Close() }, nil
}

// gobwasHeadroom is room left in front of the message buffer for the
// largest frame header, so that header and payload go out in one write.
const gobwasHeadroom = ws.MaxHeaderSize

func gobwasConn(conn net.Conn) {
	defer conn.Close()
	if _, err := ws.Upgrade(conn); err != nil {
		return
	}
	rd := &wsutil.Reader{
		Source:         bufio.NewReaderSize(conn, 4096),
		State:          ws.StateServerSide,
		MaxMessageSize: MaxMessage,
	}
	control := wsutil.ControlFrameHandler(conn, ws.StateServerSide)
	rd.OnIntermediate = control
	// buf holds the frame header in its first gobwasHeadroom bytes and
	// the message after them. It is allocated on the first message.
	var buf []byte
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return
		}
		if hdr.OpCode.IsControl() {
			// A close frame is answered here and ends the loop.
			if err := control(hdr, rd); err != nil {
				return
			}
			continue
		}
		if need := gobwasHeadroom + int(hdr.Length); cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:gobwasHeadroom]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := rd.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		out := ws.Header{Fin: true, OpCode: hdr.OpCode, Length: int64(len(buf) - gobwasHeadroom)}
		start := gobwasHeadroom - ws.HeaderSize(out)
		if err := ws.WriteHeader(&fixedWriter{p: buf[start:gobwasHeadroom]}, out); err != nil {
			return
		}
		if _, err := conn.Write(buf[start:]); err != nil {
			return
		}
	}
}

// fixedWriter writes into a slice of exactly the right size.
type fixedWriter struct{ p []byte }

func (w *fixedWriter) Write(b []byte) (int, error) {
	n := copy(w.p, b)
	w.p = w.p[n:]
	if n < len(b) {
		return n, io.ErrShortWrite
	}
	return n, nil
}

// gobwasDeflateConn serves one connection with permessage-deflate, the way
// the wsflate documentation shows for wsutil: the upgrader negotiates with
// a wsflate.Extension (no context takeover either way), a
// wsflate.MessageState on the reader says whether a message is compressed,
// and each echo is compressed at level 1 through a wsflate.Writer into a
// wsutil.Writer that sets the compression bit. The flate reader and writer
// are made once per connection and reset for every message; a reused
// bufio.Reader in front of the message keeps compress/flate from making a
// buffer of its own each time.
func gobwasDeflateConn(conn net.Conn) {
	defer conn.Close()
	ext := wsflate.Extension{Parameters: wsflate.DefaultParameters}
	u := ws.Upgrader{Negotiate: ext.Negotiate}
	if _, err := u.Upgrade(conn); err != nil {
		return
	}
	if _, ok := ext.Accepted(); !ok {
		return // the benchmark always offers compression
	}
	const state = ws.StateServerSide | ws.StateExtended
	var recv, send wsflate.MessageState
	send.SetCompressed(true) // every echo is compressed
	rd := &wsutil.Reader{
		Source:         bufio.NewReaderSize(conn, 4096),
		State:          state,
		MaxMessageSize: MaxMessage,
		Extensions:     []wsutil.RecvExtension{&recv},
	}
	control := wsutil.ControlFrameHandler(conn, ws.StateServerSide)
	rd.OnIntermediate = control
	wr := wsutil.NewWriter(conn, state, 0)
	wr.SetExtensions(&send)
	fr := wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor {
		return &flateReader{flate.NewReader(r)}
	})
	fw := wsflate.NewWriter(nil, func(w io.Writer) wsflate.Compressor {
		f, _ := flate.NewWriter(w, flate.BestSpeed)
		return f
	})
	zsrc := bufio.NewReaderSize(nil, 4096)
	buf := make([]byte, 32<<10)
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return
		}
		if hdr.OpCode.IsControl() {
			if err := control(hdr, rd); err != nil {
				return
			}
			continue
		}
		src := io.Reader(rd)
		if recv.IsCompressed() {
			zsrc.Reset(rd)
			fr.Reset(zsrc)
			src = fr
		}
		wr.ResetOp(hdr.OpCode)
		fw.Reset(wr)
		if _, err := io.CopyBuffer(fw, src, buf); err != nil {
			return
		}
		if err := fw.Flush(); err != nil {
			return
		}
		if err := wr.Flush(); err != nil {
			return
		}
	}
}

// flateReader lets wsflate.Reader reset a compress/flate reader instead of
// making a new one, with its window, for every message.
type flateReader struct{ io.ReadCloser }

func (r *flateReader) Reset(src io.Reader) { _ = r.ReadCloser.(flate.Resetter).Reset(src, nil) }
