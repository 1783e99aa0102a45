//go:build !js

package wsd_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// The suite over HTTP/2: TestHTTP2Suite runs the tests that go through
// newTestServer and dialClient again, with their servers on net/http's
// HTTP/2 over TLS and their clients insisting on RFC 8441.

// h2SuiteEnv is set in the run of the suite over HTTP/2.
const h2SuiteEnv = "WSD_TEST_HTTP2"

// h2SuiteTests are the tests that run over HTTP/2 too: echo, close,
// limits, deflate, subprotocols and concurrency. The others speak raw
// HTTP/1.1 or TCP to the server, make clients of their own, or count
// bytes on the socket.
const h2SuiteTests = "^(TestEcho|TestSendOptions|TestSendPing|TestPingCallbackMatchesPayload|" +
	"TestCloseFromClient|TestCloseFromServer|TestCloseDefaultCode|TestReadyState|" +
	"TestMaxLengthOption|TestCompressionEcho|TestCompressionModes|TestCompressionMaxLength|" +
	"TestSubprotocol|TestConcurrentSendsClient|TestHandlersOnConnectionGoroutine)$"

var (
	suiteScheme = "ws"
	suiteRoots  *x509.CertPool
	suiteOnce   sync.Once
)

func init() {
	if os.Getenv(h2SuiteEnv) == "" {
		return
	}
	suiteScheme = "wss"
	wsd.TestScheme = "https"
	wsd.TestClientOptions = func(o *wsd.Options) {
		if o.TLSConfig == nil {
			o.TLSConfig = &tls.Config{RootCAs: suiteRoots}
		}
		o.HTTP2 = wsd.HTTP2Only
	}
	wsd.ServeEngine = func(h http.Handler) (string, func()) {
		ts := httptest.NewUnstartedServer(h)
		ts.EnableHTTP2 = true
		ts.Config.ErrorLog = log.New(io.Discard, "", 0)
		ts.StartTLS()
		suiteOnce.Do(func() {
			suiteRoots = x509.NewCertPool()
			suiteRoots.AddCert(ts.Certificate())
		})
		return ts.Listener.Addr().String(), ts.Close
	}
}

// suiteClientOptions makes a client of the run over HTTP/2 trust the
// test server and insist on HTTP/2; otherwise it returns opts.
func suiteClientOptions(url string, opts *wsd.Options) *wsd.Options {
	if suiteRoots == nil || !strings.HasPrefix(url, "wss://") {
		return opts
	}
	o := wsd.Options{}
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{RootCAs: suiteRoots}
	}
	o.HTTP2 = wsd.HTTP2Only
	return &o
}

// TestHTTP2Suite runs the tests of h2SuiteTests again over HTTP/2.
func TestHTTP2Suite(t *testing.T) {
	if os.Getenv(h2SuiteEnv) != "" || os.Getenv("WSD_TEST_ENGINE") != "" {
		t.Skip("this is a run of the suite on another transport")
	}
	if testing.Short() {
		t.Skip("runs part of the suite again")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+h2SuiteTests, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), h2SuiteEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		t.Fatalf("the suite over HTTP/2: %v\n%s", err, out.Bytes())
	}
	// Every test listed must have run and passed, none skipped.
	for _, name := range strings.Split(strings.Trim(h2SuiteTests, "^()$"), "|") {
		if !bytes.Contains(out.Bytes(), []byte("--- PASS: "+name+" ")) {
			t.Errorf("%s did not pass over HTTP/2:\n%s", name, out.Bytes())
		}
	}
}
