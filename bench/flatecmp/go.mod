module github.com/wsd-go/wsd/bench/flatecmp

go 1.26

require github.com/klauspost/compress v1.17.9
