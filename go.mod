module github.com/wsd-go/wsd

go 1.26
