package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsd-go/wsd/bench/servers"
)

// config holds the settings of a run.
type config struct {
	servers   []string
	scenarios []scenario
	rounds    int
	warmup    time.Duration
	duration  time.Duration
	settle    time.Duration
	conns     int
	sizes     []int
	inflight  int
	pipeSize  int
	idle      int
	many      int
	hsWorkers int

	deflateSizes    []int
	deflatePayloads map[int][]deflatePayload // by size, when "deflate" runs

	out   string
	svg   string
	quick bool
	pin   bool // servers on CPU 0, the load generator on CPU 1
}

// ownServer is the name of the library the benchmark is written for. Its
// servers ("wsd", and "wsd-..." for its other transports) are left out
// when picking the best peer that the ratios compare against.
const ownServer = "wsd"

func isOwn(name string) bool { return name == ownServer || strings.HasPrefix(name, ownServer+"-") }

func runMain(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	serverList := fs.String("servers", "", "comma-separated servers to measure (default all: "+strings.Join(servers.Names(), ",")+")")
	scenarioList := fs.String("scenarios", "echo,pipelined,many,deflate,idle,handshake", "comma-separated scenarios to run")
	rounds := fs.Int("rounds", 3, "rounds; each round measures every server once per scenario, the report shows the median")
	warmup := fs.Duration("warmup", time.Second, "warm-up before each timed measurement")
	duration := fs.Duration("d", 3*time.Second, "length of each timed measurement")
	settle := fs.Duration("settle", time.Second, "pause before each memory reading")
	conns := fs.Int("conns", 64, "connections for the echo, pipelined and deflate scenarios")
	sizes := fs.String("sizes", "32,1KiB,64KiB,1MiB", "message sizes for the echo scenario")
	deflateSizes := fs.String("deflate-sizes", "1KiB,64KiB", "message sizes for the deflate scenario")
	inflight := fs.Int("inflight", 16, "messages in flight per connection in the pipelined scenario")
	pipeSize := fs.String("pipe-size", "1KiB", "message size in the pipelined scenario")
	idle := fs.Int("idle", 10000, "connections for the idle memory scenario")
	many := fs.Int("many", 10000, "connections for the many-connections echo scenario")
	hsWorkers := fs.Int("hs-workers", 4, "concurrent workers in the handshake scenario")
	out := fs.String("out", "../docs/benchmarks.md", "markdown report to write (the default is the repository's docs/ seen from bench/)")
	svg := fs.String("svg", "", "SVG chart to write (default benchmarks.svg next to the report)")
	pin := fs.Bool("pin", false, "run the servers on CPU 0 and the load generator on CPU 1 (with taskset), so that they do not compete for cores")
	quick := fs.Bool("quick", false, "smoke test: short durations, 1 round, 16 connections, 200 idle connections; the report goes to a temporary directory unless -out is given")
	_ = fs.Parse(args)
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	if *pin && os.Getenv(pinnedEnv) == "" {
		return runPinned()
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		// Quick defaults apply to every flag not given explicitly.
		quickDefaults := map[string]func(){
			"rounds":     func() { *rounds = 1 },
			"warmup":     func() { *warmup = 100 * time.Millisecond },
			"d":          func() { *duration = 300 * time.Millisecond },
			"settle":     func() { *settle = 200 * time.Millisecond },
			"conns":      func() { *conns = 16 },
			"idle":       func() { *idle = 200 },
			"many":       func() { *many = 200 },
			"hs-workers": func() { *hsWorkers = 2 },
			"out":        func() { *out = filepath.Join(os.TempDir(), "benchws-quick", "benchmarks.md") },
		}
		for name, apply := range quickDefaults {
			if !set[name] {
				apply()
			}
		}
	}

	cfg := &config{
		rounds: *rounds, warmup: *warmup, duration: *duration, settle: *settle,
		conns: *conns, inflight: *inflight, idle: *idle, many: *many, hsWorkers: *hsWorkers,
		out: *out, svg: *svg, quick: *quick, pin: *pin,
	}
	if cfg.svg == "" {
		cfg.svg = filepath.Join(filepath.Dir(cfg.out), "benchmarks.svg")
	}
	var err error
	if cfg.servers, err = pickServers(*serverList); err != nil {
		return err
	}
	if cfg.scenarios, err = pickScenarios(*scenarioList); err != nil {
		return err
	}
	if cfg.sizes, err = parseSizes(*sizes); err != nil {
		return err
	}
	if cfg.deflateSizes, err = parseSizes(*deflateSizes); err != nil {
		return err
	}
	if slices.ContainsFunc(cfg.scenarios, func(s scenario) bool { return s.deflate }) {
		if cfg.deflatePayloads, err = makeDeflatePayloads(cfg.deflateSizes); err != nil {
			return err
		}
	}
	ps, err := parseSizes(*pipeSize)
	if err != nil || len(ps) != 1 {
		return fmt.Errorf("bad -pipe-size %q", *pipeSize)
	}
	cfg.pipeSize = ps[0]
	if cfg.rounds < 1 || cfg.conns < 1 || cfg.inflight < 1 || cfg.idle < 1 || cfg.many < 1 || cfg.hsWorkers < 1 || cfg.duration <= 0 {
		return errors.New("-rounds, -conns, -inflight, -idle, -many, -hs-workers and -d must be positive")
	}

	res, err := measure(cfg)
	if err != nil {
		return err
	}
	defs := metricDefs(cfg)
	printSummary(os.Stdout, cfg, defs, res)
	if err := writeReport(cfg, defs, res); err != nil {
		return err
	}
	fmt.Printf("\nreport: %s\nchart:  %s\n", cfg.out, cfg.svg)
	return nil
}

func pickServers(list string) ([]string, error) {
	if list == "" {
		return servers.Names(), nil
	}
	var names []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := servers.Get(name); !ok {
			return nil, fmt.Errorf("unknown server %q; known: %s", name, strings.Join(servers.Names(), ", "))
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

func pickScenarios(list string) ([]scenario, error) {
	var picked []scenario
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(allScenarios, func(s scenario) bool { return s.name == name })
		if i < 0 {
			known := make([]string, len(allScenarios))
			for j, s := range allScenarios {
				known[j] = s.name
			}
			return nil, fmt.Errorf("unknown scenario %q; known: %s", name, strings.Join(known, ", "))
		}
		picked = append(picked, allScenarios[i])
	}
	// Keep the canonical order whatever the order of the flag.
	slices.SortFunc(picked, func(a, b scenario) int {
		return slices.IndexFunc(allScenarios, func(s scenario) bool { return s.name == a.name }) -
			slices.IndexFunc(allScenarios, func(s scenario) bool { return s.name == b.name })
	})
	return slices.CompactFunc(picked, func(a, b scenario) bool { return a.name == b.name }), nil
}

// parseSizes parses "32,1KiB,64KiB,1MiB" (plain numbers are bytes).
func parseSizes(list string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		mult := 1
		switch {
		case strings.HasSuffix(f, "KiB"):
			mult, f = 1<<10, strings.TrimSuffix(f, "KiB")
		case strings.HasSuffix(f, "MiB"):
			mult, f = 1<<20, strings.TrimSuffix(f, "MiB")
		case strings.HasSuffix(f, "B"):
			f = strings.TrimSuffix(f, "B")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n*mult > 16<<20 {
			return nil, fmt.Errorf("bad message size %q (0 to 16MiB)", f)
		}
		sizes = append(sizes, n*mult)
	}
	return sizes, nil
}

// results maps server name and metric key to the values of all rounds.
type results map[string]map[string][]float64

// measure runs every scenario for every server in every round. Within a
// round the order of the servers rotates, so that slow drifts of the
// machine do not always favour the same one. Each measurement gets a fresh
// server process, killed right after it.
func measure(cfg *config) (results, error) {
	res := results{}
	for _, name := range cfg.servers {
		res[name] = map[string][]float64{}
	}
	for round := range cfg.rounds {
		for _, sc := range cfg.scenarios {
			for i := range cfg.servers {
				name := cfg.servers[(i+round)%len(cfg.servers)]
				fmt.Fprintf(os.Stderr, "round %d/%d  %-10s %-8s", round+1, cfg.rounds, sc.name, name)
				samples, err := measureOne(cfg, sc, name)
				if err != nil {
					fmt.Fprintln(os.Stderr, " FAILED")
					return nil, fmt.Errorf("%s, scenario %s, round %d: %w", name, sc.name, round+1, err)
				}
				for _, s := range samples {
					res[name][s.key] = append(res[name][s.key], s.value)
					fmt.Fprintf(os.Stderr, "  %s=%.4g", s.key, s.value)
				}
				fmt.Fprintln(os.Stderr)
			}
		}
	}
	return res, nil
}

func measureOne(cfg *config, sc scenario, name string) ([]sample, error) {
	srv, err := startServer(name, sc.deflate, cfg.pin)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	samples, err := sc.run(cfg, srv)
	if err == nil {
		err = srv.alive()
	}
	if err != nil {
		if log := srv.log.String(); log != "" {
			err = fmt.Errorf("%w\nserver output:\n%s", err, log)
		}
		return nil, err
	}
	return samples, nil
}

// median returns the median of vs (the mean of the middle two for an even
// count), leaving out NaN (no value in that round); NaN if none is left.
func median(vs []float64) float64 {
	s := slices.DeleteFunc(slices.Clone(vs), math.IsNaN)
	if len(s) == 0 {
		return nan
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pinnedEnv marks the load generator process that runPinned started.
const pinnedEnv = "BENCHWS_PINNED"

// runPinned runs this command again on CPU 1 only; the servers it starts
// go to CPU 0 (see startServer). Each Go process then sizes GOMAXPROCS to
// its one core.
func runPinned() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", append([]string{"-c", "1", exe}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), pinnedEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pinned run: %w", err)
	}
	return nil
}
