//go:build !js

package wsd_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/wsd-go/wsd"
)

// An echo server: every message goes back to its sender, with its type.
func ExampleNewServer() {
	http.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return // NewServer has answered the bad handshake
		}
		ws.OnMessage(func(m wsd.Message) {
			ws.Send(m.Data, wsd.SendOptions{Type: m.Type})
		})
		ws.Start(r.Context())
	})
	// http.ListenAndServe("127.0.0.1:5000", nil)
}

// A client that says hi to an echo server and closes once it hears back.
func ExampleNewClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	}))
	defer srv.Close()

	client, err := wsd.NewClient("ws"+strings.TrimPrefix(srv.URL, "http")+"/echo", nil)
	if err != nil {
		log.Fatal(err)
	}
	client.OnMessage(func(m wsd.Message) {
		fmt.Printf("Got: %s\n", m.Data)
		client.Close(1000, "done")
	})
	client.OnClose(func(code int, reason string) {
		fmt.Printf("Closed because '%s' (Code=%d)\n", reason, code)
	})
	if err := client.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	client.SendText("Hi")
	<-client.Done()
	// Output:
	// Got: Hi
	// Closed because 'done' (Code=1000)
}

// Subprotocols: the server picks the first protocol the client offers
// that it accepts.
func ExampleOptions_acceptProtocols() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, &wsd.Options{AcceptProtocols: []string{"chat"}})
		if err != nil {
			return
		}
		ws.OnOpen(func() { ws.SendText("protocol " + ws.Protocol()) })
		ws.Start(r.Context())
	}))
	defer srv.Close()

	client, _ := wsd.NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), &wsd.Options{AcceptProtocols: []string{"superchat", "chat"}})
	client.OnMessage(func(m wsd.Message) {
		fmt.Println(m.String())
		client.Close(1000, "")
	})
	if err := client.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	<-client.Done()
	// Output: protocol chat
}

// Compression: a server accepts permessage-deflate by default; a client
// offers it when its options enable it.
func ExampleCompressionOptions() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		ws.OnMessage(func(m wsd.Message) { ws.Send(m.Data, wsd.SendOptions{Type: m.Type}) })
		ws.Start(r.Context())
	}))
	defer srv.Close()

	opts := &wsd.Options{Compression: wsd.CompressionOptions{Mode: wsd.CompressionEnabled}}
	client, _ := wsd.NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), opts)
	client.OnMessage(func(m wsd.Message) {
		fmt.Println(len(m.Data), "bytes back")
		client.Close(1000, "")
	})
	if err := client.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(client.Extensions())
	client.SendText(strings.Repeat("compressible ", 1000))
	<-client.Done()
	// Output:
	// permessage-deflate; server_no_context_takeover; client_no_context_takeover
	// 13000 bytes back
}

// Proxies: by default a client takes its proxy from the environment
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY); Options.Proxy picks another, here a
// SOCKS5 proxy with a username and password. A Proxy returning nil, nil
// turns proxies off.
func ExampleOptions_proxy() {
	proxy := &url.URL{Scheme: "socks5", User: url.UserPassword("joe", "s3cret"), Host: "127.0.0.1:1080"}
	client, err := wsd.NewClient("wss://example.com/feed", &wsd.Options{
		Proxy: http.ProxyURL(proxy), // or func(*http.Request) (*url.URL, error) { return nil, nil }
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Start(ctx); err != nil {
		var pe *wsd.ProxyError
		if errors.As(err, &pe) {
			log.Fatalf("proxy %s refused: %s", pe.Proxy, pe.Reason)
		}
		log.Fatal(err)
	}
}

// Cookies: the jar's cookies for the URL go with the handshake, and those
// the server sets in its answer are stored in the jar.
func ExampleOptions_jar() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("server got Cookie %q\n", r.Header.Get("Cookie"))
		ws, err := wsd.NewServer(w, r, &wsd.Options{
			AdditionalHeaders: http.Header{"Set-Cookie": {"session=42; Path=/"}},
		})
		if err != nil {
			return
		}
		ws.Start(r.Context())
	}))
	defer srv.Close()

	jar, _ := cookiejar.New(nil)
	for range 2 {
		client, _ := wsd.NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), &wsd.Options{Jar: jar})
		if err := client.Start(context.Background()); err != nil {
			log.Fatal(err)
		}
		client.Close(1000, "")
		<-client.Done()
	}
	// Output:
	// server got Cookie ""
	// server got Cookie "session=42"
}
