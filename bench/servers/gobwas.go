package servers

import (
	"bufio"
	"io"
	"net"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func init() { Register("gobwas", startGobwas) }

// startGobwas serves github.com/gobwas/ws with its low-level API: a raw
// listener, the zero-copy ws.Upgrade on the accepted connection, and one
// goroutine per connection that reads frames with wsutil.Reader, answers
// control frames with wsutil's control handler, and writes each echo as one
// frame in a single write.
func startGobwas(addr string) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go gobwasConn(conn)
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
