package servers

import (
	"errors"
	"log"
	"net"

	"github.com/wsd-go/wsd/eventloop"
)

func init() { Register("wsd-epoll", startWsdEpoll) }

// startWsdEpoll serves wsd from its event-loop engine (package eventloop),
// with the same handler as the goroutine transport.
func startWsdEpoll(addr string, o Options) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &eventloop.Server{Handler: wsdEcho(o)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, eventloop.ErrServerClosed) {
			log.Printf("wsd-epoll: %v", err)
		}
	}()
	return ln.Addr().String(), func() { srv.Close() }, nil
}
