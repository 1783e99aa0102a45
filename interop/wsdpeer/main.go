//go:build !js

// Command wsdpeer is the wsd side of the interop suite: a server with a
// behavior for each path, and a client that runs one check against another
// implementation's server.
//
//	wsdpeer server [-addr 127.0.0.1:0] [-protocols chat,superchat]
//	wsdpeer client [-timeout 30s] CASE URL
//
// The server prints "listening on ws://ADDR". Its paths:
//
//	/stats?id=ID          plain HTTP: open connections, goroutines, and the
//	                      close code and reason seen on connection ID, with
//	                      what a send after its close returned
//	/close?code=C&reason=R  closes with C and R as soon as it opens
//	/ping                 pings with "wsd-ping", then sends the text
//	                      "pong:wsd-ping" when the pong arrives, and echoes
//	/limit?max=N          echoes, accepting messages of at most N bytes
//	anything else         echoes every message with its type
//
// Any WebSocket path takes ?id=ID to have its close recorded for /stats.
//
// The client prints "ok" and exits 0 when the check passes; otherwise it
// prints "fail: REASON" and exits 1. Run it without arguments for the list
// of cases.
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  wsdpeer server [-addr 127.0.0.1:0] [-protocols chat,superchat]
  wsdpeer client [-timeout 30s] CASE URL
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		fmt.Fprintf(os.Stderr, "cases: %s\n", caseNames())
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		os.Exit(serverCmd(os.Args[2:]))
	case "client":
		os.Exit(clientCmd(os.Args[2:]))
	}
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
