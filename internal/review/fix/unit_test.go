package fix

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kubewright/kubewright/internal/finding"
)

func TestLineRange(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after string
		want          Fix
	}{
		{"replace one line", "a\nb\nc\n", "a\nB\nc\n", Fix{StartLine: 2, EndLine: 2, Replacement: "B\n"}},
		{"insert takes the line before", "a\nb\n", "a\nx\nb\n", Fix{StartLine: 1, EndLine: 1, Replacement: "a\nx\n"}},
		{"insert at the top takes the line after", "a\nb\n", "x\na\nb\n", Fix{StartLine: 1, EndLine: 1, Replacement: "x\na\n"}},
		{"append at the end", "a\nb\n", "a\nb\nc\n", Fix{StartLine: 2, EndLine: 2, Replacement: "b\nc\n"}},
		{"delete a line", "a\nb\nc\n", "a\nc\n", Fix{StartLine: 2, EndLine: 2, Replacement: ""}},
		{"no final newline", "a\nb", "a\nc", Fix{StartLine: 2, EndLine: 2, Replacement: "c"}},
		{"create", "", "x\n", Fix{Replacement: "x\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lineRange([]byte(tc.before), []byte(tc.after), false)
			if got != tc.want {
				t.Fatalf("lineRange = %+v, want %+v", got, tc.want)
			}
			applied, err := got.Apply([]byte(tc.before))
			if err != nil || string(applied) != tc.after {
				t.Fatalf("Apply = %q, %v; want %q", applied, err, tc.after)
			}
		})
	}
}

func TestApplyRefusesStaleRanges(t *testing.T) {
	for _, tc := range []struct {
		fix     Fix
		content string
	}{
		{Fix{File: "a", StartLine: 3, EndLine: 4}, "one\ntwo\n"},
		{Fix{File: "a", StartLine: 2, EndLine: 1}, "one\ntwo\n"},
		{Fix{File: "a", Replacement: "x\n"}, "exists\n"},
	} {
		if _, err := tc.fix.Apply([]byte(tc.content)); err == nil || !strings.Contains(err.Error(), "propose the fix again") {
			t.Errorf("Apply(%+v) = %v, want an error that says to propose again", tc.fix, err)
		}
	}
}

func TestSuggestionFence(t *testing.T) {
	for _, tc := range []struct {
		repl, want string
	}{
		{"x: 1\n", "```suggestion\nx: 1\n```\n"},
		{"", "```suggestion\n```\n"},
		{"a ``` b\n", "````suggestion\na ``` b\n````\n"},
	} {
		got, ok := Fix{StartLine: 1, EndLine: 1, Replacement: tc.repl}.Suggestion()
		if !ok || got != tc.want {
			t.Errorf("Suggestion(%q) = %q, %v; want %q", tc.repl, got, ok, tc.want)
		}
	}
	if _, ok := (Fix{Replacement: "x\n"}).Suggestion(); ok {
		t.Error("a fix that creates a file has no suggestion")
	}
}

func TestAccounts(t *testing.T) {
	for _, tc := range []struct {
		script        string
		users, groups map[string]string
	}{
		{"addgroup -S -g 10001 app && adduser -S -D -u 10001 -G app app",
			map[string]string{"app": "10001"}, map[string]string{"app": "10001"}},
		{"groupadd --gid 2000 web; useradd --uid=2000 --gid web -m -s /bin/false web",
			map[string]string{"web": "2000"}, map[string]string{"web": "2000"}},
		{"useradd -r -u 999 -g 999 -c 'the app' svc", map[string]string{"svc": "999"}, map[string]string{}},
		{"adduser --disabled-password --gecos '' --uid 1500 bob", map[string]string{"bob": "1500"}, map[string]string{}},
		{"useradd --create-home appuser", map[string]string{}, map[string]string{}},
		{"adduser -D app && chown -R app /app", map[string]string{}, map[string]string{}},
		{"/usr/sbin/useradd -u 3000 tool | tee log", map[string]string{"tool": "3000"}, map[string]string{}},
	} {
		a := accounts{users: map[string]string{}, groups: map[string]string{}}
		a.read(tc.script)
		if !reflect.DeepEqual(a.users, tc.users) || !reflect.DeepEqual(a.groups, tc.groups) {
			t.Errorf("%q: users %v groups %v; want %v %v", tc.script, a.users, a.groups, tc.users, tc.groups)
		}
	}
}

func TestWellKnownID(t *testing.T) {
	for _, tc := range []struct{ base, name, want string }{
		{"gcr.io/distroless/static-debian12:nonroot", "nonroot", "65532"},
		{"cgr.dev/chainguard/static", "nonroot", "65532"},
		{"alpine:3.20", "nonroot", ""},
		{"debian:12", "nobody", "65534"},
		{"node:20-alpine", "node", "1000"},
		{"ghcr.io/acme/node-base:1", "node", ""},
		{"mcr.microsoft.com/dotnet/aspnet:8.0", "app", "1654"},
		{"python:3.12", "app", ""},
	} {
		if got := wellKnownID(tc.base, tc.name); got != tc.want {
			t.Errorf("wellKnownID(%q, %q) = %q, want %q", tc.base, tc.name, got, tc.want)
		}
	}
}

func TestPinFrom(t *testing.T) {
	for _, tc := range []struct {
		image  string
		others []string
		want   string // "" when unfixable
	}{
		{"nginx:latest", []string{"nginx:1.27.0", "redis:7"}, "nginx:1.27.0"},
		{"nginx", []string{"nginx:1.27.0", "nginx:latest"}, "nginx:1.27.0"},
		{"ghcr.io/a/b", []string{"ghcr.io/a/b:2@sha256:abc"}, "ghcr.io/a/b:2@sha256:abc"},
		{"localhost:5000/app", []string{"localhost:5000/app:3"}, "localhost:5000/app:3"},
		{"nginx:latest", []string{"nginx:1.26", "nginx:1.27"}, ""},
		{"nginx:latest", []string{"library/nginx:1.27"}, ""},
		{"nginx:1.27", []string{"nginx:1.28"}, ""},
		{"${IMAGE}", []string{"x:1"}, ""},
	} {
		got, err := pinFrom(tc.image, tc.others, "f.yaml")
		if tc.want == "" {
			if _, ok := IsUnfixable(err); !ok {
				t.Errorf("pinFrom(%q) = %q, %v; want unfixable", tc.image, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("pinFrom(%q) = %q, %v; want %q", tc.image, got, err, tc.want)
		}
	}
}

func TestIgnorePatterns(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string
	}{
		{".env, certs/tls.key", []string{"**/.env", "**/*.env", "**/*.key"}},
		{"deploy/id_rsa, creds/credentials-prod.json", []string{"**/id_rsa*", "**/credentials*.json"}},
		{"a.pem, b.pem, c.pem, d.pem, e.pem and 2 more", []string{"**/.env", "**/*.env", "**/*.pem", "**/*.key", "**/id_rsa*", "**/*.p12", "**/credentials*.json"}},
	} {
		if got := ignorePatterns(tc.list); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ignorePatterns(%q) = %v, want %v", tc.list, got, tc.want)
		}
	}
}

// The fixers read only regular files of the repository.
func TestForRefusesLinksAndBigFiles(t *testing.T) {
	f := finding.Finding{ID: "KW-POL-002", File: "k8s/a.yaml", Line: 1, Object: "Deployment/a",
		Message: `container "a" has a writable root filesystem: readOnlyRootFilesystem is not true`}
	for name, repo := range map[string]fs.FS{
		"symlink":   fstest.MapFS{"k8s/a.yaml": {Data: []byte("/etc/passwd"), Mode: fs.ModeSymlink}},
		"too large": fstest.MapFS{"k8s/a.yaml": {Data: make([]byte, MaxFileBytes+1)}},
		"directory": fstest.MapFS{"k8s/a.yaml/x": {Data: []byte("x")}},
		"missing":   fstest.MapFS{},
	} {
		_, err := For(repo, f)
		if _, ok := IsUnfixable(err); !ok {
			t.Errorf("%s: For = %v, want unfixable", name, err)
		}
	}
	f.File = "../outside.yaml"
	if _, err := For(fstest.MapFS{}, f); err == nil {
		t.Error("a path outside the repository is read")
	}
}

func TestUnknownRuleHasNoFix(t *testing.T) {
	if Fixable("KW-POL-030") || !Fixable("KW-POL-003") {
		t.Fatal("Fixable disagrees with the fixer table")
	}
	_, err := For(fstest.MapFS{}, finding.Finding{ID: "KW-POL-030", Message: "namespace x has no NetworkPolicy"})
	if r, ok := IsUnfixable(err); !ok || !strings.Contains(r, "KW-POL-030") {
		t.Fatalf("For = %v, want an unfixable naming the rule", err)
	}
}

// Every rule with a fixer is a rule kubewright reports.
func TestFixersNameKnownRules(t *testing.T) {
	for id := range fixers {
		if _, ok := finding.LookupRule(id); !ok {
			t.Errorf("fixer for unknown rule %s", id)
		}
	}
}
