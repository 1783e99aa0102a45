//go:build !js

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/internal/proto"
)

// clientFlags are the flags of wsd client.
type clientFlags struct {
	sends      listFlag
	stdinWhole bool
	count      int
	until      string
	timeout    time.Duration
	binary     bool
	output     string
	pretty     bool
	verbose    bool
	ping       time.Duration
	closeCode  int
	proxy      string
	echo       bool
	protocol   string
	deflate    bool
	http2      bool
	header     headerFlag
	tls        tlsFlags
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.sends, "send", "message to send (repeatable, in order): text, @FILE for a file's contents, - for stdin's lines")
	fs.BoolVar(&f.stdinWhole, "stdin-whole", false, "stdin is one message, not one message a line")
	fs.IntVar(&f.count, "count", 0, "close and exit after receiving this many messages")
	fs.StringVar(&f.until, "until", "", "close and exit after receiving a message that matches this regular expression")
	fs.DurationVar(&f.timeout, "timeout", 0, "time limit for the whole run, connecting included (0: none)")
	fs.BoolVar(&f.binary, "binary", false, "send binary messages instead of text")
	fs.StringVar(&f.output, "output", "text", "format of what is printed: text, ndjson or raw")
	fs.BoolVar(&f.pretty, "pretty", false, "indent JSON text messages (text output)")
	fs.BoolVar(&f.verbose, "v", false, "print the handshake headers, control frames and ping round trips on stderr")
	fs.DurationVar(&f.ping, "ping", 0, "send a ping at this interval (round trips are printed with -v)")
	fs.IntVar(&f.closeCode, "close-code", 1000, "close code to send when closing")
	fs.StringVar(&f.proxy, "proxy", "", "proxy URL: http:// or https:// (CONNECT), socks5:// (default: HTTPS_PROXY, HTTP_PROXY and NO_PROXY)")
	fs.BoolVar(&f.echo, "echo", false, "send every received message back, with its type, instead of reading stdin")
	fs.StringVar(&f.protocol, "protocol", "", "subprotocol to offer (comma-separated for several)")
	fs.BoolVar(&f.deflate, "deflate", false, "offer permessage-deflate, and compress every message sent when agreed")
	fs.BoolVar(&f.http2, "http2", false, "open the WebSocket over HTTP/2 (RFC 8441; wss:// only), failing if the server does not offer it")
	f.header = headerFlag{}
	fs.Var(f.header, "H", "extra handshake header 'Name: value' (repeatable)")
	f.tls.register(fs, false)
}

// outgoing is one message to send, or stdin's messages when stdin is set.
type outgoing struct {
	data  []byte
	stdin bool
}

func clientCmd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsd client", flag.ContinueOnError)
	var f clientFlags
	f.register(fs)
	rest, code := parseCommand(fs, args, clientHelp, stdout, stderr)
	if code >= 0 {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "wsd client: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) != 1 {
		return usageErr("want exactly one URL, got %d arguments (wsd help client)", len(rest))
	}
	rawURL := rest[0]
	if !validFormat(f.output) {
		return usageErr("-output %q: want text, ndjson or raw", f.output)
	}
	if f.count < 0 || f.timeout < 0 || f.ping < 0 {
		return usageErr("-count, -timeout and -ping cannot be negative")
	}
	if !proto.ValidCloseCode(f.closeCode) {
		return usageErr("-close-code %d: want 1000-1003, 1007-1011 or 3000-4999", f.closeCode)
	}
	var until *regexp.Regexp
	var err error
	if f.until != "" {
		if until, err = regexp.Compile(f.until); err != nil {
			return usageErr("-until: %v", err)
		}
	}
	if f.echo && len(f.sends) > 0 {
		return usageErr("-echo and -send do not go together")
	}
	var out []outgoing
	for _, s := range f.sends {
		switch {
		case s == "-":
			out = append(out, outgoing{stdin: true})
		case strings.HasPrefix(s, "@@"):
			out = append(out, outgoing{data: []byte(s[1:])})
		case strings.HasPrefix(s, "@"):
			b, err := os.ReadFile(s[1:])
			if err != nil {
				return usageErr("-send: %v", err)
			}
			out = append(out, outgoing{data: b})
		default:
			out = append(out, outgoing{data: []byte(s)})
		}
		if m := out[len(out)-1]; !f.binary && !m.stdin && !utf8.Valid(m.data) {
			return usageErr("-send %q is not valid UTF-8: send it with -binary", s)
		}
	}
	interactive := len(f.sends) == 0 && !f.echo && isTerminal(stdin)
	if len(f.sends) == 0 && !f.echo {
		out = []outgoing{{stdin: true}}
	}

	u, err := url.Parse(rawURL)
	if err != nil {
		return usageErr("bad URL: %v", err)
	}
	opts := &wsd.Options{AdditionalHeaders: http.Header(f.header), CloseTimeout: 3 * time.Second}
	if f.deflate {
		opts.Compression = wsd.CompressionOptions{Mode: wsd.CompressionEnabled, Threshold: -1}
	}
	if f.protocol != "" {
		opts.AcceptProtocols = strings.Split(f.protocol, ",")
	}
	if f.http2 {
		opts.HTTP2 = wsd.HTTP2Only
	}
	if opts.TLSConfig, err = f.tls.clientConfig(); err != nil {
		return usageErr("%v", err)
	}
	if f.proxy != "" {
		p, err := url.Parse(f.proxy)
		if err != nil || p.Host == "" || !slices.Contains([]string{"http", "https", "socks5", "socks5h"}, p.Scheme) {
			return usageErr("-proxy %q: want http://, https://, socks5:// or socks5h:// and a host", f.proxy)
		}
		opts.Proxy = http.ProxyURL(p)
	}
	// Whether a TCP connection was made (to the proxy, if any) tells a
	// failure to connect from a later one.
	var dialed atomic.Bool
	var dialer net.Dialer
	opts.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dialer.DialContext(ctx, network, addr)
		dialed.Store(err == nil)
		return nc, err
	}
	c, err := wsd.NewClient(rawURL, opts)
	if err != nil {
		return usageErr("%v", err)
	}

	pr := &printer{w: stdout, format: f.output, pretty: f.pretty}
	if interactive {
		pr.prefix = "< "
	}
	logf := func(format string, a ...any) { pr.log(stderr, format, a...) }
	goal := f.count > 0 || until != nil
	var met, weClosed atomic.Bool
	closeNow := func() {
		if weClosed.CompareAndSwap(false, true) {
			pr.control("out", "close", nil, f.closeCode, "")
			c.Close(f.closeCode, "")
		}
	}
	received := 0
	c.OnMessage(func(m wsd.Message) {
		if met.Load() {
			return // -count or -until is met: the rest is not asked for
		}
		pr.message("in", m.Type == wsd.TextMessage, m.Data)
		if f.echo {
			pr.message("out", m.Type == wsd.TextMessage, m.Data)
			c.Send(m.Data, wsd.SendOptions{Type: m.Type})
		}
		received++
		if (f.count > 0 && received >= f.count) || (until != nil && until.Match(m.Data)) {
			met.Store(true)
			closeNow()
		}
	})
	c.OnPing(func(p []byte) {
		pr.control("in", "ping", p, 0, "")
		pr.control("out", "pong", p, 0, "")
		if f.verbose {
			logf("ping received (%d bytes), pong sent", len(p))
		}
	})
	c.OnPong(func(p []byte) { pr.control("in", "pong", p, 0, "") })
	var protoErr error
	c.OnError(func(err error) { protoErr = err })
	var closeCode int
	var closeReason string
	c.OnClose(func(code int, reason string) {
		closeCode, closeReason = code, reason
		pr.control("in", "close", nil, code, reason)
	})

	ctx := context.Background()
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	if err := c.Start(ctx); err != nil {
		code := connectExit(err, dialed.Load(), ctx.Err() != nil)
		if code == exitTimeout {
			err = fmt.Errorf("timed out after %v while connecting: %w", f.timeout, err)
		}
		fmt.Fprintf(stderr, "wsd client: %v\n", err)
		return code
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	// Raw mode only once Ctrl-C is caught, so that the terminal is always
	// restored. Without raw mode (on some systems), the terminal's own
	// line editing serves.
	var editor *lineEditor
	if interactive {
		if editor, err = newLineEditor(stdin.(*os.File), stderr, &pr.mu); err == nil {
			defer editor.restore()
			pr.attach(editor)
			defer pr.detach()
		}
	}
	if f.verbose {
		logHandshake(pr, stderr, u, c)
	}
	// What was agreed goes to stderr even in scripts, as it can differ
	// from what was asked.
	if a := agreed(c); interactive || f.verbose || a != "" {
		logf("connected%s", a)
	}
	send := func(data []byte) error {
		typ := wsd.TextMessage
		if f.binary {
			typ = wsd.BinaryMessage
		} else if !utf8.Valid(data) {
			return errors.New("a message is not valid UTF-8: send it with -binary")
		}
		// Logged first, so that an echo never comes before its message.
		pr.message("out", typ == wsd.TextMessage, data)
		return c.Send(data, wsd.SendOptions{Type: typ})
	}
	sendErr := make(chan error, 1)
	if !f.echo {
		go func() {
			for _, m := range out {
				if !m.stdin {
					if err := send(m.data); err != nil {
						sendErr <- err
						return
					}
					continue
				}
				var lines iter.Seq[[]byte]
				switch {
				case f.stdinWhole:
					lines = wholeReader(stdin)
				case editor != nil:
					lines = editor.lines()
				default:
					lines = lineReader(stdin)
				}
				for line := range lines {
					if err := send(line); err != nil {
						sendErr <- err
						return
					}
				}
			}
			if !goal {
				closeNow()
			}
		}()
	}
	if f.ping > 0 {
		go pinger(c, f.ping, pr, f.verbose, logf)
	}

	select {
	case <-c.Done():
	case <-sig:
		closeNow()
		<-c.Done()
	case err := <-sendErr:
		if errors.Is(err, wsd.ErrClosed) {
			<-c.Done()
			break
		}
		logf("wsd client: %v", err)
		closeNow()
		<-c.Done()
		return exitError
	case <-ctx.Done():
		logf("wsd client: timed out after %v", f.timeout)
		closeNow()
		select {
		case <-c.Done():
		case <-time.After(time.Second):
		}
		return exitTimeout
	}
	pr.detach()
	// Done is closed after the close handler ran, so its results are visible.
	switch {
	case protoErr != nil:
		logf("wsd client: %v", protoErr)
		return exitClosed
	case met.Load():
		return exitOK
	}
	if f.output != "ndjson" {
		logf("closed: %s", strings.TrimSpace(fmt.Sprintf("%d %s", closeCode, closeReason)))
	}
	normal := closeCode == 1000 || closeCode == 1001 || (weClosed.Load() && closeCode == f.closeCode)
	switch {
	case !normal:
		return exitClosed
	case goal:
		logf("wsd client: closed before -count or -until was met (%d messages received)", received)
		return exitUnmet
	}
	return exitOK
}

// agreed describes the subprotocol and extensions agreed, if any.
func agreed(c *wsd.Conn) string {
	s := ""
	if c.HTTP2() {
		s += ", over HTTP/2"
	}
	if p := c.Protocol(); p != "" {
		s += fmt.Sprintf(", protocol %q", p)
	}
	if e := c.Extensions(); e != "" {
		s += fmt.Sprintf(", extensions %q", e)
	}
	return s
}

// logHandshake prints the handshake's headers as curl -v does.
func logHandshake(pr *printer, w io.Writer, u *url.URL, c *wsd.Conn) {
	var b strings.Builder
	if c.HTTP2() {
		fmt.Fprintf(&b, "> CONNECT %s HTTP/2\n> :authority: %s\n", u.RequestURI(), u.Host)
	} else {
		fmt.Fprintf(&b, "> GET %s HTTP/1.1\n> Host: %s\n", u.RequestURI(), u.Host)
	}
	writeHeader(&b, "> ", c.RequestHeader())
	if c.HTTP2() {
		b.WriteString(">\n< HTTP/2 200\n")
	} else {
		b.WriteString(">\n< HTTP/1.1 101 Switching Protocols\n")
	}
	writeHeader(&b, "< ", c.ResponseHeader())
	b.WriteString("<")
	pr.log(w, "%s", b.String())
}

func writeHeader(b *strings.Builder, prefix string, h http.Header) {
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}

// pinger sends a ping every interval until the connection closes; each
// payload is a sequence number, so that each pong is matched to its ping.
func pinger(c *wsd.Conn, every time.Duration, pr *printer, verbose bool, logf func(string, ...any)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-c.Done():
			return
		case <-t.C:
		}
		payload := []byte(strconv.Itoa(n))
		sent := time.Now()
		err := c.SendPing(payload, func() {
			if verbose {
				logf("pong %s: round trip %v", payload, time.Since(sent).Round(time.Microsecond))
			}
		})
		if err != nil {
			return
		}
		pr.control("out", "ping", payload, 0, "")
	}
}

// lineReader yields stdin's lines, without their line ends.
func lineReader(r io.Reader) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), wsd.DefaultMaxLength)
		for sc.Scan() {
			if !yield(sc.Bytes()) {
				return
			}
		}
	}
}

// wholeReader yields all of stdin as one message.
func wholeReader(r io.Reader) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if b, err := io.ReadAll(r); err == nil {
			yield(b)
		}
	}
}
