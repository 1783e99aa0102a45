package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsd-go/wsd/bench/internal/wsclient"
)

var nan = math.NaN()

// metricDef describes one reported metric.
type metricDef struct {
	key    string // key of its samples
	group  string // the table it appears in
	column string // its column heading
	higher bool   // whether higher values are better
	ratio  bool   // whether it is compared with the best peer
	chart  string // its label in the chart, or "" to leave it out
}

// metricDefs lists the metrics of the chosen scenarios in report order.
func metricDefs(cfg *config) []metricDef {
	var defs []metricDef
	for _, sc := range cfg.scenarios {
		switch sc.name {
		case "echo":
			for _, size := range cfg.sizes {
				n := sizeName(size)
				g := fmt.Sprintf("Echo round trips, %s messages, %d connections", n, cfg.conns)
				defs = append(defs,
					metricDef{"echo-" + n + "-rate", g, "round trips/s", true, true, "echo " + n},
					metricDef{"echo-" + n + "-mbps", g, "MB/s", true, true, ""},
					metricDef{"echo-" + n + "-p50", g, "p50 latency (µs)", false, true, ""},
					metricDef{"echo-" + n + "-p99", g, "p99 latency (µs)", false, true, ""},
					metricDef{"echo-" + n + "-cpu", g, "server CPU µs per round trip", false, true, ""},
				)
			}
		case "deflate":
			for _, size := range cfg.deflateSizes {
				n := sizeName(size)
				g := fmt.Sprintf("permessage-deflate echo, %s JSON messages, %d connections", n, cfg.conns)
				k := "deflate-" + n
				defs = append(defs,
					metricDef{k + "-rate", g, "round trips/s", true, true, "deflate " + n},
					metricDef{k + "-mbps", g, "MB/s", true, true, ""},
					metricDef{k + "-p50", g, "p50 latency (µs)", false, true, ""},
					metricDef{k + "-p99", g, "p99 latency (µs)", false, true, ""},
					metricDef{k + "-cpu", g, "server CPU µs per round trip", false, true, ""},
					metricDef{k + "-ratio", g, "echo compressed / payload", false, false, ""},
				)
			}
		case "pipelined":
			g := fmt.Sprintf("Pipelined echo, %s messages, %d connections × %d in flight",
				sizeName(cfg.pipeSize), cfg.conns, cfg.inflight)
			defs = append(defs,
				metricDef{"pipe-rate", g, "messages/s", true, true, "pipelined"},
				metricDef{"pipe-cpu", g, "server CPU µs per message", false, true, ""},
			)
		case "many":
			g := fmt.Sprintf("Echo round trips, %d B messages, %d connections", manySize, cfg.many)
			defs = append(defs,
				metricDef{"many-rate", g, "round trips/s", true, true, fmt.Sprintf("echo ×%d", cfg.many)},
				metricDef{"many-p50", g, "p50 latency (µs)", false, true, ""},
				metricDef{"many-p99", g, "p99 latency (µs)", false, true, ""},
				metricDef{"many-cpu", g, "server CPU µs per round trip", false, true, ""},
			)
		case "idle":
			g := fmt.Sprintf("Idle memory, %d connections", cfg.idle)
			defs = append(defs,
				metricDef{"idle-perconn", g, "server bytes per connection", false, true, "idle memory"},
				metricDef{"idle-before", g, "server RSS before (MiB)", false, false, ""},
				metricDef{"idle-after", g, "server RSS after (MiB)", false, false, ""},
			)
		case "handshake":
			g := fmt.Sprintf("Connection lifetimes, %d workers", cfg.hsWorkers)
			defs = append(defs,
				metricDef{"hs-rate", g, "handshakes/s", true, true, "handshakes"},
				metricDef{"hs-failed", g, "failed lifetimes", false, false, ""},
			)
		}
	}
	return defs
}

// table holds the medians of one run and the best peer of every metric.
type table struct {
	servers []string
	value   map[string]map[string]float64 // server, metric key
	best    map[string]float64            // metric key
}

func newTable(cfg *config, defs []metricDef, res results) *table {
	t := &table{servers: cfg.servers, value: map[string]map[string]float64{}, best: map[string]float64{}}
	for _, s := range cfg.servers {
		t.value[s] = map[string]float64{}
		for _, d := range defs {
			t.value[s][d.key] = median(res[s][d.key])
		}
	}
	// The best peer leaves out our own server, unless it is all there is.
	peers := []string{}
	for _, s := range cfg.servers {
		if !isOwn(s) {
			peers = append(peers, s)
		}
	}
	if len(peers) == 0 {
		peers = cfg.servers
	}
	for _, d := range defs {
		best := nan
		for _, s := range peers {
			v := t.value[s][d.key]
			if math.IsNaN(v) {
				continue
			}
			if math.IsNaN(best) || (d.higher && v > best) || (!d.higher && v < best) {
				best = v
			}
		}
		t.best[d.key] = best
	}
	return t
}

// ratio returns value / best peer, or NaN where that means nothing.
func (t *table) ratio(server string, d metricDef) float64 {
	v, b := t.value[server][d.key], t.best[d.key]
	if !d.ratio || math.IsNaN(v) || math.IsNaN(b) || b <= 0 || v < 0 {
		return nan
	}
	return v / b
}

// score returns the performance relative to the best peer with higher
// always better: value/best for throughput, best/value for latency and
// memory.
func (t *table) score(server string, d metricDef) float64 {
	r := t.ratio(server, d)
	if math.IsNaN(r) || d.higher {
		return r
	}
	if r == 0 {
		return nan
	}
	return 1 / r
}

// num formats a measured value with a precision that suits its size.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "–"
	case a >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratioText(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	return fmt.Sprintf("%.2f", r)
}

// printSummary prints one line per metric and one column per server:
// the value and, in parentheses, its ratio to the best peer.
func printSummary(w io.Writer, cfg *config, defs []metricDef, res results) {
	t := newTable(cfg, defs, res)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "\nmetric\t")
	for _, s := range t.servers {
		fmt.Fprintf(tw, "%s\t", s)
	}
	fmt.Fprintln(tw)
	for _, d := range defs {
		short := strings.SplitN(d.group, ",", 2)[0]
		if f := strings.Split(d.key, "-"); f[0] == "echo" || f[0] == "deflate" {
			short = f[0] + " " + f[1]
		}
		fmt.Fprintf(tw, "%s: %s\t", short, d.column)
		for _, s := range t.servers {
			if d.ratio {
				fmt.Fprintf(tw, "%s (%s)\t", num(t.value[s][d.key]), ratioText(t.ratio(s, d)))
			} else {
				fmt.Fprintf(tw, "%s\t", num(t.value[s][d.key]))
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n(value (ratio to the best peer); for latency and memory lower is better)")
}

// writeReport writes the markdown report and the SVG chart.
func writeReport(cfg *config, defs []metricDef, res results) error {
	t := newTable(cfg, defs, res)
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.svg), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.svg, []byte(chartSVG(t, defs)), 0o644); err != nil {
		return err
	}
	f, err := os.Create(cfg.out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	markdown(w, cfg, defs, t)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func markdown(w io.Writer, cfg *config, defs []metricDef, t *table) {
	fmt.Fprintln(w, "# WebSocket echo server benchmarks")
	fmt.Fprintln(w)
	if cfg.quick {
		fmt.Fprintln(w, "> **Quick smoke run:** durations are too short for the numbers to mean anything.")
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Generated by `benchws run` (see `bench/README.md`).")
	fmt.Fprintln(w)
	if rel, err := filepath.Rel(filepath.Dir(cfg.out), cfg.svg); err == nil {
		fmt.Fprintf(w, "![Performance relative to the best peer library](%s)\n\n", filepath.ToSlash(rel))
	}

	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| | |")
	fmt.Fprintln(w, "|---|---|")
	for _, kv := range machineInfo() {
		fmt.Fprintf(w, "| %s | %s |\n", kv[0], kv[1])
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "## Method")
	fmt.Fprintln(w)
	for _, line := range methodLines(cfg) {
		fmt.Fprintln(w, "- "+line)
	}
	fmt.Fprintln(w)

	if mods := moduleVersions(); len(mods) > 0 {
		fmt.Fprintln(w, "Modules in the benchmark binary:")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| module | version |")
		fmt.Fprintln(w, "|---|---|")
		for _, m := range mods {
			fmt.Fprintf(w, "| %s | %s |\n", m[0], m[1])
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "## Results")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Each value is the median of %d round(s). Each \"ratio\" column divides the value by the best peer library's (%q excluded), so the best peer is 1.00; "+
		"for throughput higher is better, for latency and memory lower is better.\n\n", cfg.rounds, ownServer)
	for i := 0; i < len(defs); {
		group := defs[i].group
		j := i
		for j < len(defs) && defs[j].group == group {
			j++
		}
		cols := defs[i:j]
		fmt.Fprintf(w, "### %s\n\n", group)
		fmt.Fprint(w, "| server |")
		for _, d := range cols {
			if d.ratio {
				fmt.Fprintf(w, " %s | ratio |", d.column)
			} else {
				fmt.Fprintf(w, " %s |", d.column)
			}
		}
		fmt.Fprint(w, "\n|---|")
		for _, d := range cols {
			if d.ratio {
				fmt.Fprint(w, "--:|--:|")
			} else {
				fmt.Fprint(w, "--:|")
			}
		}
		fmt.Fprintln(w)
		for _, s := range t.servers {
			fmt.Fprintf(w, "| %s |", s)
			for _, d := range cols {
				fmt.Fprintf(w, " %s |", num(t.value[s][d.key]))
				if d.ratio {
					fmt.Fprintf(w, " %s |", ratioText(t.ratio(s, d)))
				}
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
		i = j
	}
}

func methodLines(cfg *config) []string {
	names := make([]string, len(cfg.scenarios))
	for i, sc := range cfg.scenarios {
		names[i] = sc.name
	}
	return []string{
		fmt.Sprintf("Servers: %s. Scenarios: %s.", strings.Join(cfg.servers, ", "), strings.Join(names, ", ")),
		"Every server is an echo server: it sends each text or binary message back with the same type. Compression is off everywhere except in the deflate scenario. " +
			"The server code is in `bench/servers/`, one file per library, written the way each library's documentation recommends.",
		"Every measurement starts a fresh server process, separate from the load generator, on 127.0.0.1, and kills it afterwards by its PID. " +
			"Server memory is its resident set size (VmRSS in /proc/PID/status).",
		pinLine(cfg),
		"The load generator is a minimal client on raw TCP connections: masked single-frame messages, one write per message (or per batch when pipelining), buffered reads. " +
			"Payloads follow a pattern derived from the connection and message number, and every echoed byte is checked; a mismatch aborts the run.",
		fmt.Sprintf("Each timed measurement has a %v warm-up, then counts what completes within %v. There are %d round(s); "+
			"within a round the servers take turns scenario by scenario, in an order that rotates from round to round.", cfg.warmup, cfg.duration, cfg.rounds),
		fmt.Sprintf("Echo: %d connections each send a message, wait for the echo and send the next, for each size; messages alternate between binary and text. "+
			"MB/s counts the payload one way. Latency is the time from the start of the write to the end of the echo, kept in a log-linear histogram (about 3%% resolution).", cfg.conns),
		"Server CPU is the user and system time of the server's process (all threads, from /proc/PID/stat, 10 ms ticks) during the timed measurement, " +
			"divided by the round trips or messages completed in it.",
		fmt.Sprintf("Pipelined: %d connections each keep %d messages of %s in flight, with a writer and a reader goroutine per connection.",
			cfg.conns, cfg.inflight, sizeName(cfg.pipeSize)),
		fmt.Sprintf("Many connections: the echo scenario with %d-byte messages over %d connections, each with one message in flight.", manySize, cfg.many),
		fmt.Sprintf("Deflate: echo round trips as above with permessage-deflate, offered as %q and accepted by every server, each configured to compress every message it sends "+
			"at level 1, the fastest (every library's default, set explicitly for gobwas). Messages are JSON-like records, %d variants per size, compressed once in advance by the load generator; "+
			"every echo must come back compressed and is inflated and compared byte for byte. MB/s counts the uncompressed payload one way; "+
			"\"echo compressed / payload\" is the size of the server's compressed echoes relative to the payload (informational, not ranked).",
			wsclient.DeflateOffer, deflateVariants),
		fmt.Sprintf("Idle memory: the server's RSS is read %v after it starts and %v after %d connections have completed their handshakes; "+
			"the difference divided by the number of connections is the cost per connection. Then each connection must still echo a message.",
			cfg.settle, cfg.settle, cfg.idle),
		fmt.Sprintf("Handshakes: %d workers each repeat: connect, opening handshake, one 32-byte echo, closing handshake (close frames both ways, "+
			"then the client waits up to 1s for the server to close the TCP connection). Lifetimes that fail without a wrong echo are counted as failed, not as handshakes.", cfg.hsWorkers),
	}
}

// machineInfo describes the machine the run happened on.
func machineInfo() [][2]string {
	// The machine's CPUs, not this process's: a pinned run sees one.
	cpu, cpus := "unknown", runtime.NumCPU()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n := 0
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(line, ":")
			switch k = strings.TrimSpace(k); {
			case !ok:
			case k == "processor":
				n++
			case k == "model name" && cpu == "unknown":
				cpu = strings.TrimSpace(v)
			}
		}
		cpus = max(cpus, n)
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
					mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", kernel " + strings.TrimSpace(string(b))
	}
	return [][2]string{
		{"CPU", cpu},
		{"Logical CPUs", fmt.Sprint(cpus)},
		{"Memory", mem},
		{"Go", runtime.Version()},
		{"OS", runtime.GOOS + "/" + runtime.GOARCH + kernel},
		{"Date", time.Now().UTC().Format("2006-01-02 15:04 UTC")},
	}
}

// moduleVersions lists the modules built into the binary.
func moduleVersions() [][2]string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	var mods [][2]string
	for _, m := range info.Deps {
		version := m.Version
		if r := m.Replace; r != nil {
			version = r.Version
			if version == "" {
				version = "local " + r.Path
			}
		}
		mods = append(mods, [2]string{m.Path, version})
	}
	return mods
}

func pinLine(cfg *config) string {
	if cfg.pin {
		return "Pinned: every server process runs on CPU 0 only and the load generator on CPU 1 only (taskset), so each has one core to itself and GOMAXPROCS=1."
	}
	return "Not pinned: servers and the load generator share all cores."
}
