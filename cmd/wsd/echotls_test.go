//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// TestEchoSelfSigned serves wss:// with a self-signed certificate, which
// the client pins by the fingerprint the command printed, over HTTP/2
// and HTTP/1.1.
func TestEchoSelfSigned(t *testing.T) {
	bin := buildWsd(t)
	cmd := exec.Command(bin, "echo", "-addr", "127.0.0.1:0", "-tls-self-signed")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	br := bufio.NewReader(stdout)
	first, _ := br.ReadString('\n')
	_, fp, ok := strings.Cut(strings.TrimSpace(first), "SHA-256 fingerprint ")
	if !ok {
		t.Fatalf("first line %q, want the fingerprint", first)
	}
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on wss://127.0.0.1:") {
		t.Fatalf("second line %q, %v", line, err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	pin := &tls.Config{
		InsecureSkipVerify: true, // checked below, against the fingerprint
		VerifyConnection: func(cs tls.ConnectionState) error {
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != strings.ReplaceAll(fp, ":", "") {
				return fmt.Errorf("certificate %s, want %s", got, fp)
			}
			return nil
		},
	}
	closed := make(chan int, 2)
	for _, mode := range []wsd.HTTP2Mode{wsd.HTTP2Only, wsd.HTTP2Off} {
		c, err := wsd.NewClient(url+"/x", &wsd.Options{HTTP2: mode, TLSConfig: pin})
		if err != nil {
			t.Fatal(err)
		}
		msgs := make(chan string, 1)
		c.OnMessage(func(m wsd.Message) { msgs <- string(m.Data) })
		c.OnClose(func(code int, _ string) { closed <- code })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.Start(ctx)
		cancel()
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		if c.HTTP2() != (mode == wsd.HTTP2Only) {
			t.Errorf("mode %v: HTTP2() = %v", mode, c.HTTP2())
		}
		c.SendText("over TLS")
		select {
		case m := <-msgs:
			if m != "over TLS" {
				t.Errorf("echo %q", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no echo")
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for range 2 {
		select {
		case code := <-closed:
			if code != 1001 {
				t.Errorf("close %d, want 1001", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no close after SIGTERM")
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("wait: %v", err)
		} else if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
}

func TestEchoTLSFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"echo", "-tls-cert", "cert.pem"},
		{"echo", "-tls-self-signed", "-tls-key", "key.pem"},
		{"echo", "-tls-self-signed", "-engine", "epoll"},
	} {
		var stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), os.Stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: nothing on stderr", args)
		}
	}
}

// TestClientHTTP2 runs wsd client -http2 against wsd echo -tls-self-signed.
func TestClientHTTP2(t *testing.T) {
	bin := buildWsd(t)
	srv := exec.Command(bin, "echo", "-addr", "127.0.0.1:0", "-tls-self-signed")
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	br := bufio.NewReader(stdout)
	br.ReadString('\n') // the fingerprint
	line, _ := br.ReadString('\n')
	url := strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	if !strings.HasPrefix(url, "wss://") {
		t.Fatalf("server said %q", line)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "client", "-http2", "-insecure", "-v", "-send", "over h2", "-count", "1", "-timeout", "10s", url+"/")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("wsd client -http2: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "over h2") || !strings.Contains(errOut.String(), "over HTTP/2") || !strings.Contains(errOut.String(), "> CONNECT / HTTP/2") {
		t.Errorf("stdout %q, stderr %q: want the echo, and the handshake over HTTP/2", out.String(), errOut.String())
	}
	// -http2 on ws:// is refused.
	cmd = exec.Command(bin, "client", "-http2", "-send", "x", "-count", "1", "-timeout", "5s", "ws://127.0.0.1:1/")
	var e2 bytes.Buffer
	cmd.Stderr = &e2
	if err := cmd.Run(); err == nil || !strings.Contains(e2.String(), "HTTP/2") {
		t.Errorf("-http2 on ws://: %v, stderr %q", err, e2.String())
	}
}
