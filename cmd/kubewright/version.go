package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Build stamps, set at build time by make build, make release and the
// Dockerfile:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=<sha> -X main.date=<RFC 3339>"
//
// A binary built without them (go build, go install) falls back to what
// the Go toolchain recorded: the module version of `go install
// ...@v1.2.3`, and the VCS revision and time when the build stamped them.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// buildInfo is what `kubewright version` prints.
type buildInfo struct {
	Version, Commit, Date, Go, Platform string
}

// currentBuild resolves the stamps, filling the unset ones from the
// toolchain's build information (nil when there is none).
func currentBuild(bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: date, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return b
	}
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	if b.Commit == "" && vcs["vcs.revision"] != "" {
		b.Commit = vcs["vcs.revision"]
		if vcs["vcs.modified"] == "true" {
			b.Commit += "-dirty"
		}
	}
	if b.Date == "" {
		b.Date = vcs["vcs.time"]
	}
	return b
}

// write prints the version on the first line (what scripts read), then
// the details; unknown stamps say so.
func (b buildInfo) write(w io.Writer) {
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	fmt.Fprintf(w, "kubewright %s\n", b.Version)
	fmt.Fprintf(w, "  commit:   %s\n", orUnknown(b.Commit))
	fmt.Fprintf(w, "  date:     %s\n", orUnknown(b.Date))
	fmt.Fprintf(w, "  go:       %s\n", b.Go)
	fmt.Fprintf(w, "  platform: %s\n", b.Platform)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			bi, _ := debug.ReadBuildInfo()
			currentBuild(bi).write(c.OutOrStdout())
			return nil
		},
	}
}
