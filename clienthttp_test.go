//go:build !js

package wsd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// testPKI holds certificates made for the tests.
type testPKI struct {
	ca     *x509.Certificate
	server tls.Certificate // for 127.0.0.1 and localhost, issued by ca
	client tls.Certificate // for client authentication, issued by ca
	other  tls.Certificate // for client authentication, self-signed
}

var testCerts = sync.OnceValue(func() *testPKI {
	ca, caKey, _ := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "wsd test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, nil)
	_, _, server := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "wsd test server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "wsd test client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	_, _, clientCert := issue(client, ca, caKey)
	_, _, other := issue(client, nil, nil)
	return &testPKI{ca: ca, server: server, client: clientCert, other: other}
})

// issue makes a certificate from tmpl with a new key, signed by parent,
// or self-signed if parent is nil.
func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		panic(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return cert, key, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}
}

// TestClientCert: a server that requires client certificates accepts a
// client whose TLSConfig has one its CA issued, and no other.
func TestClientCert(t *testing.T) {
	pki := testCerts()
	cas := x509.NewCertPool()
	cas.AddCert(pki.ca)
	seen := make(chan string, 8)
	var mu sync.Mutex
	var conns []*wsd.Conn
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.TLS.PeerCertificates[0].Subject.CommonName
		c, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		c.Start(r.Context())
	}))
	ts.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cas,
	}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	ts.StartTLS()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			closeAndWait(t, c)
		}
		ts.Close()
	}()
	tests := []struct {
		name  string
		certs []tls.Certificate
		ok    bool
	}{
		{"issued by the CA", []tls.Certificate{pki.client}, true},
		{"none", nil, false},
		{"self-signed", []tls.Certificate{pki.other}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := wsd.NewClient("wss"+strings.TrimPrefix(ts.URL, "https"), &wsd.Options{
				TLSConfig: &tls.Config{RootCAs: cas, Certificates: tt.certs},
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err = c.Start(ctx)
			if !tt.ok {
				// TLS 1.3 reports the refusal after the handshake, as an
				// alert or a reset, so its words vary.
				if err == nil {
					closeAndWait(t, c)
					t.Fatal("Start succeeded, want the server to refuse the certificate")
				}
				t.Logf("Start: %v", err)
				select {
				case cn := <-seen:
					t.Errorf("the server handled a request from %q", cn)
				default:
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			closeAndWait(t, c)
			if cn := <-seen; cn != "wsd test client" {
				t.Errorf("server saw the certificate of %q", cn)
			}
		})
	}
}

// TestCookieJar: a client sends the jar's cookies for its URL, as http
// for ws and https for wss, and stores the cookies the server sets.
func TestCookieJar(t *testing.T) {
	sopts := &wsd.Options{AdditionalHeaders: http.Header{"Set-Cookie": {"session=abc; Path=/; HttpOnly"}}}
	tests := []struct {
		name        string
		wss         bool
		first, next string // the Cookie header of the first and second handshakes
	}{
		{"ws", false, "extra=1; pre=1", "extra=1; pre=1; session=abc"},
		{"wss", true, "extra=1; pre=1", "extra=1; pre=1; session=abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startTestServer(t, sopts, nil, tt.wss, nil)
			_, port, _ := net.SplitHostPort(s.addr)
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			// A jar knows only http and https URLs: it has no cookies for
			// ws or wss ones.
			web := &url.URL{Scheme: "http", Host: "127.0.0.1:" + port, Path: "/"}
			if tt.wss {
				web.Scheme = "https"
			}
			jar.SetCookies(web, []*http.Cookie{{Name: "pre", Value: "1"}})
			opts := &wsd.Options{Jar: jar, AdditionalHeaders: http.Header{"Cookie": {"extra=1"}}}
			if tt.wss {
				roots := x509.NewCertPool()
				roots.AddCert(s.ts.Certificate())
				opts.TLSConfig = &tls.Config{RootCAs: roots}
			}
			for _, want := range []string{tt.first, tt.next} {
				dialClient(t, s.url+"/", opts, nil)
				srv := s.accept(t)
				if got := srv.c.RequestHeader().Get("Cookie"); got != want {
					t.Errorf("server got Cookie %q, want %q", got, want)
				}
			}
			found := false
			for _, ck := range jar.Cookies(web) {
				found = found || ck.Name == "session" && ck.Value == "abc"
			}
			if !found {
				t.Errorf("jar has %v, want session=abc", jar.Cookies(web))
			}
		})
	}
}

// TestRedirect: a client refuses a redirect, with an error naming where
// it led.
func TestRedirect(t *testing.T) {
	tests := []struct {
		status   int
		location string
		want     string
	}{
		{http.StatusMovedPermanently, "wss://elsewhere.test/chat", `redirect to "wss://elsewhere.test/chat", not followed`},
		{http.StatusFound, "/login?next=chat", `redirect to "/login?next=chat", not followed`},
		{http.StatusTemporaryRedirect, "http://elsewhere.test/", `redirect to "http://elsewhere.test/", not followed`},
		{http.StatusPermanentRedirect, "ws://elsewhere.test/", `redirect to "ws://elsewhere.test/", not followed`},
		{http.StatusMultipleChoices, "", "redirect without a Location"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				w.WriteHeader(tt.status)
			}))
			defer ts.Close()
			c, err := wsd.NewClient("ws"+strings.TrimPrefix(ts.URL, "http")+"/chat", nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err = c.Start(ctx)
			var he *wsd.HandshakeError
			if !errors.As(err, &he) || he.Status != tt.status || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v (%T), want a *HandshakeError with status %d and %q", err, err, tt.status, tt.want)
			}
		})
	}
}
