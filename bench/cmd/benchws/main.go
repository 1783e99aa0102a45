// Command benchws benchmarks WebSocket echo servers against each other.
//
// Usage:
//
//	benchws run [flags]     measure the servers and write the report
//	benchws serve [flags]   run one echo server (run starts these itself)
//	benchws list            print the names of the servers
//
// "run" starts every server in a process of its own (by running this same
// binary with "serve"), so that the server's memory can be read from
// /proc/PID/status and the load generator never shares a process with it.
// It is meant for Linux.
package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/wsd-go/wsd/bench/servers"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	raiseNoFile()
	var err error
	switch os.Args[1] {
	case "run":
		err = runMain(os.Args[2:])
	case "serve":
		err = serveMain(os.Args[2:])
	case "list":
		fmt.Println(strings.Join(servers.Names(), "\n"))
	case "-h", "-help", "--help", "help":
		usage()
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchws:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, `usage:
  benchws run [flags]     measure the servers and write the report ("benchws run -h" for flags)
  benchws serve [flags]   run one echo server ("benchws serve -h" for flags)
  benchws list            print the names of the servers

servers: %s
`, strings.Join(servers.Names(), ", "))
}

// raiseNoFile raises the soft limit on open files to the hard limit, so
// that thousands of connections can be open at once.
func raiseNoFile() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// noFileLimit returns the current soft limit on open files.
func noFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return lim.Cur
}
