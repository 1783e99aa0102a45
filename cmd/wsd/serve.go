//go:build !js

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/eventloop"
)

const serveHelp = `usage: wsd serve [flags]

Serves WebSockets on every path:
  -exec 'CMD ARGS'  runs CMD for each connection: each message received is
                    a line on its stdin, each line of its stdout a message
                    (text, or binary when not UTF-8). When it exits the
                    connection closes; when the connection closes its stdin
                    does. Its environment has the request in CGI style, as
                    websocketd gives it: REMOTE_ADDR, PATH_INFO,
                    QUERY_STRING, HTTP_* headers and so on.
  otherwise         a broadcast room: each message goes to every other client.
With -static DIR, plain HTTP requests get the files of DIR, so a page and
its WebSocket share one address. Stops on SIGINT or SIGTERM, closing
connections with 1001.

Examples:
  # A counter for each connection.
  wsd serve -addr 127.0.0.1:8080 -exec 'sh -c "for i in 1 2 3; do echo $i; sleep 1; done"'
  # A chat room behind TLS, with its page.
  wsd serve -addr :8443 -cert cert.pem -key key.pem -static ./public

Flags:
`

func serveCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	execCmd := fs.String("exec", "", "program to run for each connection, with its arguments")
	static := fs.String("static", "", "directory of files to serve to plain HTTP requests")
	protocols := fs.String("protocols", "", "comma-separated subprotocols to accept")
	origins := fs.String("origin", "", "comma-separated host[:port] patterns of other origins whose pages may connect (* for any)")
	deflate := fs.Bool("deflate", true, "accept permessage-deflate offers (-deflate=false declines them)")
	engine := fs.String("engine", "goroutine", "transport: goroutine (net/http) or epoll (event loops; no TLS)")
	var tf tlsFlags
	tf.register(fs, true)
	rest, code := parseCommand(fs, args, serveHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wsd serve: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) > 0 {
		return usageErr("unexpected argument %q (quote -exec's command and its arguments together)", rest[0])
	}
	if *engine != "goroutine" && *engine != "epoll" {
		return usageErr("unknown engine %q: want goroutine or epoll", *engine)
	}
	tlsCfg, err := tf.serverConfig()
	if err != nil {
		return usageErr("%v", err)
	}
	if tlsCfg != nil && *engine == "epoll" {
		return usageErr("-engine epoll serves plain TCP only: drop -cert or use -engine goroutine")
	}
	var argv []string
	if *execCmd != "" {
		if argv, err = splitCommand(*execCmd); err != nil {
			return usageErr("-exec: %v", err)
		}
		if _, err := exec.LookPath(argv[0]); err != nil {
			return usageErr("-exec: %v", err)
		}
	}
	if *static != "" {
		if fi, err := os.Stat(*static); err != nil || !fi.IsDir() {
			return usageErr("-static %s: not a directory", *static)
		}
	}
	opts := echoOptions(*protocols, *deflate)
	opts.Compression.Threshold = 0
	opts.Group = &wsd.Group{}
	// A client that stops reading is dropped rather than stalling others.
	opts.WriteTimeout = 10 * time.Second
	if *origins != "" {
		opts.OriginPatterns = strings.Split(*origins, ",")
	}
	var ws http.Handler
	if argv != nil {
		ws = &execHandler{argv: argv, opts: opts, stderr: stderr}
	} else {
		ws = &room{opts: opts, conns: map[*wsd.Conn]bool{}}
	}
	handler := ws
	if *static != "" {
		files := http.FileServer(http.Dir(*static))
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				ws.ServeHTTP(w, r)
				return
			}
			files.ServeHTTP(w, r)
		})
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsd serve: %v\n", err)
		return exitError
	}
	scheme := "ws"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "wss"
	}
	var srv transport = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	if *engine == "epoll" {
		srv = &eventloop.Server{Handler: handler, MaxHeaderBytes: 16 << 10}
	}
	return serveUntilSignal("wsd serve", srv, ln, opts.Group, scheme, stdout, stderr)
}

// transport is what the server commands need of http.Server and
// eventloop.Server.
type transport interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// serveUntilSignal serves until SIGINT or SIGTERM, then closes every
// connection of group with 1001.
func serveUntilSignal(name string, srv transport, ln net.Listener, group *wsd.Group, scheme string, stdout, stderr io.Writer) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	select {
	case <-sig:
	case err := <-served:
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Over HTTP/2 a WebSocket holds its request's handler, which
	// srv.Shutdown waits for: close the WebSockets meanwhile.
	grp := make(chan error, 1)
	go func() { grp <- group.Shutdown(ctx) }()
	srv.Shutdown(ctx)
	<-grp
	srv.Close()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitError
	}
	return exitOK
}

// room sends each message to every other connection.
type room struct {
	opts  *wsd.Options
	mu    sync.Mutex
	conns map[*wsd.Conn]bool
}

func (rm *room) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := wsd.NewServer(w, r, rm.opts)
	if err != nil {
		return
	}
	ws.OnOpen(func() {
		rm.mu.Lock()
		rm.conns[ws] = true
		rm.mu.Unlock()
	})
	ws.OnMessage(func(m wsd.Message) {
		rm.mu.Lock()
		others := make([]*wsd.Conn, 0, len(rm.conns))
		for c := range rm.conns {
			if c != ws {
				others = append(others, c)
			}
		}
		rm.mu.Unlock()
		for _, c := range others {
			c.Send(m.Data, wsd.SendOptions{Type: m.Type})
		}
	})
	ws.OnClose(func(int, string) {
		rm.mu.Lock()
		delete(rm.conns, ws)
		rm.mu.Unlock()
	})
	ws.Start(r.Context())
}

// execHandler runs a program for each connection, websocketd's way.
type execHandler struct {
	argv   []string
	opts   *wsd.Options
	stderr io.Writer
	ids    atomic.Int64
}

func (h *execHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ws, err := wsd.NewServer(w, r, h.opts)
	if err != nil {
		return
	}
	cmd := exec.Command(h.argv[0], h.argv[1:]...)
	cmd.Env = append(os.Environ(), cgiEnv(r, h.ids.Add(1))...)
	cmd.Stderr = h.stderr
	stdin, err1 := cmd.StdinPipe()
	stdout, err2 := cmd.StdoutPipe()
	if err := errors.Join(err1, err2); err != nil || cmd.Start() != nil {
		http.Error(w, "cannot start the program", http.StatusInternalServerError)
		return
	}
	exited := make(chan struct{})
	ws.OnMessage(func(m wsd.Message) {
		// A blocked program holds back the connection: back-pressure.
		// m.Data is the connection's buffer: never append to it.
		line := make([]byte, len(m.Data)+1)
		copy(line, m.Data)
		line[len(m.Data)] = '\n'
		stdin.Write(line)
	})
	ws.OnClose(func(int, string) {
		stdin.Close()
		go stopProgram(cmd, exited)
	})
	if err := ws.Start(r.Context()); err != nil {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), wsd.DefaultMaxLength)
		for sc.Scan() {
			typ := wsd.TextMessage
			if !utf8.Valid(sc.Bytes()) {
				typ = wsd.BinaryMessage
			}
			if ws.Send(sc.Bytes(), wsd.SendOptions{Type: typ}) != nil {
				break
			}
		}
		io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		close(exited)
		if err != nil {
			ws.Close(wsd.CloseInternalError, "program failed")
			return
		}
		ws.Close(wsd.CloseNormal, "")
	}()
}

// stopProgram gives a program whose connection closed a second to exit
// on the end of its stdin, then terminates it, then kills it.
func stopProgram(cmd *exec.Cmd, exited <-chan struct{}) {
	for _, s := range []os.Signal{syscall.SIGTERM, os.Kill} {
		select {
		case <-exited:
			return
		case <-time.After(time.Second):
			cmd.Process.Signal(s)
		}
	}
}

// cgiEnv is the request in CGI variables, as websocketd sets them.
func cgiEnv(r *http.Request, id int64) []string {
	host, port, _ := net.SplitHostPort(r.RemoteAddr)
	serverName, serverPort, err := net.SplitHostPort(r.Host)
	if err != nil {
		serverName, serverPort = r.Host, "80"
		if r.TLS != nil {
			serverPort = "443"
		}
	}
	env := []string{
		"GATEWAY_INTERFACE=websocketd-CGI/0.1",
		"SERVER_SOFTWARE=wsd",
		"SERVER_PROTOCOL=" + r.Proto,
		"SERVER_NAME=" + serverName,
		"SERVER_PORT=" + serverPort,
		"REQUEST_METHOD=" + r.Method,
		"REQUEST_URI=" + r.URL.RequestURI(),
		"SCRIPT_NAME=",
		"PATH_INFO=" + r.URL.Path,
		"QUERY_STRING=" + r.URL.RawQuery,
		"REMOTE_ADDR=" + host,
		"REMOTE_HOST=" + host,
		"REMOTE_PORT=" + port,
		"UNIQUE_ID=" + strconv.FormatInt(id, 10),
	}
	if r.TLS != nil {
		env = append(env, "HTTPS=on")
	}
	for k, v := range r.Header {
		name := "HTTP_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		env = append(env, name+"="+strings.Join(v, ", "))
	}
	return env
}

// splitCommand splits a command line into words at spaces, keeping what
// single or double quotes enclose together, as a shell would.
func splitCommand(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, word.String())
	}
	if len(words) == 0 {
		return nil, errors.New("no command")
	}
	return words, nil
}
