//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsd-go/wsd"
)

// tmux runs wsd in a real terminal: keys are typed, the screen is read.
type tmux struct {
	t      *testing.T
	socket string
}

func (m *tmux) run(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", m.socket}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %q: %v %s", args, err, out)
	}
	return string(out)
}

// waitScreen waits until the screen shows want, and returns it.
func (m *tmux) waitScreen(want string) string {
	m.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		screen := m.run("capture-pane", "-p")
		if strings.Contains(screen, want) {
			return screen
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("screen lacks %q:\n%s", want, screen)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func TestClientLineEditing(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	got := make(chan string, 10)
	url := server(t, func(ws *wsd.Conn) {
		ws.OnMessage(func(m wsd.Message) {
			got <- m.String()
			if m.String() == "news please" {
				// Arrives while the next line is being typed.
				time.AfterFunc(300*time.Millisecond, func() { ws.SendText("news") })
			}
		})
	})
	exitFile := filepath.Join(t.TempDir(), "exit")
	m := &tmux{t, fmt.Sprintf("wsd-test-%d", os.Getpid())}
	m.run("new-session", "-d", "-x", "100", "-y", "20",
		fmt.Sprintf("%s client %s; echo $? > %s; sleep 60", wsdBin, url, exitFile))
	t.Cleanup(func() { exec.Command("tmux", "-L", m.socket, "kill-server").Run() })
	m.waitScreen("connected")

	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"helo", "Left", "l", "Enter"}, "hello"},                        // insert mid-line
		{[]string{"Up", "Home", "x", "End", "!", "Enter"}, "xhello!"},            // history, Home, End
		{[]string{"abc def", "C-w", "C-a", "C-k", "zz", "BSpace", "Enter"}, "z"}, // word and line kills
		{[]string{"a-b", "Left", "Left", "DC", "Enter"}, "ab"},                   // Delete
		{[]string{"C-u", "news please", "Enter"}, "news please"},
	} {
		args := append([]string{"send-keys"}, tc.keys...)
		m.run(args...)
		select {
		case s := <-got:
			if s != tc.want {
				t.Errorf("keys %q sent %q, want %q", tc.keys, s, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("keys %q: nothing sent", tc.keys)
		}
	}
	// A message that comes while a line is typed goes above it.
	m.run("send-keys", "partial")
	screen := m.waitScreen("< news")
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	if last := strings.TrimSpace(lines[len(lines)-1]); last != "> partial" {
		t.Errorf("last line %q, want the line being typed; screen:\n%s", last, screen)
	}
	// Ctrl-D on an empty line closes normally.
	m.run("send-keys", "C-u", "C-d")
	m.waitScreen("closed: 1000")
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(exitFile)
		if s := strings.TrimSpace(string(b)); s != "" {
			if s != "0" {
				t.Errorf("exit %s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("wsd client did not exit")
		}
		time.Sleep(30 * time.Millisecond)
	}
}
