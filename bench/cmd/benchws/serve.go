package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsd-go/wsd/bench/servers"
)

// serveMain runs one echo server until it is interrupted, terminated or,
// with -watch-stdin, until its standard input closes. Its first line of
// output is "listening on ws://ADDR/".
func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	impl := fs.String("impl", "", "server to run (see \"benchws list\")")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	watch := fs.Bool("watch-stdin", false, "exit when standard input closes (run uses this so that no server outlives it)")
	deflate := fs.Bool("deflate", false, "enable permessage-deflate and compress every message")
	_ = fs.Parse(args)

	start, ok := servers.Get(*impl)
	if !ok {
		return fmt.Errorf("unknown server %q; known: %v", *impl, servers.Names())
	}
	bound, stop, err := start(*addr, servers.Options{Deflate: *deflate})
	if err != nil {
		return fmt.Errorf("starting %s: %w", *impl, err)
	}
	fmt.Printf("listening on ws://%s/\n", bound)

	done := make(chan os.Signal, 1)
	signal.Notify(done, syscall.SIGINT, syscall.SIGTERM)
	if *watch {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			done <- syscall.SIGTERM
		}()
	}
	<-done
	stop()
	return nil
}
