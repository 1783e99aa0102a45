//go:build !js

// Command wsd is an echo server and a client for WebSockets, built on the
// wsd library, to try it in one command and check it against other
// implementations.
//
//	wsd echo [-addr 127.0.0.1:9001] [-protocols chat,superchat] [-origin PATTERNS] [-deflate=false] [-engine goroutine|epoll]
//	wsd client [-echo] [-deflate] [-protocol NAME] [-H 'Header: value'] URL
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  wsd echo [-addr 127.0.0.1:9001] [-protocols chat,...] [-origin PATTERNS] [-deflate=false]
           [-engine goroutine|epoll]
      a WebSocket echo server on any path; stops on SIGINT or SIGTERM;
      accepts permessage-deflate and compresses its echoes unless
      -deflate=false; -engine epoll serves from event loops instead of
      net/http
  wsd client [-echo] [-deflate] [-protocol NAME] [-H 'Header: value'] URL
      an interactive client: stdin lines are sent as text, messages are
      printed; with -echo it sends every message back instead; -deflate
      offers permessage-deflate
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "echo":
		return echoCmd(args[1:], stdout, stderr)
	case "client":
		return clientCmd(args[1:], stdin, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wsd: unknown command %q\n%s", args[0], usage)
	return 2
}
