//go:build !js

package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

const usage = `wsd is a WebSocket client, server and load generator.

usage:
  wsd client [flags] URL      talk to a WebSocket server, by hand or from a script
  wsd serve [flags]           serve WebSockets: a program per connection (-exec),
                              files (-static), or a broadcast room by default
  wsd bench [flags] URL       load-test a WebSocket echo server
  wsd echo [flags]            an echo server, for trying clients
  wsd hub [flags]             a pub/sub node: a WebSocket to /NAME joins channel NAME
  wsd help [COMMAND]          help on a command, or on exit-codes

Examples:
  wsd client ws://127.0.0.1:9001/
  wsd client -send '{"op":"ping"}' -count 1 -timeout 5s wss://example.com/feed
  wsd serve -addr 127.0.0.1:8080 -exec './count.sh' -static ./public
  wsd bench -conns 64 -duration 10s ws://127.0.0.1:9001/

Run 'wsd help COMMAND' for a command's flags.
`

const clientHelp = `usage: wsd client [flags] URL

Connects to URL (ws:// or wss://). On a terminal it is interactive: each
line typed is sent, each message received printed after "< ". Otherwise it
sends stdin's lines, one message each, and closes at the end of stdin.
With -send it sends those messages instead and closes, unless -count or
-until says when to stop. Flags may come before or after the URL.

Examples:
  # Talk to a server by hand.
  wsd client ws://127.0.0.1:9001/
  # A check for CI: send a request, wait for the answer, fail after 5s.
  wsd client -send '{"op":"ping"}' -until '"pong"' -timeout 5s ws://127.0.0.1:9001/
  # Send a file as one binary message, then stdin's lines.
  wsd client -binary -send @frame.bin -send - ws://127.0.0.1:9001/
  # Record a feed as NDJSON: 100 messages, pinging every 10s.
  wsd client -output ndjson -count 100 -ping 10s wss://example.com/feed > feed.ndjson

The exit status tells how it went: see 'wsd help exit-codes'.

Flags:
`

const echoHelp = `usage: wsd echo [flags]

An echo server on any path: every message comes back with its type. Stops
on SIGINT or SIGTERM, closing connections with 1001. It accepts
permessage-deflate and compresses its echoes unless -deflate=false.

Examples:
  wsd echo -addr 127.0.0.1:9001 -engine epoll
  wsd echo -tls-self-signed      # wss://, WebSockets over HTTP/2 too

With -tls-cert and -tls-key, or -tls-self-signed, it serves wss:// and
offers HTTP/2, over which browsers open WebSockets as streams of one
connection (RFC 8441).

Flags:
`

const topicsHelp = `help topics: client, serve, bench, echo, hub, exit-codes
`

// commandUsage prints a command's help and its flags.
func commandUsage(w io.Writer, fs *flag.FlagSet, help string) {
	fmt.Fprint(w, help)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// helpCmd prints the help on a command or topic.
func helpCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	switch strings.TrimPrefix(args[0], "-") {
	case "exit-codes", "exit-code", "exit":
		fmt.Fprint(stdout, exitCodesHelp)
		return exitOK
	case "client", "echo", "serve", "bench", "hub":
		// Each command prints its help, with its flags, to stdout.
		return run([]string{args[0], "-h"}, nil, stdout, stdout)
	}
	fmt.Fprintf(stderr, "wsd help: no help on %q\n%s", args[0], topicsHelp)
	return exitUsage
}
