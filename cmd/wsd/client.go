//go:build !js

package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
)

type headerFlag http.Header

func (h headerFlag) String() string { return "" }

func (h headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q is not of the form 'Name: value'", s)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

func clientCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	echo := fs.Bool("echo", false, "send every received message back, with its type")
	protocol := fs.String("protocol", "", "subprotocol to offer (comma-separated for several)")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for connecting")
	deflate := fs.Bool("deflate", false, "offer permessage-deflate, and compress every message sent when the server agrees")
	header := headerFlag{}
	fs.Var(header, "H", "extra handshake header 'Name: value' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "wsd client: want exactly one URL")
		return 2
	}
	opts := &wsd.Options{AdditionalHeaders: http.Header(header)}
	if *deflate {
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	}
	if *protocol != "" {
		opts.AcceptProtocols = strings.Split(*protocol, ",")
	}
	c, err := wsd.NewClient(fs.Arg(0), opts)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	var out sync.Mutex // one printer at a time: messages and stdin errors
	printf := func(w io.Writer, format string, args ...any) {
		out.Lock()
		fmt.Fprintf(w, format, args...)
		out.Unlock()
	}
	var closeCode int
	var closeReason string
	var protoErr error
	if *echo {
		c.OnMessage(func(m wsd.Message) { c.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
	} else {
		c.OnMessage(func(m wsd.Message) {
			if m.Type == wsd.TextMessage {
				printf(stdout, "< %s\n", m.Data)
			} else {
				printf(stdout, "< binary %d bytes: %s\n", len(m.Data), hex.EncodeToString(m.Data[:min(len(m.Data), 64)]))
			}
		})
	}
	c.OnError(func(err error) { protoErr = err })
	c.OnClose(func(code int, reason string) { closeCode, closeReason = code, reason })

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	err = c.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if p, e := c.Protocol(), c.Extensions(); p != "" || e != "" {
		msg := "connected"
		if p != "" {
			msg += fmt.Sprintf(", protocol %q", p)
		}
		if e != "" {
			msg += fmt.Sprintf(", extensions %q", e)
		}
		printf(stderr, "%s\n", msg)
	} else if !*echo {
		printf(stderr, "connected\n")
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	if !*echo {
		go func() {
			sc := bufio.NewScanner(stdin)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			for sc.Scan() {
				if err := c.SendText(sc.Text()); err != nil {
					return
				}
			}
			c.Close(1000, "")
		}()
	}
	select {
	case <-c.Done():
	case <-sig:
		c.Close(1000, "")
		<-c.Done()
	}
	// Done is closed after the close handler ran, so its results are visible.
	if protoErr != nil {
		fmt.Fprintln(stderr, protoErr)
		return 1
	}
	printf(stderr, "closed: %d %s\n", closeCode, closeReason)
	if closeCode != 1000 && closeCode != 1001 {
		return 1
	}
	return 0
}
