//go:build !js

// Package hubcmd is the pub/sub node of `wsd hub`: a WebSocket connection
// to /NAME joins the channel NAME, and every message it sends is published
// there. The wsd command runs it as a single node; builds that link broker
// adapters pass them in, keeping the library module free of their
// dependencies.
package hubcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
	"github.com/wsd-go/wsd/hub"
)

// Dialer connects to a broker given its URL.
type Dialer func(url string) (hub.Broker, error)

// Usage is the command's line in a usage message.
const Usage = `[-addr 127.0.0.1:9002] [-broker nats://HOST:PORT | redis://HOST:PORT] [-origin PATTERNS] [-engine goroutine|epoll]`

const about = `A pub/sub node: a WebSocket connection to ws://ADDR/NAME joins the
channel NAME; each text or binary message it sends goes, with its type,
to every member of NAME on every node sharing the broker, the sender
included, in the order it was sent. Without -broker it is a single node.
A member that falls 1 MiB behind is closed with 1008. Losses are printed
on stderr. Stops on SIGINT or SIGTERM.
`

// Run runs the node until SIGINT or SIGTERM, with dialers by URL scheme,
// and returns the exit status. name is the command, for messages.
func Run(name string, args []string, stdout, stderr io.Writer, dialers map[string]Dialer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9002", "address to listen on")
	brokerURL := fs.String("broker", "", "broker shared with the other nodes: nats://HOST:PORT or redis://HOST:PORT (none: a single node)")
	origins := fs.String("origin", "", "comma-separated host[:port] patterns of other origins whose pages may connect (* for any)")
	engine := fs.String("engine", "goroutine", "transport: goroutine (net/http) or epoll (event loops)")
	queue := fs.Int("queue", hub.DefaultMaxQueueBytes, "bytes queued for a member before it is closed with 1008")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s\n\n%s\nFlags:\n", name, Usage, about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	if *engine != "goroutine" && *engine != "epoll" {
		fmt.Fprintf(stderr, "%s: unknown engine %q: want goroutine or epoll\n", name, *engine)
		return 2
	}
	opts := hub.Options{
		MaxQueueBytes: *queue,
		OnLoss:        func(l hub.Loss) { fmt.Fprintf(stderr, "%s: %v\n", name, l) },
	}
	if *brokerURL != "" {
		b, err := dial(*brokerURL, dialers)
		if err != nil {
			fmt.Fprintf(stderr, "%s: broker: %v\n", name, err)
			return 1
		}
		opts.Broker = b
	}
	h, err := hub.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "%s: broker: %v\n", name, err)
		return 1
	}
	defer h.Close()
	wopts := &wsd.Options{Group: &wsd.Group{}}
	if *origins != "" {
		wopts.OriginPatterns = strings.Split(*origins, ",")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	handler := Handler(h, wopts)
	var srv interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
		Close() error
	} = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	if *engine == "epoll" {
		srv = &eventloop.Server{Handler: handler, MaxHeaderBytes: 16 << 10}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on ws://%s\n", ln.Addr())
	if *brokerURL != "" {
		fmt.Fprintf(stdout, "broker %s\n", *brokerURL)
	}
	select {
	case <-sig:
	case err := <-served:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	wopts.Group.Shutdown(ctx)
	srv.Close()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

func dial(raw string, dialers map[string]Dialer) (hub.Broker, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a broker URL: want nats://HOST:PORT or redis://HOST:PORT", raw)
	}
	d := dialers[u.Scheme]
	if d == nil {
		if len(dialers) == 0 {
			return nil, fmt.Errorf("this build has no broker adapters; the wsd-hub command has NATS and Redis (go run github.com/wsd-go/wsd/cmd/wsd-hub@latest -broker %s)", raw)
		}
		var schemes []string
		for s := range dialers {
			schemes = append(schemes, s+"://")
		}
		sort.Strings(schemes)
		return nil, fmt.Errorf("unknown broker %q: want %s", u.Scheme, strings.Join(schemes, " or "))
	}
	return d(raw)
}

// Handler serves the node: a WebSocket request for /NAME joins the
// channel NAME, and the connection's messages are published there, with
// their type, in the order it sends them.
func Handler(h *hub.Hub, opts *wsd.Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			http.Error(w, "connect to /CHANNEL", http.StatusNotFound)
			return
		}
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnOpen(func() {
			if err := h.Join(ws, name); err != nil {
				ws.Close(wsd.CloseInternalError, "cannot join")
			}
		})
		ws.OnMessage(func(m wsd.Message) { h.Publish(name, m.Type, m.Data) })
		ws.Start(r.Context())
	})
}
