// Command wsd-hub is `wsd hub` with the NATS and Redis broker adapters: a
// pub/sub node that shares its channels with every node on the same
// broker. It is a module of its own so that the wsd library and its wsd
// command keep no third-party dependency.
//
//	wsd-hub [-addr 127.0.0.1:9002] [-broker nats://HOST:PORT | redis://HOST:PORT] [-origin PATTERNS] [-engine goroutine|epoll]
//
// A WebSocket connection to ws://ADDR/NAME joins the channel NAME; each
// text or binary message it sends reaches every member of NAME on every
// node, the sender included, in the order it was sent.
package main

import (
	"io"
	"os"

	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/natsbroker"
	"github.com/wsd-go/wsd/hub/redisbroker"
	"github.com/wsd-go/wsd/internal/hubcmd"
)

var dialers = map[string]hubcmd.Dialer{
	"nats":  func(url string) (hub.Broker, error) { return natsbroker.Dial(url) },
	"redis": func(url string) (hub.Broker, error) { return redisbroker.Dial(url) },
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	// "wsd-hub hub ..." reads as "wsd hub ...".
	if len(args) > 0 && args[0] == "hub" {
		args = args[1:]
	}
	return hubcmd.Run("wsd hub", args, stdout, stderr, dialers)
}
