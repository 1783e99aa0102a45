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
	t        *testing.T
	socket   string
	exitFile string
}

// newTmux runs the shell command in a new tmux server of the test's own,
// which the test's cleanup kills.
func newTmux(t *testing.T, command string) *tmux {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	m := &tmux{t: t, socket: fmt.Sprintf("wsd-test-%d-%d", os.Getpid(), time.Now().UnixNano()), exitFile: filepath.Join(t.TempDir(), "exit")}
	m.run("new-session", "-d", "-x", "100", "-y", "20", fmt.Sprintf("%s; echo $? > %s; sleep 60", command, m.exitFile))
	t.Cleanup(func() { exec.Command("tmux", "-L", m.socket, "kill-server").Run() })
	return m
}

// exitCode waits for the command to end and returns its exit status.
func (m *tmux) exitCode() string {
	m.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(m.exitFile)
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
		if time.Now().After(deadline) {
			m.t.Fatal("the command did not exit")
		}
		time.Sleep(30 * time.Millisecond)
	}
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
	m := newTmux(t, wsdBin+" client "+url)
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
	if code := m.exitCode(); code != "0" {
		t.Errorf("exit %s", code)
	}
}

func TestClientInterrupt(t *testing.T) {
	url, _ := echoRecorder(t, nil)
	m := newTmux(t, wsdBin+" client "+url+"; c=$?; stty -a | grep -o -- '-*icanon'; (exit $c)")
	m.waitScreen("connected")
	m.run("send-keys", "C-c")
	m.waitScreen("closed: 1000")
	if code := m.exitCode(); code != "0" {
		t.Errorf("exit %s after Ctrl-C", code)
	}
	// The terminal is back in line mode.
	screen := m.waitScreen("icanon")
	if strings.Contains(screen, "-icanon") {
		t.Errorf("terminal left in raw mode:\n%s", screen)
	}
}

func TestBenchProgress(t *testing.T) {
	url, _ := startServer(t, "echo")
	m := newTmux(t, wsdBin+" bench -conns 2 -duration 2500ms "+url)
	m.waitScreen("messages/s  p99")
	m.waitScreen("errors     none")
	if code := m.exitCode(); code != "0" {
		t.Errorf("exit %s", code)
	}
}
