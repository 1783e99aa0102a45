//go:build !js

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// headerFlag collects repeated -H 'Name: value' flags.
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

// listFlag collects a repeatable flag's values in order.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// tlsFlags are the certificate flags shared by the client and the server.
type tlsFlags struct {
	cacert, cert, key string
	insecure          bool
}

func (t *tlsFlags) register(fs *flag.FlagSet, server bool) {
	if server {
		fs.StringVar(&t.cacert, "cacert", "", "PEM file of CA certificates; clients must present a certificate signed by one")
		fs.StringVar(&t.cert, "cert", "", "PEM certificate file: serve wss:// and https:// (with -key)")
		fs.StringVar(&t.key, "key", "", "PEM private key file of -cert")
		return
	}
	fs.StringVar(&t.cacert, "cacert", "", "PEM file of CA certificates to trust instead of the system's")
	fs.StringVar(&t.cert, "cert", "", "PEM client certificate file (with -key)")
	fs.StringVar(&t.key, "key", "", "PEM private key file of -cert")
	fs.BoolVar(&t.insecure, "insecure", false, "do not verify the server's certificate")
}

func (t *tlsFlags) pool() (*x509.CertPool, error) {
	pem, err := os.ReadFile(t.cacert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-cacert %s: no PEM certificate in it", t.cacert)
	}
	return pool, nil
}

func (t *tlsFlags) keyPair() ([]tls.Certificate, error) {
	if (t.cert == "") != (t.key == "") {
		return nil, errors.New("-cert and -key go together")
	}
	if t.cert == "" {
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(t.cert, t.key)
	if err != nil {
		return nil, fmt.Errorf("-cert/-key: %w", err)
	}
	return []tls.Certificate{c}, nil
}

// clientConfig returns the TLS configuration the flags ask for, or nil
// for the defaults.
func (t *tlsFlags) clientConfig() (*tls.Config, error) {
	if *t == (tlsFlags{}) {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: t.insecure}
	var err error
	if cfg.Certificates, err = t.keyPair(); err != nil {
		return nil, err
	}
	if t.cacert != "" {
		if cfg.RootCAs, err = t.pool(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// serverConfig returns the server's TLS configuration, or nil without
// -cert.
func (t *tlsFlags) serverConfig() (*tls.Config, error) {
	certs, err := t.keyPair()
	if err != nil || certs == nil {
		if err == nil && t.cacert != "" {
			err = errors.New("-cacert needs -cert and -key")
		}
		return nil, err
	}
	cfg := &tls.Config{Certificates: certs, NextProtos: []string{"http/1.1"}}
	if t.cacert != "" {
		if cfg.ClientCAs, err = t.pool(); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// parseArgs parses flags wherever they stand among the arguments, so
// that `wsd client URL -count 1` works as `wsd client -count 1 URL`, and
// returns the other arguments. "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), nil
		}
		if len(left) == 0 {
			return rest, nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// parseCommand parses a command's flags. On -h it prints the command's
// help to stdout and returns exitOK; on a bad flag it returns exitUsage;
// otherwise it returns the arguments left and -1.
func parseCommand(fs *flag.FlagSet, args []string, help string, stdout, stderr io.Writer) ([]string, int) {
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	rest, err := parseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		commandUsage(stdout, fs, help)
		return nil, exitOK
	case err != nil:
		fmt.Fprintf(stderr, "run '%s -h' for help\n", fs.Name())
		return nil, exitUsage
	}
	return rest, -1
}
