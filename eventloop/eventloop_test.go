package eventloop_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/wsd-go/wsd"
)

func TestEcho(t *testing.T) {
	forEach(t, func(t *testing.T, serve func(http.Handler) string) {
		url := serve(echoHandler(nil))
		c := dial(t, url+"/echo", nil)
		sizes := []int{0, 1, 125, 126, 65535, 65536, 1 << 20}
		for _, n := range sizes {
			data := bytes.Repeat([]byte{byte(n)}, n)
			if err := c.SendBinary(data); err != nil {
				t.Fatal(err)
			}
			if m := c.next(t); m.Type != wsd.BinaryMessage || !bytes.Equal(m.Data, data) {
				t.Fatalf("echo of %d bytes: got %v of %d bytes", n, m.Type, len(m.Data))
			}
		}
		c.SendText("héllo")
		if m := c.next(t); m.Type != wsd.TextMessage || string(m.Data) != "héllo" {
			t.Fatalf("text echo %v %q", m.Type, m.Data)
		}
		// Many messages at once come back in order.
		for i := range 500 {
			c.SendText(fmt.Sprint(i))
		}
		for i := range 500 {
			if m := c.next(t); string(m.Data) != fmt.Sprint(i) {
				t.Fatalf("message %d came back as %q", i, m.Data)
			}
		}
		c.Close(1000, "bye")
		if ev := c.waitClose(t); ev.code != 1000 || ev.reason != "bye" {
			t.Errorf("close %+v", ev)
		}
	})
}
