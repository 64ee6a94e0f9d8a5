module github.com/example/broken/bad-go

requires github.com/google/uuid v1.6.0

go 1.22
