package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// dialFunc opens a TCP connection, as wsd.Options.DialContext does.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// proxyFor returns the proxy to reach the WebSocket URL u through: the
// -proxy flag's if given ("" means the environment's HTTPS_PROXY for
// wss://, HTTP_PROXY for ws://, minus NO_PROXY), or nil for none.
func proxyFor(u *url.URL, flagValue string) (*url.URL, error) {
	if flagValue != "" {
		p, err := url.Parse(flagValue)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("-proxy %q: want http://host:port or https://host:port", flagValue)
		}
		return p, nil
	}
	scheme := "http"
	if u.Scheme == "wss" {
		scheme = "https"
	}
	return http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: scheme, Host: u.Host}})
}

// proxyDialer returns a dialer that asks the HTTP proxy p to CONNECT to
// the address, or a plain dialer when p is nil.
func proxyDialer(p *url.URL) dialFunc {
	var d net.Dialer
	if p == nil {
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		paddr := p.Host
		if p.Port() == "" {
			port := "80"
			if p.Scheme == "https" {
				port = "443"
			}
			paddr = net.JoinHostPort(p.Hostname(), port)
		}
		nc, err := d.DialContext(ctx, network, paddr)
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", paddr, err)
		}
		// The context's end cuts the exchange with the proxy short.
		stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
		defer stop()
		if p.Scheme == "https" {
			tc := tls.Client(nc, &tls.Config{ServerName: p.Hostname()})
			if err := tc.HandshakeContext(ctx); err != nil {
				nc.Close()
				return nil, fmt.Errorf("proxy %s: %w", paddr, err)
			}
			nc = tc
		}
		req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
		if p.User != nil {
			pass, _ := p.User.Password()
			cred := base64.StdEncoding.EncodeToString([]byte(p.User.Username() + ":" + pass))
			req += "Proxy-Authorization: Basic " + cred + "\r\n"
		}
		br := bufio.NewReader(nc)
		var resp *http.Response
		if _, err = nc.Write([]byte(req + "\r\n")); err == nil {
			resp, err = http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		}
		if err != nil {
			nc.Close()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("proxy %s: CONNECT %s: %w", paddr, addr, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			nc.Close()
			return nil, fmt.Errorf("proxy %s refused CONNECT %s: %s", paddr, addr, resp.Status)
		}
		if !stop() {
			nc.Close()
			return nil, fmt.Errorf("proxy %s: %w", paddr, ctx.Err())
		}
		nc.SetDeadline(time.Time{})
		if br.Buffered() > 0 {
			return &bufferedConn{nc, br}, nil
		}
		return nc, nil
	}
}

// bufferedConn is a connection whose first bytes were read ahead.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
