package bench_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickRun builds benchws and runs a quick pass over two peer servers
// end to end: server processes, every scenario, report and chart.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run skipped in -short mode")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "benchws")
	build := exec.Command("go", "build", "-o", bin, "./cmd/benchws")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	report := filepath.Join(dir, "docs", "benchmarks.md")
	run := exec.CommandContext(ctx, bin, "run", "-quick", "-servers", "gorilla,gobwas", "-out", report)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("benchws run: %v\n%s", err, out)
	}

	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Machine", "## Method", "## Results",
		"Echo round trips, 32B", "Echo round trips, 1MiB", "Pipelined echo", "Idle memory", "Connection lifetimes",
		"permessage-deflate echo, 1KiB", "permessage-deflate echo, 64KiB", "echo compressed / payload",
		"| gorilla |", "| gobwas |", "](benchmarks.svg)",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "docs", "benchmarks.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "gobwas") {
		t.Errorf("chart does not look like an SVG bar chart:\n%.300s", svg)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
