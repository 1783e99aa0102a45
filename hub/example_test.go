//go:build !js

package hub_test

import (
	"log"
	"net/http"
	"strings"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/hub"
)

// A chat server: a connection to /rooms/NAME joins the room NAME, and
// each message it sends goes to every member of the room. With a Broker
// in the options (NATS or Redis adapters), rooms span every node.
func Example() {
	h, err := hub.New(hub.Options{
		OnLoss: func(l hub.Loss) { log.Printf("lost: %v", l) },
	})
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/rooms/", func(w http.ResponseWriter, r *http.Request) {
		room := strings.TrimPrefix(r.URL.Path, "/rooms/")
		ws, err := wsd.NewServer(w, r, nil)
		if err != nil {
			return
		}
		// Join once open, before the first message is read; leaving
		// is automatic when the connection closes.
		ws.OnOpen(func() { h.Join(ws, room) })
		ws.OnMessage(func(m wsd.Message) { h.Publish(room, m.Type, m.Data) })
		ws.Start(r.Context())
	})
	// http.ListenAndServe("127.0.0.1:8080", nil)
}

// Two hubs on one MemoryBus behave as two nodes sharing a broker.
func ExampleMemoryBus() {
	var bus hub.MemoryBus
	node1, _ := hub.New(hub.Options{Broker: bus.Broker()})
	node2, _ := hub.New(hub.Options{Broker: bus.Broker()})
	defer node1.Close()
	defer node2.Close()
	// A member of "news" on node2 gets what node1 publishes there.
	node1.Publish("news", wsd.TextMessage, []byte("hello, both nodes"))
}
