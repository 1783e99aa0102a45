// Command peers serves the echo of elbench with other Go WebSocket
// libraries, for comparison: "peers nbio" or "peers gws". It is a module
// of its own so that wsd itself depends on nothing outside the standard
// library. It prints the address it listens on, and exits when its
// standard input closes.
package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"
)

type gwsHandler struct{ gws.BuiltinEventHandler }

func (gwsHandler) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	c.WriteMessage(m.Opcode, m.Bytes())
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: peers nbio|gws")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "nbio":
		ln.Close()
		up := websocket.NewUpgrader()
		up.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) { c.WriteMessage(mt, data) })
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { up.Upgrade(w, r, nil) })
		// nbio's event-loop mode, with its defaults otherwise.
		e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{addr}, Handler: mux, ReleaseWebsocketPayload: true})
		if err := e.Start(); err != nil {
			panic(err)
		}
	case "gws":
		// gws runs a goroutine per connection, like net/http.
		go gws.NewServer(gwsHandler{}, &gws.ServerOption{}).RunListener(ln)
	default:
		fmt.Fprintf(os.Stderr, "peers: unknown server %q\n", os.Args[1])
		os.Exit(2)
	}
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("listening on ws://%s\n", addr)
	bufio.NewReader(os.Stdin).ReadString(0) // until stdin closes
}
