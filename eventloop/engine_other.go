//go:build !linux

package eventloop

import (
	"context"
	"net"
	"net/http"
)

// engine is, outside Linux, a net/http server: each connection gets a
// goroutine, and wsd connections use the goroutine transport.
type engine struct {
	hs *http.Server
}

// Serve accepts connections on ln and serves them until Shutdown or Close;
// it then returns ErrServerClosed. Outside Linux it runs on net/http.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.check(ln); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.eng == nil {
		s.eng = &engine{hs: &http.Server{
			Handler:           s.handler(),
			ReadHeaderTimeout: s.readHeaderTimeout(),
			MaxHeaderBytes:    s.maxHeaderBytes(),
			ErrorLog:          s.ErrorLog,
		}}
	}
	hs := s.eng.hs
	s.mu.Unlock()
	return hs.Serve(ln)
}

// Shutdown stops the server gracefully, as http.Server.Shutdown does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	e := s.eng
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	return e.hs.Shutdown(ctx)
}

// Close stops the server at once, as http.Server.Close does.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	e := s.eng
	s.mu.Unlock()
	if e == nil {
		return nil
	}
	return e.hs.Close()
}

// UringAvailable reports whether Engine "uring" would run on io_uring
// here: never outside Linux.
func UringAvailable() bool { return false }
