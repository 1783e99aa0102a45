package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/centrifugal/centrifuge"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/hub"
	"github.com/wsd-go/wsd/hub/redisbroker"
)

// channel is the one channel of the benchmark.
const channel = "bench"

// publisher is what a node publishes with.
type publisher func(data []byte) error

// nodeMain runs one node: a wsd hub or a centrifuge node on the Redis at
// -redis. It prints its address, then publishes when it reads "publish
// RATE DURATION SIZE" on stdin (RATE 0: as fast as it can), and prints
// "published N" when done. It runs until stdin closes.
func nodeMain(args []string) {
	fs := flag.NewFlagSet("node", flag.ExitOnError)
	impl := fs.String("impl", "wsd", "wsd or centrifuge")
	redisAddr := fs.String("redis", "", "Redis host:port")
	fs.Parse(args)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	var pub publisher
	var handler http.Handler
	switch *impl {
	case "wsd":
		pub, handler = wsdNode(*redisAddr)
	case "centrifuge":
		pub, handler = centrifugeNode(*redisAddr)
	default:
		log.Fatalf("unknown impl %q", *impl)
	}
	go http.Serve(ln, handler)
	if dir := os.Getenv("FANOUT_PROFILE"); dir != "" {
		// A CPU profile of the node, written when stdin closes.
		f, err := os.CreateTemp(dir, *impl+"-*.pprof")
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "publish" {
			log.Fatalf("bad command %q", sc.Text())
		}
		rate, err1 := strconv.Atoi(f[1])
		d, err2 := time.ParseDuration(f[2])
		size, err3 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || err3 != nil {
			log.Fatalf("bad command %q", sc.Text())
		}
		fmt.Printf("published %d\n", publish(pub, rate, d, size))
	}
}

// publish publishes for d at rate messages per second (0: flat out), and
// returns how many it published. Each message is JSON carrying its send
// time in Unix nanoseconds, padded to size bytes.
func publish(pub publisher, rate int, d time.Duration, size int) int {
	buf := make([]byte, 0, size+64)
	end := time.Now().Add(d)
	start := time.Now()
	n := 0
	for time.Now().Before(end) {
		if rate > 0 {
			due := start.Add(time.Duration(n) * time.Second / time.Duration(rate))
			if w := time.Until(due); w > 0 {
				time.Sleep(w)
			}
		}
		buf = append(buf[:0], `{"t":`...)
		buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
		buf = append(buf, `,"p":"`...)
		for len(buf) < size-2 {
			buf = append(buf, 'x')
		}
		buf = append(buf, `"}`...)
		if err := pub(buf); err != nil {
			log.Printf("publish: %v", err)
		}
		n++
	}
	return n
}

func wsdNode(redisAddr string) (publisher, http.Handler) {
	b, err := redisbroker.Dial("redis://" + redisAddr)
	if err != nil {
		log.Fatal(err)
	}
	h, err := hub.New(hub.Options{Broker: b, OnLoss: func(l hub.Loss) { log.Printf("loss: %v", l) }})
	if err != nil {
		log.Fatal(err)
	}
	opts := &wsd.Options{Compression: wsd.CompressionOptions{Mode: wsd.CompressionDisabled}}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := wsd.NewServer(w, r, opts)
		if err != nil {
			return
		}
		ws.OnOpen(func() { h.Join(ws, channel) })
		ws.Start(r.Context())
	})
	return func(data []byte) error { return h.Publish(channel, wsd.TextMessage, data) }, handler
}

func centrifugeNode(redisAddr string) (publisher, http.Handler) {
	node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelError})
	if err != nil {
		log.Fatal(err)
	}
	shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: redisAddr})
	if err != nil {
		log.Fatal(err)
	}
	broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Shards: []*centrifuge.RedisShard{shard}})
	if err != nil {
		log.Fatal(err)
	}
	node.SetBroker(broker)
	node.OnConnecting(func(context.Context, centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: ""}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
	})
	if err := node.Run(); err != nil {
		log.Fatal(err)
	}
	ws := centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{})
	return func(data []byte) error {
		_, err := node.Publish(channel, data)
		return err
	}, ws
}
