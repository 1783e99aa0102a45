//go:build !js

// Command wsd is a WebSocket client, server and load generator built on
// the wsd library.
//
//	wsd client [flags] URL   talk to a server by hand, or script a check
//	wsd serve [flags]        serve a program per connection, files, or a broadcast room
//	wsd bench [flags] URL    load-test an echo server
//	wsd echo [flags]         an echo server
//	wsd hub [flags]          a pub/sub node: channels, one per path
//
// 'wsd help COMMAND' describes each command's flags; 'wsd help exit-codes'
// the exit statuses.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var code int
	switch args[0] {
	case "echo":
		code = echoCmd(args[1:], stdout, stderr)
	case "serve":
		code = serveCmd(args[1:], stdout, stderr)
	case "bench":
		code = benchCmd(args[1:], stdout, stderr)
	case "client":
		code = clientCmd(args[1:], stdin, stdout, stderr)
	case "hub":
		code = hubCmd(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		return helpCmd(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "wsd: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return code
}
