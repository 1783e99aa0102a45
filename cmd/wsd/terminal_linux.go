package main

import (
	"os"
	"syscall"
	"unsafe"
)

// isTerminal says whether r is a terminal: /dev/null and other
// character devices are not.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	_, err := getTermios(f.Fd())
	return err == nil
}

func getTermios(fd uintptr) (*syscall.Termios, error) {
	var t syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); e != 0 {
		return nil, e
	}
	return &t, nil
}

func setTermios(fd uintptr, t *syscall.Termios) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(t))); e != 0 {
		return e
	}
	return nil
}

// makeRaw turns off the terminal's line editing and echo, keeping its
// signals (Ctrl-C) and output processing, and returns the undo.
func makeRaw(f *os.File) (func(), error) {
	old, err := getTermios(f.Fd())
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Lflag &^= syscall.ICANON | syscall.ECHO | syscall.IEXTEN
	raw.Iflag &^= syscall.ICRNL | syscall.IXON
	raw.Cc[syscall.VMIN], raw.Cc[syscall.VTIME] = 1, 0
	if err := setTermios(f.Fd(), &raw); err != nil {
		return nil, err
	}
	return func() { setTermios(f.Fd(), old) }, nil
}
