package analyze

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRemoteURL(t *testing.T) {
	gh := func(owner, name, transport string) *Remote {
		return &Remote{Host: "github.com", Owner: owner, Name: name, URL: "https://github.com/" + owner + "/" + name, Transport: transport}
	}
	tests := []struct {
		in   string
		want *Remote
	}{
		{"git@github.com:acme/shop.git", gh("acme", "shop", "ssh")},
		{"https://github.com/acme/shop", gh("acme", "shop", "https")},
		{"https://github.com/acme/shop.git", gh("acme", "shop", "https")},
		{"https://github.com/acme/shop.git/", gh("acme", "shop", "https")},
		{"https://x-access-token:ghs_secret123@github.com/acme/shop.git", gh("acme", "shop", "https")},
		{"https://user:p%40ss@github.com/acme/shop", gh("acme", "shop", "https")},
		{"ssh://git@github.com/acme/shop.git", gh("acme", "shop", "ssh")},
		{"ssh://git@github.com:2222/acme/shop.git", gh("acme", "shop", "ssh")},
		{"git://github.com/acme/shop.git", gh("acme", "shop", "git")},
		{"git@github.example.com:platform/billing-api.git", &Remote{Host: "github.example.com", Owner: "platform", Name: "billing-api", URL: "https://github.example.com/platform/billing-api", Transport: "ssh"}},
		{"https://GitLab.com/group/sub/repo.git", &Remote{Host: "gitlab.com", Owner: "group/sub", Name: "repo", URL: "https://gitlab.com/group/sub/repo", Transport: "https"}},
		{"/srv/git/shop.git", nil},
		{"file:///srv/git/shop.git", nil},
		{"../shop", nil},
		{"C:/repos/shop", nil},
		{"https://github.com/acme", nil},
		{"https://github.com/acme/../etc", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := ParseRemoteURL(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRemoteURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got != nil && (strings.Contains(got.URL, "@") || strings.Contains(got.URL, "secret")) {
			t.Errorf("ParseRemoteURL(%q) kept credentials: %s", tt.in, got.URL)
		}
	}
}

func TestRemoteFromConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  string
		want string // URL, "" for none
	}{
		{"origin among several remotes", "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://github.com/other/x\n[remote \"origin\"]\n\turl = git@github.com:acme/shop.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n", "https://github.com/acme/shop"},
		{"quoted value with a comment", "[remote \"origin\"]\n\turl = \"https://github.com/acme/shop.git\" ; the main one\n", "https://github.com/acme/shop"},
		{"insteadOf rewrite", "[url \"git@github.example.com:\"]\n\tinsteadOf = gh:\n[remote \"origin\"]\n\turl = gh:platform/api\n", "https://github.example.com/platform/api"},
		{"no origin", "[remote \"upstream\"]\n\turl = https://github.com/acme/shop\n", ""},
		{"token in the URL is dropped", "[remote \"origin\"]\n\turl = https://x-access-token:ghs_abc@github.com/acme/shop.git\n", "https://github.com/acme/shop"},
		{"garbage", "[[[\n=\nurl\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RemoteFromConfig([]byte(tt.cfg))
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("got %+v, want none", got)
			case tt.want != "" && (got == nil || got.URL != tt.want):
				t.Errorf("got %+v, want URL %s", got, tt.want)
			}
		})
	}
}

// TestAnalyzeReadsRemote: the model's name and Repository come from origin,
// through a .git directory or a .git file pointing elsewhere (a worktree).
func TestAnalyzeReadsRemote(t *testing.T) {
	t.Run(".git directory", func(t *testing.T) {
		dir := t.TempDir()
		mustWrite(t, filepath.Join(dir, ".git", "config"), "[remote \"origin\"]\n\turl = https://x-access-token:ghs_tok@github.com/Acme/Link_Short.git\n")
		mustWrite(t, filepath.Join(dir, "main.go"), "package main\nfunc main() {}\n")
		m, err := New().Analyze(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		want := &Remote{Host: "github.com", Owner: "Acme", Name: "Link_Short", URL: "https://github.com/Acme/Link_Short", Transport: "https"}
		if !reflect.DeepEqual(m.Repository, want) || m.Name != "link-short" {
			t.Errorf("name %q repository %+v, want link-short %+v", m.Name, m.Repository, want)
		}
	})
	t.Run(".git file of a worktree", func(t *testing.T) {
		base := t.TempDir()
		mustWrite(t, filepath.Join(base, "main", ".git", "config"), "[remote \"origin\"]\n\turl = git@github.com:acme/shop.git\n")
		mustWrite(t, filepath.Join(base, "main", ".git", "worktrees", "wt", "commondir"), "../..\n")
		mustWrite(t, filepath.Join(base, "wt", ".git"), "gitdir: "+filepath.Join(base, "main", ".git", "worktrees", "wt")+"\n")
		m, err := New().Analyze(t.Context(), filepath.Join(base, "wt"))
		if err != nil {
			t.Fatal(err)
		}
		if m.Repository == nil || m.Repository.Name != "shop" || m.Name != "shop" {
			t.Errorf("name %q repository %+v, want shop", m.Name, m.Repository)
		}
	})
	t.Run("no git", func(t *testing.T) {
		dir := t.TempDir()
		m, err := New().Analyze(t.Context(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Repository != nil || m.Name != DNSLabel(filepath.Base(dir)) {
			t.Errorf("name %q repository %+v, want the directory name", m.Name, m.Repository)
		}
	})
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func FuzzGitConfig(f *testing.F) {
	f.Add([]byte("[remote \"origin\"]\n\turl = https://tok:en@github.com/a/b.git\n"))
	f.Add([]byte("[url \"git@h.example.com:\"]\n\tinsteadOf = x:\n[remote \"origin\"] url = x:o/n\n"))
	f.Add([]byte("[remote \"origin\"]\n\turl = \"ssh://git@[::1]:22/a/b\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := RemoteFromConfig(data)
		if r == nil {
			return
		}
		if strings.Contains(r.URL, "@") || r.Host == "" || r.Owner == "" || r.Name == "" {
			t.Fatalf("bad remote %+v", r)
		}
		if !strings.HasPrefix(r.URL, "https://"+r.Host+"/") {
			t.Fatalf("URL %q does not name host %q", r.URL, r.Host)
		}
	})
}
