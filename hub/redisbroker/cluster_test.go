package redisbroker_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/hubtest"
	"github.com/wsd-go/wsd/hub/redisbroker"
)

// startCluster starts three redis-server processes in cluster mode, each
// owning a third of the slots, and returns their addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	path := redisPath(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli is not installed")
	}
	dir := t.TempDir()
	var addrs []string
	for range 3 {
		port := freePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", fmt.Sprint(port),
			"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port),
			"--dir", dir, "--save", "", "--appendonly", "no", "--loglevel", "warning")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		r := &redisServer{port: port}
		exited := make(chan struct{})
		if !r.ready(exited) {
			t.Fatalf("redis-server on %s did not start", addr)
		}
		addrs = append(addrs, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must know the whole cluster before the suite starts.
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, _ := c.ClusterInfo(ctx).Result()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster not ready: %q", info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return addrs
}

// On a cluster the broker uses sharded publish/subscribe; it passes the
// suite (the restart test needs one server, and is left out).
func TestClusterConformance(t *testing.T) {
	addrs := startCluster(t)
	hubtest.Run(t, hubtest.Config{
		NewBroker: func(t testing.TB) hub.Broker {
			return redisbroker.New(redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}))
		},
	})
}
