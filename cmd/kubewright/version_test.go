package main

import (
	"bytes"
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// setStamps sets the -ldflags -X variables for one test.
func setStamps(t *testing.T, v, c, d string) {
	t.Helper()
	ov, oc, od := version, commit, date
	version, commit, date = v, c, d
	t.Cleanup(func() { version, commit, date = ov, oc, od })
}

// TestVersionCommand: `kubewright version` prints the stamps make release
// sets, one per line, the version first.
func TestVersionCommand(t *testing.T) {
	setStamps(t, "v1.4.0", "0123456789abcdef0123456789abcdef01234567", "2026-03-01T10:00:00Z")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := "kubewright v1.4.0\n" +
		"  commit:   0123456789abcdef0123456789abcdef01234567\n" +
		"  date:     2026-03-01T10:00:00Z\n" +
		"  go:       " + runtime.Version() + "\n" +
		"  platform: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if stdout.String() != want {
		t.Errorf("kubewright version printed\n%s\nwant\n%s", stdout.String(), want)
	}
	if code := run(context.Background(), []string{"version", "extra"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("kubewright version extra: exit %d, want %d (usage)", code, exitUsage)
	}
}

// TestCurrentBuild: stamps win; without them the toolchain's build
// information fills in; without either the fields say unknown.
func TestCurrentBuild(t *testing.T) {
	vcs := func(rev, at, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/kubewright/kubewright", Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: at}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tt := range []struct {
		name                   string
		v, c, d                string
		bi                     *debug.BuildInfo
		wantV, wantC, wantDate string
	}{
		{"stamped", "v1.4.0", "abc", "2026-03-01T10:00:00Z", vcs("def", "2026-01-01T00:00:00Z", "true"), "v1.4.0", "abc", "2026-03-01T10:00:00Z"},
		{"go build in a clean checkout", "dev", "", "", vcs("def", "2026-01-01T00:00:00Z", "false"), "dev", "def", "2026-01-01T00:00:00Z"},
		{"go build with local changes", "dev", "", "", vcs("def", "2026-01-01T00:00:00Z", "true"), "dev", "def-dirty", "2026-01-01T00:00:00Z"},
		{"go install @version", "dev", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.2"}}, "v1.3.2", "", ""},
		{"no build information", "dev", "", "", nil, "dev", "", ""},
		{"stamped version, commit from git", "v1.4.0", "", "", vcs("def", "2026-01-01T00:00:00Z", "false"), "v1.4.0", "def", "2026-01-01T00:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setStamps(t, tt.v, tt.c, tt.d)
			b := currentBuild(tt.bi)
			if b.Version != tt.wantV || b.Commit != tt.wantC || b.Date != tt.wantDate {
				t.Errorf("currentBuild = %q %q %q, want %q %q %q", b.Version, b.Commit, b.Date, tt.wantV, tt.wantC, tt.wantDate)
			}
			var out bytes.Buffer
			b.write(&out)
			first, _, _ := strings.Cut(out.String(), "\n")
			if first != "kubewright "+tt.wantV {
				t.Errorf("first line %q, want %q", first, "kubewright "+tt.wantV)
			}
			if tt.wantC == "" && !strings.Contains(out.String(), "  commit:   unknown\n") {
				t.Errorf("an unknown commit is not said so:\n%s", out.String())
			}
		})
	}
}
