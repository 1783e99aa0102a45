module github.com/wsd-go/wsd/examples/chat

go 1.26.0

require (
	github.com/wsd-go/wsd v0.0.0
	github.com/wsd-go/wsd/hub/natsbroker v0.0.0
	github.com/wsd-go/wsd/hub/redisbroker v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace (
	github.com/wsd-go/wsd => ../..
	github.com/wsd-go/wsd/hub/natsbroker => ../../hub/natsbroker
	github.com/wsd-go/wsd/hub/redisbroker => ../../hub/redisbroker
)
