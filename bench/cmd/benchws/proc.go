package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serverProc is an echo server running in a child process.
type serverProc struct {
	name  string
	addr  string // host:port it listens on
	cmd   *exec.Cmd
	stdin io.WriteCloser // closing it makes the child exit
	log   *limitedBuffer // the child's standard error
	exit  chan struct{}  // closed when the child has exited
}

// startServer runs "benchws serve -impl name" in a new process, with
// -deflate if deflate is set and on CPU 0 if pin is, and waits until it
// reports the address it listens on.
func startServer(name string, deflate, pin bool) (*serverProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	s := &serverProc{name: name, log: &limitedBuffer{max: 64 << 10}, exit: make(chan struct{})}
	args := []string{"serve", "-impl", name, "-addr", "127.0.0.1:0", "-watch-stdin"}
	if deflate {
		args = append(args, "-deflate")
	}
	if pin {
		args = append([]string{"-c", "0", exe}, args...)
		exe = "taskset"
	}
	s.cmd = exec.Command(exe, args...)
	s.cmd.Stderr = s.log
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	// An os.Pipe rather than StdoutPipe, because the output is read while
	// another goroutine waits for the child.
	stdout, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout = w
	err = s.cmd.Start()
	w.Close()
	if err != nil {
		stdout.Close()
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exit)
	}()

	// Read output lines until the address shows up; keep draining the
	// output afterwards so the child never blocks on a full pipe.
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on ws://"); ok {
				select {
				case found <- strings.TrimSuffix(a, "/"):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		stdout.Close()
	}()
	select {
	case s.addr = <-found:
		return s, nil
	case <-s.exit:
		return nil, fmt.Errorf("server %s exited before listening: %s", name, s.log.String())
	case <-time.After(10 * time.Second):
		s.stop()
		return nil, fmt.Errorf("server %s did not report its address within 10s", name)
	}
}

// pid returns the child's process id.
func (s *serverProc) pid() int { return s.cmd.Process.Pid }

// alive reports an error if the child has exited.
func (s *serverProc) alive() error {
	select {
	case <-s.exit:
		return fmt.Errorf("server %s exited unexpectedly: %s", s.name, s.log.String())
	default:
		return nil
	}
}

// rss returns the child's resident set size in bytes, from the VmRSS line
// of /proc/PID/status.
func (s *serverProc) rss() (int64, error) {
	return readRSS(s.pid())
}

// stop kills the child by its process id and waits for it to exit.
func (s *serverProc) stop() {
	_ = s.stdin.Close()
	_ = s.cmd.Process.Kill()
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
	}
}

// cpuTime returns the CPU time (user and system, all threads) the child
// has used, from /proc/PID/stat.
func (s *serverProc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid()) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th, in clock ticks of
	// 1/100 s (USER_HZ).
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc/PID/stat format")
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// readRSS returns VmRSS of process pid in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // e.g. "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS line in /proc/" + strconv.Itoa(pid) + "/status")
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
