package servers

import (
	"errors"
	"log"
	"net"

	"github.com/wsd-go/wsd/eventloop"
)

func init() { Register("wsd-uring", startWsdUring) }

// startWsdUring serves wsd from its event-loop engine on io_uring
// (eventloop.Server.Engine "uring"), with the same handler; where io_uring
// is unavailable the engine logs that it uses epoll.
func startWsdUring(addr string, o Options) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	srv := &eventloop.Server{Handler: wsdEcho(o), Engine: "uring"}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, eventloop.ErrServerClosed) {
			log.Printf("wsd-uring: %v", err)
		}
	}()
	return ln.Addr().String(), func() { srv.Close() }, nil
}
