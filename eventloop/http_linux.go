//go:build linux

package eventloop

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/wsd-go/wsd/internal/transport"
)

// parse looks for the end of the request in c.in; once the request is
// whole it is parsed and its handler queued. It runs on the loop.
func (c *conn) parse() {
	e := c.l.e
	end := headerEnd(c.in, int(c.scanned))
	if end < 0 {
		if len(c.in) > e.maxHeader {
			c.reject(http.StatusRequestHeaderFieldsTooLarge, "")
			return
		}
		c.scanned = int32(max(0, len(c.in)-3))
		return
	}
	if end > e.maxHeader {
		c.reject(http.StatusRequestHeaderFieldsTooLarge, "")
		return
	}
	req, err := parseRequest(c.in[:end], e.maxHeader)
	if err != nil {
		c.reject(http.StatusBadRequest, "")
		return
	}
	hosts := req.Header["Host"]
	switch {
	case len(hosts) > 1:
		c.reject(http.StatusBadRequest, "too many Host headers")
		return
	case req.ProtoAtLeast(1, 1) && len(hosts) == 0 && req.Host == "":
		c.reject(http.StatusBadRequest, "missing required Host header")
		return
	case len(req.TransferEncoding) > 0:
		c.reject(http.StatusLengthRequired, "request bodies need a Content-Length")
		return
	case req.ContentLength > maxBodyBytes:
		c.reject(http.StatusRequestEntityTooLarge, "")
		return
	}
	delete(req.Header, "Host")
	total := end + int(req.ContentLength)
	if len(c.in) < total {
		return // the body is still coming
	}
	if req.ContentLength > 0 {
		body := bytes.Clone(c.in[end:total])
		req.Body = readCloser{bytes.NewReader(body)}
	}
	if c.peer.IsValid() {
		req.RemoteAddr = c.peer.String()
	} else {
		req.RemoteAddr = "@"
	}
	// Bytes after the request go to the connection once it is attached.
	var rest []byte
	if len(c.in) > total {
		rest = appendBuf(nil, c.in[total:])
	}
	putBuf(c.in)
	c.in, c.scanned = rest, 0
	c.req = req
	c.state = stHandler
	c.schedule()
}

// requestReaders hold a bufio.Reader over a bytes.Reader, reused from one
// request to the next, as a pair made for each request would be garbage
// the size of the request and more.
var requestReaders sync.Pool

type requestReader struct {
	src bytes.Reader
	br  *bufio.Reader
}

// readRequest parses the request line and headers in b, whose lines are
// at most maxLine bytes long.
func readRequest(b []byte, maxLine int) (*http.Request, error) {
	rr, _ := requestReaders.Get().(*requestReader)
	if rr == nil || rr.br.Size() < maxLine {
		rr = &requestReader{}
		rr.br = bufio.NewReaderSize(&rr.src, maxLine)
	}
	rr.src.Reset(b)
	rr.br.Reset(&rr.src)
	req, err := http.ReadRequest(rr.br)
	rr.src.Reset(nil)
	rr.br.Reset(&rr.src)
	requestReaders.Put(rr)
	return req, err
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// headerEnd returns the length of the request line and headers at the
// start of b, up to and including the empty line, or -1 if b does not hold
// them all yet. Lines may end in CRLF or LF alone. The search starts at
// from, where an earlier call left off.
func headerEnd(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		case i+1 >= len(b):
			return -1
		}
	}
}

// reject answers a request that never reaches a handler, and ends the
// connection.
func (c *conn) reject(status int, reason string) {
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	body := text
	if reason != "" {
		body += ": " + reason
	}
	b := make([]byte, 0, 192+len(body))
	b = append(b, "HTTP/1.1 "...)
	b = append(b, text...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.writeLocked(b)
	c.linger()
}

// serve runs the handler on a worker. If it attached a WebSocket
// connection, the connection opens; otherwise its answer is sent.
func (c *conn) serve(req *http.Request) {
	e := c.l.e
	req, cancel := withContext(e.ctx, req)
	w := &responseWriter{c: c, req: req}
	func() {
		defer func() {
			if v := recover(); v != nil {
				w.panicked = true
				if v != http.ErrAbortHandler {
					buf := make([]byte, 64<<10)
					buf = buf[:runtime.Stack(buf, false)]
					e.s.logf("eventloop: panic serving %v: %v\n%s", req.RemoteAddr, v, buf)
				}
			}
		}()
		e.handler.ServeHTTP(w, req)
	}()
	cancel()
	if w.attached {
		c.mu.Lock()
		c.doneHTTP()
		c.mu.Unlock()
		c.wc.Opened()
		return
	}
	var resp []byte
	if !w.panicked {
		resp = w.response()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.panicked {
		c.abort()
		return
	}
	if c.flags&fClosed == 0 {
		c.writeLocked(resp)
	}
	c.linger()
}

// responseWriter is the http.ResponseWriter of the engine. An ordinary
// answer is buffered and sent when the handler returns, with a
// Content-Length, and the connection is then closed. It also implements
// the seam that lets a wsd connection attach to the engine.
type responseWriter struct {
	c           *conn
	req         *http.Request
	h           http.Header
	status      int
	body        []byte
	wroteHeader bool
	attached    bool
	panicked    bool
}

var _ transport.Attacher = (*responseWriter)(nil)

func (w *responseWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}

func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.attached || w.wroteHeader || code < 200 {
		return // informational answers are not sent
	}
	w.wroteHeader = true
	w.status = code
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.attached {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

var errAnswered = errors.New("eventloop: cannot attach: an HTTP answer was started")

// Attach writes the handshake response and attaches tc to the connection.
func (w *responseWriter) Attach(tc transport.Conn, response []byte) (net.Conn, error) {
	if w.attached || w.wroteHeader {
		return nil, errAnswered
	}
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.writeLocked(response); err != nil {
		return nil, err
	}
	c.wc = tc
	c.state = stWS
	w.attached = true
	return c, nil
}

// response formats the buffered answer.
func (w *responseWriter) response() []byte {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	h := w.h
	if h == nil {
		h = http.Header{}
	}
	hasBody := bodyAllowed(status)
	if hasBody {
		if _, ok := h["Content-Type"]; !ok && len(w.body) > 0 {
			h.Set("Content-Type", http.DetectContentType(w.body))
		}
		if w.req.Method != http.MethodHead || len(w.body) > 0 || h.Get("Content-Length") == "" {
			h.Set("Content-Length", strconv.Itoa(len(w.body)))
		}
	} else {
		h.Del("Content-Length")
		h.Del("Transfer-Encoding")
	}
	h.Del("Transfer-Encoding")
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	h.Set("Connection", "close")
	text := http.StatusText(status)
	if text == "" {
		text = "status code " + strconv.Itoa(status)
	}
	var b bytes.Buffer
	b.Grow(256 + len(w.body))
	fmt.Fprintf(&b, "HTTP/1.1 %03d %s\r\n", status, text)
	h.Write(&b)
	b.WriteString("\r\n")
	if hasBody && w.req.Method != http.MethodHead {
		b.Write(w.body)
	}
	return b.Bytes()
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
