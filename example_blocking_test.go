//go:build !js

package wsd_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wsd-go/wsd"
)

// echoURL starts an echo server written with the blocking API and
// returns its ws:// URL and a function that stops it.
func echoURL() (string, func()) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil || ws.Start(r.Context()) != nil {
			return
		}
		go func() {
			ctx := context.Background()
			for {
				typ, msg, err := ws.Read(ctx)
				if err != nil {
					return
				}
				ws.Write(ctx, typ, msg)
			}
		}()
	}))
	return "ws" + strings.TrimPrefix(srv.URL, "http"), srv.Close
}

// A read loop, as gorilla and coder programs are written: a connection
// without an OnMessage handler delivers its messages to Read.
func ExampleConn_Read() {
	url, stop := echoURL()
	defer stop()
	ctx := context.Background()
	c, err := wsd.NewClient(url, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	c.Write(ctx, wsd.TextMessage, []byte("one"))
	c.Write(ctx, wsd.TextMessage, []byte("two"))
	for range 2 {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(typ, string(msg))
	}
	c.Close(wsd.CloseNormal, "")
	<-c.Done()
	// Output:
	// text one
	// text two
}

// ReadInto reuses the caller's buffer: a read loop that allocates nothing.
func ExampleConn_ReadInto() {
	url, stop := echoURL()
	defer stop()
	ctx := context.Background()
	c, _ := wsd.NewClient(url, nil)
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	for _, s := range []string{"a", "bb", "ccc"} {
		c.Write(ctx, wsd.BinaryMessage, []byte(s))
		_, msg, err := c.ReadInto(ctx, buf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(msg))
		buf = msg
	}
	c.CloseNow()
	// Output:
	// 1
	// 2
	// 3
}

// Writer and Reader stream one message: it is never held whole.
func ExampleConn_Writer() {
	url, stop := echoURL()
	defer stop()
	ctx := context.Background()
	c, _ := wsd.NewClient(url, nil)
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	w, err := c.Writer(ctx, wsd.TextMessage)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		fmt.Fprintf(w, "part %d;", i)
	}
	w.Close() // sends the last fragment
	_, r, err := c.Reader(ctx)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	fmt.Println(string(b))
	c.CloseNow()
	// Output: part 0;part 1;part 2;
}

// When the connection closes, reads return a *CloseError with the code
// and reason.
func ExampleCloseStatus() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil || ws.Start(r.Context()) != nil {
			return
		}
		ws.Close(4000, "bye")
	}))
	defer srv.Close()
	c, _ := wsd.NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	_, _, err := c.Read(context.Background())
	fmt.Println(wsd.CloseStatus(err))
	fmt.Println(err)
	// Output:
	// 4000
	// wsd: connection closed with 4000: bye
}

// A WebSocket as a net.Conn: any stream protocol runs over it.
func ExampleNetConn() {
	url, stop := echoURL()
	defer stop()
	ctx := context.Background()
	c, _ := wsd.NewClient(url, nil)
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	nc := wsd.NetConn(ctx, c, wsd.BinaryMessage)
	defer nc.Close()
	fmt.Fprintf(nc, "hello over a stream")
	buf := make([]byte, 64)
	n, _ := nc.Read(buf)
	fmt.Println(string(buf[:n]))
	// Output: hello over a stream
}

// One handler serves a page and a WebSocket on the same path.
func ExampleIsWebSocket() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !wsd.IsWebSocket(r) {
			io.WriteString(w, "<script>new WebSocket(location.href.replace('http', 'ws'))</script>")
			return
		}
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.Start(r.Context())
	})
}

// Messages sent before the connection opens wait and go out, in order,
// as soon as it does.
func ExampleConn_Send_beforeStart() {
	url, stop := echoURL()
	defer stop()
	c, _ := wsd.NewClient(url, nil)
	c.SendText("sent before Start")
	if err := c.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	_, msg, _ := c.Read(context.Background())
	fmt.Println(string(msg))
	c.CloseNow()
	// Output: sent before Start
}
