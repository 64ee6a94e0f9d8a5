module github.com/example/broken/good-api

go 1.22
