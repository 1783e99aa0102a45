//go:build js && wasm

// Command client is the browser client's test: built with GOOS=js
// GOARCH=wasm and loaded by the test server's page in a browser, it runs
// wsd's client API against the server it came from and prints one line
// per check to the console, "PASS name" or "FAIL name: reason", then
// "DONE".
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"syscall/js"
	"time"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/wsjson"
)

var base string // ws://HOST of the page's server

func main() {
	host := js.Global().Get("location").Get("host").String()
	base = "ws://" + host
	// A name holds no ": ", which starts the reason of a failure.
	checks := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"options a browser cannot honour are refused", refusedOptions},
		{"text and binary through events, SendPrepared, AfterClose", events},
		{"text and binary through Write and Read", blocking},
		{"Writer, Reader and ReadInto", streams},
		{"16 MiB binary both ways", large},
		{"NetConn and wsjson over the browser's WebSocket", adapters},
		{"sends before the open wait, in order, bounded", pendingSends},
		{"Write waits for the browser's buffer; its context ending fails the connection", writeBackpressure},
		{"Send waits for the browser's buffer at most WriteTimeout", writeTimeout},
		{"Read on a connection with OnMessage is an error", readWithHandler},
		{"a handler that panics fails the connection with 1011", handlerPanic},
		{"pings cannot be sent or seen", pings},
		{"close code and reason from the client, seen by both", closeFromClient},
		{"close code and reason from the server, seen by Read and OnClose", closeFromServer},
		{"a close code a browser cannot send is refused", badCloseCode},
		{"message over MaxLength fails with 1009", tooBig},
		{"messages waiting for Read are bounded, then 1008", readQueueBound},
		{"Read whose context ends fails the connection", readCanceled},
		{"a refused handshake fails Start", refused},
		{"Start's context bounds the handshake", handshakeTimeout},
		{"Close during the handshake cancels it", handshakeCanceled},
	}
	for _, ck := range checks {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := ck.run(ctx)
		cancel()
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", ck.name, err)
		} else {
			fmt.Printf("PASS %s\n", ck.name)
		}
	}
	fmt.Println("DONE")
}

// dial starts a client for path, with handlers set by setup first.
func dial(ctx context.Context, path string, opts *wsd.Options, setup func(*wsd.Conn)) (*wsd.Conn, error) {
	c, err := wsd.NewClient(base+path, opts)
	if err != nil {
		return nil, err
	}
	if setup != nil {
		setup(c)
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// seen asks the server how connection id closed: "CODE REASON".
func seen(id string) (string, error) {
	resp, err := http.Get("http://" + strings.TrimPrefix(base, "ws://") + "/seen?id=" + id)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("seen: %s: %s", resp.Status, b)
	}
	return string(b), err
}

func wait(ctx context.Context, ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("no %s", what)
	}
}

func refusedOptions(ctx context.Context) error {
	jar, _ := cookiejar.New(nil)
	for name, o := range map[string]*wsd.Options{
		"AdditionalHeaders": {AdditionalHeaders: http.Header{"X-A": {"1"}}},
		"PingInterval":      {PingInterval: time.Second},
		"Jar":               {Jar: jar},
		"HTTP2":             {HTTP2: wsd.HTTP2Auto},
		"Compression":       {Compression: wsd.CompressionOptions{Mode: wsd.CompressionDisabled}},
	} {
		_, err := wsd.NewClient(base+"/echo", o)
		if err == nil || !strings.Contains(err.Error(), name) {
			return fmt.Errorf("Options.%s: got error %v", name, err)
		}
	}
	if _, err := wsd.NewClient(base+"/echo", &wsd.Options{Compression: wsd.CompressionOptions{Mode: wsd.CompressionEnabled}}); err != nil {
		return fmt.Errorf("CompressionEnabled: %v", err)
	}
	return nil
}

func events(ctx context.Context) error {
	got := make(chan wsd.Message, 2)
	opened := make(chan struct{})
	closed := make(chan [2]any, 1)
	c, err := dial(ctx, "/echo", &wsd.Options{AcceptProtocols: []string{"chat"}}, func(c *wsd.Conn) {
		c.OnOpen(func() { close(opened) })
		c.OnMessage(func(m wsd.Message) { got <- wsd.Message{Type: m.Type, Data: bytes.Clone(m.Data)} })
		c.OnClose(func(code int, reason string) { closed <- [2]any{code, reason} })
	})
	if err != nil {
		return err
	}
	if err := wait(ctx, opened, "open event"); err != nil {
		return err
	}
	if p := c.Protocol(); p != "chat" {
		return fmt.Errorf("Protocol() = %q", p)
	}
	if c.ReadyState() != wsd.Open || c.RemoteAddr() == nil {
		return fmt.Errorf("ReadyState %v, RemoteAddr %v", c.ReadyState(), c.RemoteAddr())
	}
	if err := c.SendText("héllo ✓"); err != nil {
		return err
	}
	if err := c.SendBinary([]byte{0, 1, 2, 255}); err != nil {
		return err
	}
	for _, want := range []wsd.Message{{Type: wsd.TextMessage, Data: []byte("héllo ✓")}, {Type: wsd.BinaryMessage, Data: []byte{0, 1, 2, 255}}} {
		select {
		case m := <-got:
			if m.Type != want.Type || !bytes.Equal(m.Data, want.Data) {
				return fmt.Errorf("got %v %q, want %v %q", m.Type, m.Data, want.Type, want.Data)
			}
		case <-ctx.Done():
			return errors.New("no echo")
		}
	}
	if err := c.SendText(string([]byte{0xff})); !errors.Is(err, wsd.ErrInvalidUTF8) {
		return fmt.Errorf("invalid UTF-8 text: %v", err)
	}
	pm, err := wsd.NewPreparedMessage(wsd.TextMessage, []byte("prepared"))
	if err != nil {
		return err
	}
	if err := c.SendPrepared(pm, pm); err != nil {
		return err
	}
	for range 2 {
		select {
		case m := <-got:
			if m.Type != wsd.TextMessage || string(m.Data) != "prepared" {
				return fmt.Errorf("SendPrepared: got %v %q", m.Type, m.Data)
			}
		case <-ctx.Done():
			return errors.New("no echo of a prepared message")
		}
	}
	afterClose := make(chan struct{})
	c.AfterClose(func() { close(afterClose) })
	c.Close(1000, "")
	select {
	case v := <-closed:
		if v[0] != 1000 {
			return fmt.Errorf("OnClose %v", v)
		}
	case <-ctx.Done():
		return errors.New("no close event")
	}
	select {
	case <-afterClose:
	default:
		return errors.New("AfterClose did not run before OnClose")
	}
	return wait(ctx, c.Done(), "Done")
}

func blocking(ctx context.Context) error {
	c, err := dial(ctx, "/echo", nil, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, wsd.TextMessage, []byte("one")); err != nil {
		return err
	}
	if err := c.Write(ctx, wsd.BinaryMessage, []byte{1, 2, 3}); err != nil {
		return err
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Write(done, wsd.TextMessage, []byte("never")); !errors.Is(err, context.Canceled) {
		return fmt.Errorf("Write with a done context: %v", err)
	}
	t, b, err := c.Read(ctx)
	if err != nil || t != wsd.TextMessage || string(b) != "one" {
		return fmt.Errorf("Read: %v %q %v", t, b, err)
	}
	t, b, err = c.Read(ctx)
	if err != nil || t != wsd.BinaryMessage || !bytes.Equal(b, []byte{1, 2, 3}) {
		return fmt.Errorf("Read: %v %v %v", t, b, err)
	}
	return c.Close(1000, "")
}

func streams(ctx context.Context) error {
	c, err := dial(ctx, "/echo", nil, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	w, err := c.Writer(ctx, wsd.TextMessage)
	if err != nil {
		return err
	}
	io.WriteString(w, "in ")
	io.WriteString(w, "parts")
	if err := w.Close(); err != nil {
		return err
	}
	t, r, err := c.Reader(ctx)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(r)
	if t != wsd.TextMessage || string(b) != "in parts" {
		return fmt.Errorf("Reader: %v %q", t, b)
	}
	if err := c.Write(ctx, wsd.BinaryMessage, []byte("again")); err != nil {
		return err
	}
	buf := make([]byte, 0, 64)
	t, b, err = c.ReadInto(ctx, buf)
	if err != nil || t != wsd.BinaryMessage || string(b) != "again" || &b[0] != &buf[:1][0] {
		return fmt.Errorf("ReadInto: %v %q %v (in the buffer given: %v)", t, b, err, len(b) > 0 && &b[0] == &buf[:1][0])
	}
	return c.Close(1000, "")
}

func adapters(ctx context.Context) error {
	c, err := dial(ctx, "/echo", nil, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	type point struct{ X, Y int }
	if err := wsjson.Write(ctx, c, point{1, 2}); err != nil {
		return err
	}
	var p point
	if err := wsjson.Read(ctx, c, &p); err != nil || p != (point{1, 2}) {
		return fmt.Errorf("wsjson.Read: %v %v", p, err)
	}
	nc := wsd.NetConn(ctx, c, wsd.BinaryMessage)
	if _, err := nc.Write([]byte("stream")); err != nil {
		return err
	}
	b := make([]byte, 6)
	if _, err := io.ReadFull(nc, b); err != nil || string(b) != "stream" {
		return fmt.Errorf("NetConn read: %q %v", b, err)
	}
	nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := nc.Read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("NetConn read past its deadline: %v", err)
	}
	return nil
}

func large(ctx context.Context) error {
	c, err := dial(ctx, "/echo", &wsd.Options{MaxLength: 32 << 20}, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := c.Write(ctx, wsd.BinaryMessage, big); err != nil {
		return err
	}
	_, b, err := c.Read(ctx)
	if err != nil || !bytes.Equal(b, big) {
		return fmt.Errorf("echo of 16 MiB: %d bytes, %v", len(b), err)
	}
	return c.Close(1000, "")
}

func pendingSends(ctx context.Context) error {
	c, err := wsd.NewClient(base+"/echo", nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.SendText("first"); err != nil {
		return err
	}
	sent := make(chan error, 1)
	if err := c.Send([]byte("second"), wsd.SendOptions{Type: wsd.TextMessage, Callback: func(err error) { sent <- err }}); err != nil {
		return err
	}
	if err := c.SendBinary(make([]byte, 2<<20)); !errors.Is(err, wsd.ErrPendingFull) {
		return fmt.Errorf("2 MiB before the open: %v", err)
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	for _, want := range []string{"first", "second"} {
		if _, b, err := c.Read(ctx); err != nil || string(b) != want {
			return fmt.Errorf("Read: %q %v, want %q", b, err, want)
		}
	}
	select {
	case err := <-sent:
		if err != nil {
			return fmt.Errorf("callback: %v", err)
		}
	default:
		return errors.New("callback not called")
	}
	return c.Close(1000, "")
}

// stalled sends 4 MiB messages to a server that does not read, until
// send fails; it fails if none does within 160 MiB.
func stalled(send func([]byte) error) error {
	// Random bytes: the browser's permessage-deflate would shrink zeros
	// to nothing on the wire.
	chunk := make([]byte, 4<<20)
	rand.Read(chunk)
	for range 40 {
		if err := send(chunk); err != nil {
			return err
		}
	}
	return errors.New("160 MiB sent to a server that reads nothing, and no send waited")
}

func writeBackpressure(ctx context.Context) error {
	c, err := dial(ctx, "/stall", nil, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err = stalled(func(b []byte) error { return c.Write(short, wsd.BinaryMessage, b) })
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("Write: %v", err)
	}
	if err := wait(ctx, c.Done(), "end of the connection"); err != nil {
		return err
	}
	if err := c.SendText("late"); !errors.Is(err, wsd.ErrClosed) {
		return fmt.Errorf("send after the failure: %v", err)
	}
	return nil
}

func writeTimeout(ctx context.Context) error {
	c, err := dial(ctx, "/stall", &wsd.Options{WriteTimeout: time.Second}, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	err = stalled(c.SendBinary)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("SendBinary: %v", err)
	}
	return wait(ctx, c.Done(), "end of the connection")
}

func readWithHandler(ctx context.Context) error {
	c, err := dial(ctx, "/echo", nil, func(c *wsd.Conn) { c.OnMessage(func(wsd.Message) {}) })
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err == nil || !strings.Contains(err.Error(), "OnMessage") {
		return fmt.Errorf("Read: %v", err)
	}
	return nil
}

func handlerPanic(ctx context.Context) error {
	closed := make(chan int, 1)
	c, err := dial(ctx, "/echo?id=panic", &wsd.Options{ErrorLog: log.New(io.Discard, "", 0)}, func(c *wsd.Conn) {
		c.OnMessage(func(wsd.Message) { panic("on purpose") })
		c.OnClose(func(code int, _ string) { closed <- code })
	})
	if err != nil {
		return err
	}
	if err := c.SendText("boom"); err != nil {
		return err
	}
	select {
	case code := <-closed:
		if code != wsd.CloseInternalError {
			return fmt.Errorf("OnClose: %d", code)
		}
	case <-ctx.Done():
		return errors.New("no close event")
	}
	if v, err := seen("panic"); err != nil || !strings.HasPrefix(v, "1005") {
		return fmt.Errorf("server saw %q %v", v, err)
	}
	return nil
}

func pings(ctx context.Context) error {
	c, err := wsd.NewClient(base+"/echo", nil)
	if err != nil {
		return err
	}
	c.OnPing(func([]byte) {})
	if err := c.Start(ctx); err == nil || !strings.Contains(err.Error(), "OnPing") {
		return fmt.Errorf("Start after OnPing: %v", err)
	}
	c, err = dial(ctx, "/echo", nil, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.SendPing(nil, nil); err == nil {
		return errors.New("SendPing: no error")
	}
	if err := c.Send(nil, wsd.SendOptions{Type: wsd.PongMessage}); err == nil {
		return errors.New("Send of a pong: no error")
	}
	return nil
}

func closeFromClient(ctx context.Context) error {
	closed := make(chan string, 1)
	c, err := dial(ctx, "/echo?id=client-close", nil, func(c *wsd.Conn) {
		c.OnClose(func(code int, reason string) { closed <- fmt.Sprintf("%d %s", code, reason) })
	})
	if err != nil {
		return err
	}
	if err := c.Close(4001, "bye from wasm"); err != nil {
		return err
	}
	if c.ReadyState() != wsd.Closing {
		return fmt.Errorf("ReadyState after Close: %v", c.ReadyState())
	}
	select {
	case v := <-closed:
		if v != "4001 bye from wasm" {
			return fmt.Errorf("OnClose: %s", v)
		}
	case <-ctx.Done():
		return errors.New("no close event")
	}
	v, err := seen("client-close")
	if err != nil || v != "4001 bye from wasm" {
		return fmt.Errorf("server saw %q %v", v, err)
	}
	if c.ReadyState() != wsd.Closed {
		return fmt.Errorf("ReadyState after close: %v", c.ReadyState())
	}
	return nil
}

func closeFromServer(ctx context.Context) error {
	closed := make(chan string, 1)
	c, err := dial(ctx, "/close?code=4002&reason=bye+from+wsd", nil, func(c *wsd.Conn) {
		c.OnClose(func(code int, reason string) { closed <- fmt.Sprintf("%d %s", code, reason) })
	})
	if err != nil {
		return err
	}
	if err := c.Write(ctx, wsd.TextMessage, []byte("close please")); err != nil {
		return err
	}
	_, _, err = c.Read(ctx)
	var ce *wsd.CloseError
	if !errors.As(err, &ce) || ce.Code != 4002 || ce.Reason != "bye from wsd" || wsd.CloseStatus(err) != 4002 {
		return fmt.Errorf("Read after the server's close: %v", err)
	}
	select {
	case v := <-closed:
		if v != "4002 bye from wsd" {
			return fmt.Errorf("OnClose: %s", v)
		}
	case <-ctx.Done():
		return errors.New("no close event")
	}
	if err := c.SendText("late"); !errors.Is(err, wsd.ErrClosed) {
		return fmt.Errorf("send after close: %v", err)
	}
	return nil
}

func badCloseCode(ctx context.Context) error {
	c, err := dial(ctx, "/echo", nil, nil)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Close(wsd.CloseGoingAway, ""); err == nil || !strings.Contains(err.Error(), "1001") {
		return fmt.Errorf("Close(1001): %v", err)
	}
	if c.ReadyState() != wsd.Open {
		return fmt.Errorf("ReadyState after a refused Close: %v", c.ReadyState())
	}
	return c.Close(1000, "")
}

func tooBig(ctx context.Context) error {
	failed := make(chan error, 1)
	c, err := dial(ctx, "/send?n=1&size=200", &wsd.Options{MaxLength: 100}, func(c *wsd.Conn) {
		c.OnError(func(err error) { failed <- err })
	})
	if err != nil {
		return err
	}
	_, _, err = c.Read(ctx)
	if wsd.CloseStatus(err) != wsd.CloseTooBig {
		return fmt.Errorf("Read: %v", err)
	}
	select {
	case err := <-failed:
		if !errors.Is(err, wsd.ErrMessageTooBig) {
			return fmt.Errorf("OnError: %v", err)
		}
	default:
		return errors.New("no error event")
	}
	return nil
}

func readQueueBound(ctx context.Context) error {
	c, err := dial(ctx, "/send?n=10&size=400&id=flood", &wsd.Options{MaxLength: 1000}, nil)
	if err != nil {
		return err
	}
	if err := wait(ctx, c.Done(), "end of the connection"); err != nil {
		return err
	}
	// What was kept before the limit is still read, then the close.
	var n int
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if wsd.CloseStatus(err) != wsd.ClosePolicyViolation {
				return fmt.Errorf("Read: %v", err)
			}
			break
		}
		n += len(b)
	}
	if n == 0 || n > 1000 {
		return fmt.Errorf("%d bytes read before the close", n)
	}
	if v, err := seen("flood"); err != nil || !strings.HasPrefix(v, "1005") {
		return fmt.Errorf("server saw %q %v", v, err)
	}
	return nil
}

func readCanceled(ctx context.Context) error {
	c, err := dial(ctx, "/echo", nil, nil)
	if err != nil {
		return err
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, _, err = c.Read(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "failed") {
		return fmt.Errorf("Read: %v", err)
	}
	if err := wait(ctx, c.Done(), "end of the connection"); err != nil {
		return err
	}
	_, _, err = c.Read(ctx)
	if wsd.CloseStatus(err) != wsd.CloseAbnormal || !errors.Is(err, wsd.ErrClosed) {
		return fmt.Errorf("Read after: %v", err)
	}
	return nil
}

func refused(ctx context.Context) error {
	c, err := wsd.NewClient(base+"/no-such-endpoint", nil)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err == nil {
		return errors.New("Start: no error")
	}
	if c.ReadyState() != wsd.Closed {
		return fmt.Errorf("ReadyState: %v", c.ReadyState())
	}
	return wait(ctx, c.Done(), "Done")
}

func handshakeTimeout(ctx context.Context) error {
	c, err := wsd.NewClient(base+"/slow", nil)
	if err != nil {
		return err
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := c.Start(short); !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("Start: %v", err)
	}
	if c.ReadyState() != wsd.Closed {
		return fmt.Errorf("ReadyState: %v", c.ReadyState())
	}
	return nil
}

func handshakeCanceled(ctx context.Context) error {
	c, err := wsd.NewClient(base+"/slow", nil)
	if err != nil {
		return err
	}
	started := make(chan error, 1)
	go func() { started <- c.Start(ctx) }()
	time.Sleep(300 * time.Millisecond)
	if c.ReadyState() != wsd.Connecting {
		return fmt.Errorf("ReadyState during the handshake: %v", c.ReadyState())
	}
	if err := c.Close(1000, ""); err != nil {
		return err
	}
	select {
	case err := <-started:
		if !errors.Is(err, wsd.ErrClosed) {
			return fmt.Errorf("Start: %v", err)
		}
	case <-ctx.Done():
		return errors.New("Start did not return")
	}
	return wait(ctx, c.Done(), "Done")
}
