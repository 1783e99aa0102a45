//go:build !js

package wsjson_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wsd-go/wsd"
	"github.com/wsd-go/wsd/wsjson"
)

func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := wsd.NewServer(w, r, nil)
		if err != nil || c.Start(r.Context()) != nil {
			return
		}
		var req struct{ Name string }
		if wsjson.Read(r.Context(), c, &req) == nil {
			wsjson.Write(r.Context(), c, map[string]string{"greeting": "hello, " + req.Name})
		}
	}))
	defer srv.Close()

	ctx := context.Background()
	c, _ := wsd.NewClient("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err := c.Start(ctx); err != nil {
		log.Fatal(err)
	}
	wsjson.Write(ctx, c, struct{ Name string }{"gopher"})
	var resp map[string]string
	if err := wsjson.Read(ctx, c, &resp); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp["greeting"])
	c.CloseNow()
	// Output: hello, gopher
}
