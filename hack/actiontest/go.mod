// Nested module: actionlint v1.7.12 needs go.yaml.in/yaml/v4 v4.0.0-rc.3,
// whose API the v4.0.0 that kubewright's module resolves (through
// kin-openapi) no longer has, so the workflow and action checks live
// apart from it and read kubewright's files (action.yml, README.md, the
// generated workflows' goldens) from disk. Run: cd hack/actiontest && go test -count=1 ./...
module github.com/kubewright/kubewright/hack/actiontest

go 1.26.8

require (
	github.com/rhysd/actionlint v1.7.12
	go.yaml.in/yaml/v3 v3.0.5
)

require (
	github.com/bmatcuk/doublestar/v4 v4.10.0 // indirect
	github.com/clipperhouse/uax29/v2 v2.7.0 // indirect
	github.com/fatih/color v1.19.0 // indirect
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.20 // indirect
	github.com/mattn/go-runewidth v0.0.21 // indirect
	github.com/mattn/go-shellwords v1.0.12 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	go.yaml.in/yaml/v4 v4.0.0-rc.3 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.42.0 // indirect
)
