//go:build !js

package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/wsd-go/wsd/internal/selfsigned"
	_ "github.com/wsd-go/wsd/xconnect" // WebSockets over HTTP/2 (RFC 8441)
)

// echoTLS returns the TLS settings of wsd echo's -tls-cert, -tls-key and
// -tls-self-signed flags, or nil for plain ws://. A self-signed
// certificate is made for the listening host, localhost and 127.0.0.1,
// and its fingerprint printed, so that a client can check it. HTTP/2 is
// offered first: browsers then open WebSockets over it.
func echoTLS(certFile, keyFile string, selfSign bool, addr string, stdout io.Writer) (*tls.Config, error) {
	var cert tls.Certificate
	switch {
	case selfSign && (certFile != "" || keyFile != ""):
		return nil, errors.New("-tls-self-signed makes its own certificate: drop -tls-cert and -tls-key")
	case selfSign:
		hosts := []string{"localhost", "127.0.0.1"}
		if h, _, err := net.SplitHostPort(addr); err == nil && h != "" && h != "localhost" && h != "127.0.0.1" {
			hosts = append(hosts, h)
		}
		c, err := selfsigned.New(hosts...)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "self-signed certificate for %v, SHA-256 fingerprint %s\n", hosts, c.Fingerprint())
		cert = c.TLS
	case certFile != "" && keyFile != "":
		var err error
		if cert, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return nil, err
		}
	case certFile != "" || keyFile != "":
		return nil, errors.New("-tls-cert and -tls-key go together")
	default:
		return nil, nil
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, nil
}
