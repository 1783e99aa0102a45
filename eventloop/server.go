// Package eventloop is a transport for wsd servers that runs connections
// from a few epoll event loops instead of a goroutine each, so that one
// process can hold a great many mostly idle WebSocket connections cheaply.
//
// The handler is an ordinary http.Handler that calls wsd.NewServer and
// Start exactly as it would under net/http, so the same code serves both
// transports:
//
//	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		ws, err := wsd.NewServer(w, r, nil)
//		if err != nil {
//			return // a bad handshake was answered with 400, 405 or 426
//		}
//		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
//		ws.Start(r.Context())
//	})
//	log.Fatal(eventloop.ListenAndServe("127.0.0.1:9001", h))
//
// On Linux the engine accepts connections itself, reads the HTTP/1.1
// upgrade request incrementally, runs the handler on a bounded pool of
// worker goroutines, and from then on feeds the bytes it reads to the
// connection's protocol core on the pool, one batch at a time per
// connection and in order. An idle connection holds no buffer at all. On
// other systems Server falls back to net/http and the goroutine transport,
// with the same API (there Loops, Workers, WriteTimeout, MaxPendingBytes
// and MaxQueuedBytes do not apply, and Close leaves WebSocket connections
// open, as http.Server.Close leaves hijacked ones).
//
// Differences from net/http, all by design: a connection carries one
// request (ordinary HTTP answers close it, with Content-Length); an
// ordinary answer is buffered and sent when the handler returns; request
// bodies are read only when they have a Content-Length of at most 64 KiB;
// events of a WebSocket connection start once its handler has returned, so
// the handler must return after Start rather than wait for the connection
// to end; and TLS is not supported (see ErrTLS).
package eventloop

import (
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or Close. It is http.ErrServerClosed, so callers can test for either.
var ErrServerClosed = http.ErrServerClosed

// ErrTLS is returned when a Server is asked to serve TLS.
var ErrTLS = errors.New("eventloop: TLS is not supported by the event-loop engine, which reads and writes raw sockets; " +
	"serve wss:// with net/http (http.Server.ListenAndServeTLS with a handler calling wsd.NewServer, the goroutine transport), " +
	"or terminate TLS in a proxy in front of the engine")

// Defaults for the zero fields of Server.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultMaxHeaderBytes    = 8 << 10
	DefaultWriteTimeout      = 30 * time.Second
	DefaultMaxPendingBytes   = 256 << 10
	DefaultMaxQueuedBytes    = 64 << 10
)

// maxBodyBytes bounds the request body the engine reads for a handler.
const maxBodyBytes = 64 << 10

// Server serves HTTP/1.1 upgrade requests from event loops. Set its fields
// before calling Serve; the zero value of each field is a sensible default.
type Server struct {
	// Handler answers requests; nil means http.DefaultServeMux.
	Handler http.Handler

	// Loops is the number of event loops; zero means GOMAXPROCS.
	Loops int

	// Workers bounds the goroutines that run handlers and connection
	// events; zero means 64 per event loop. A slow handler holds one
	// worker; other connections go on on the others.
	Workers int

	// ReadHeaderTimeout bounds the time from accepting a connection to
	// having read its whole request; a slower client is disconnected.
	// Zero means DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration

	// MaxHeaderBytes bounds the request line and headers; a larger request
	// is answered with 431. Zero means DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// WriteTimeout bounds how long a write waits for a peer that does not
	// read; the write then fails and the connection is dropped. Zero means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration

	// MaxPendingBytes bounds the bytes read from one connection and not
	// yet handled; past it the engine stops reading that connection until
	// its events have caught up. Zero means DefaultMaxPendingBytes.
	MaxPendingBytes int

	// MaxQueuedBytes bounds the bytes queued for one connection whose
	// socket is full; a write that would queue more waits. Zero means
	// DefaultMaxQueuedBytes.
	MaxQueuedBytes int

	// TLSConfig must be nil: setting it makes Serve return ErrTLS.
	TLSConfig *tls.Config

	// ErrorLog receives errors from accepting and from handlers; nil
	// means the log package's standard logger.
	ErrorLog *log.Logger

	// Engine chooses how the loops wait and read, on Linux: "" or
	// "epoll", or "uring" for io_uring (receives of many connections
	// completed together, into buffers shared by the loop). Where
	// io_uring is missing or refused, Serve says so in ErrorLog and uses
	// epoll. Elsewhere it does not apply.
	Engine string

	mu       sync.Mutex
	eng      *engine
	shutdown bool // Shutdown or Close was called
}

// ListenAndServe listens on the TCP address addr and serves handler from
// event loops. It always returns a non-nil error.
func ListenAndServe(addr string, handler http.Handler) error {
	s := &Server{Handler: handler}
	return s.ListenAndServe(addr)
}

// ListenAndServe listens on the TCP address addr and calls Serve. It
// always returns a non-nil error.
func (s *Server) ListenAndServe(addr string) error {
	if err := s.check(nil); err != nil {
		return err
	}
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// ListenAndServeTLS exists so that code written for http.Server fails
// clearly: it returns ErrTLS.
func (s *Server) ListenAndServeTLS(addr, certFile, keyFile string) error { return ErrTLS }

// ServeTLS returns ErrTLS, and closes ln as Serve would.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	ln.Close()
	return ErrTLS
}

// check refuses what the engine cannot serve.
func (s *Server) check(ln net.Listener) error {
	if s.TLSConfig != nil {
		return ErrTLS
	}
	if ln != nil && reflect.TypeOf(ln).String() == "*tls.listener" {
		return ErrTLS
	}
	return nil
}

func (s *Server) handler() http.Handler {
	if s.Handler != nil {
		return s.Handler
	}
	return http.DefaultServeMux
}

func (s *Server) loops() int {
	if s.Loops > 0 {
		return s.Loops
	}
	return runtime.GOMAXPROCS(0)
}

func (s *Server) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return 64 * s.loops()
}

func (s *Server) readHeaderTimeout() time.Duration {
	return orDefault(s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
}

func (s *Server) maxHeaderBytes() int { return orDefault(s.MaxHeaderBytes, DefaultMaxHeaderBytes) }

func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, DefaultWriteTimeout) }

func (s *Server) maxPending() int { return orDefault(s.MaxPendingBytes, DefaultMaxPendingBytes) }

func (s *Server) maxQueued() int { return orDefault(s.MaxQueuedBytes, DefaultMaxQueuedBytes) }

func orDefault[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}
