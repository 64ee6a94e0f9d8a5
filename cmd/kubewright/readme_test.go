package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/llm"
	"github.com/kubewright/kubewright/internal/llm/llmtest"
)

// readmeCmd is one command of README.md: a line of a ```sh block, or the
// "$ kubewright ..." line of an output block with the output shown under it.
type readmeCmd struct {
	line int
	cmd  string
	// want is the output the README shows (nil: none shown).
	want []string
}

// notRun are README commands the test does not run, with the reason.
var notRun = map[string]string{
	"make test":    "it is the target that runs this test",
	"make install": "installs into ~/.local; TestMakeInstall runs it with PREFIX in a temporary directory",
	"make crds":    "rewrites the committed internal/crds/crds.json.gz; TestEmbeddedUpToDate checks it is current",
	"make golden":  "rewrites every golden file: `go test ./... -update`, run on purpose only",
	"make bench":   "benchmarks take minutes; `make bench` is its own target",
	"make fuzz":    "fuzzing takes FUZZTIME per target; `make fuzz` is its own target",
}

func parseReadme(text string) []readmeCmd {
	var cmds []readmeCmd
	sc := bufio.NewScanner(strings.NewReader(text))
	n, fence, cur := 0, "", -1
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if fence == "" {
				fence = strings.TrimSpace(strings.TrimPrefix(line, "```"))
				if fence == "" {
					fence = "text"
				}
			} else {
				fence, cur = "", -1
			}
			continue
		}
		switch {
		case fence == "sh":
			if c, _, _ := strings.Cut(line, " # "); strings.TrimSpace(c) != "" && !strings.HasPrefix(strings.TrimSpace(c), "#") {
				cmds = append(cmds, readmeCmd{line: n, cmd: strings.TrimSpace(c)})
			}
		case fence == "text" && strings.HasPrefix(line, "$ kubewright "):
			cmds = append(cmds, readmeCmd{line: n, cmd: strings.TrimPrefix(line, "$ "), want: []string{}})
			cur = len(cmds) - 1
		case fence == "text" && cur >= 0:
			cmds[cur].want = append(cmds[cur].want, line)
		}
	}
	return cmds
}

// shellWords splits a command line: spaces separate words, double or
// single quotes group them.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

var (
	durationRE = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m\d+s)\b`)
	progressRE = regexp.MustCompile(`^kubewright: .* done in TIME$`)
)

// normalize makes output comparable: durations become TIME, the given
// directories their placeholders, and progress lines (which a terminal
// erases as it goes) are dropped; trailing blanks are trimmed.
func normalize(s string, dirs map[string]string) []string {
	for dir, name := range dirs {
		s = strings.ReplaceAll(s, dir, name)
	}
	s = durationRE.ReplaceAllString(s, "TIME")
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if progressRE.MatchString(l) {
			continue
		}
		out = append(out, strings.TrimRight(l, " "))
	}
	return out
}

// matchLines compares output with the README's block, where a line that
// is only "..." stands for any number of lines.
func matchLines(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if strings.TrimSpace(want[0]) == "..." {
		for i := 0; i <= len(got); i++ {
			if matchLines(want[1:], got[i:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && strings.TrimRight(want[0], " ") == got[0] && matchLines(want[1:], got[1:])
}

// TestMain lets the test binary stand in for kubewright when a script
// (hack/demo.sh) runs it.
func TestMain(m *testing.M) {
	if os.Getenv("KUBEWRIGHT_TEST_AS_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestReadme runs every command README.md shows, against the
// repository's fixtures, and compares the output it shows. The model of
// `kubewright do` is the scripted llmtest server.
func TestReadme(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver and etcd")
	}
	crds, err := filepath.Abs(crdsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := parseReadme(string(readme))
	if len(cmds) < 8 {
		t.Fatalf("found %d commands in README.md: the parser no longer sees its blocks", len(cmds))
	}
	// The README's ../shared/crds is relative to the repository root.
	crdsArg := func(args []string) {
		for i, a := range args {
			if a == "../shared/crds" {
				args[i] = crds
			}
		}
	}
	model := scriptedModel(t)
	top := t
	ran := 0
	for _, rc := range cmds {
		t.Run(strings.ReplaceAll(rc.cmd, "/", "_"), func(t *testing.T) {
			if why, ok := notRun[rc.cmd]; ok {
				t.Skipf("README.md:%d: not run: %s", rc.line, why)
			}
			words := shellWords(rc.cmd)
			var stdout, stderr bytes.Buffer
			code := 0
			tmp := t.TempDir()
			dirs := map[string]string{tmp: "TMP", root: "REPO"}
			switch {
			case words[0] == "export":
				for _, kv := range words[1:] {
					k, v, _ := strings.Cut(kv, "=")
					if k == llm.EnvBaseURL {
						v = model // the README's Ollama, played by llmtest
					}
					top.Setenv(k, v) // for the commands after it
				}
				return
			case rc.cmd == "make demo":
				cmd := exec.Command(filepath.Join(root, "hack", "demo.sh"), os.Args[0])
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "KUBEWRIGHT_TEST_AS_MAIN=1", "DEMO_DIR="+filepath.Join(tmp, "polyglot-shop"), "KUBEWRIGHT_CRDS="+crds)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("README.md:%d: make demo: %v\n%s%s", rc.line, err, stdout.String(), stderr.String())
				}
				if !strings.Contains(stdout.String(), "Next:") || !strings.Contains(stdout.String(), "dryrun     pass") && !strings.Contains(stderr.String(), "dryrun     pass") {
					t.Errorf("make demo did not validate with the dry-run or print what next:\n%s%s", stdout.String(), stderr.String())
				}
				if _, err := os.Stat(filepath.Join(tmp, "polyglot-shop", "order-service", "Dockerfile")); err != nil {
					t.Errorf("make demo left no repository to look at: %v", err)
				}
				ran++
				return
			case words[0] != "kubewright":
				t.Fatalf("README.md:%d: %q is neither a kubewright command nor listed in notRun with a reason", rc.line, rc.cmd)
			case words[1] == "do":
				// `do` works on the repository in the current directory.
				dir := copyFixture(t, "polyglot-shop")
				dirs[dir] = "SHOP"
				t.Chdir(dir)
			case strings.Contains(rc.cmd, "testdata/"):
				t.Chdir(root)
			default:
				// The demo's command, on a copy of the shop in a fresh directory.
				copyFixtureTo(t, "polyglot-shop", filepath.Join(tmp, "polyglot-shop"))
				t.Chdir(tmp)
			}
			args := words[1:]
			crdsArg(args)
			code = run(context.Background(), args, &stdout, &stderr)
			ran++
			wantCode := readmeExit[rc.cmd]
			if code != wantCode {
				t.Errorf("README.md:%d: %s: exit %d, want %d\n%s%s", rc.line, rc.cmd, code, wantCode, stdout.String(), stderr.String())
			}
			if rc.want == nil {
				return
			}
			got := normalize(stdout.String()+stderr.String(), dirs)
			want := normalize(strings.Join(rc.want, "\n"), nil)
			if !matchLines(want, got) {
				t.Errorf("README.md:%d: the output of `%s` no longer matches the README.\nREADME shows:\n%s\n\nthe command prints (normalized):\n%s",
					rc.line, rc.cmd, strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
		})
	}
	if ran == 0 {
		t.Fatal("no README command ran")
	}
}

// readmeExit are the exit codes of README commands that do not exit 0.
var readmeExit = map[string]int{
	"kubewright validate testdata/invalid/schema-port-out-of-range": exitFail,
}

func copyFixtureTo(t *testing.T, name, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-R", filepath.Join("..", "..", "testdata", "repos", name), dst).CombinedOutput(); err != nil {
		t.Fatalf("copy fixture: %v: %s", err, out)
	}
}

// scriptedModel starts the llmtest server for the README's `do`
// commands: each request gets a small valid change, then the review.
func scriptedModel(t *testing.T) string {
	t.Helper()
	note := func(summary string) []llmtest.Reply {
		return []llmtest.Reply{
			{Proposal: &llm.Proposal{Summary: summary, Edits: []llm.Edit{{Path: "k8s/NOTES.md", Action: llm.ActionCreate, Content: "# Notes\n\n" + summary + "\n"}}}},
			{Proposal: &llm.Proposal{Summary: "Looks fine.", Edits: []llm.Edit{}}},
		}
	}
	srv := llmtest.NewServer(t, append(note("Inventory service planned."), note("Redis in front of order-service.")...)...)
	t.Setenv(llm.EnvAPIKey, "test-key")
	t.Setenv(llm.EnvBaseURL, srv.URL())
	return srv.URL()
}

// TestReadmeMatcher shows the comparison can fail: a changed line, a
// missing one and an extra one all count, "..." spans lines.
func TestReadmeMatcher(t *testing.T) {
	got := normalize("Files: 2 created\n  create a\n  create b\nkubewright: dryrun done in 3.5s\n  build pass (954ms)\n", nil)
	for _, tt := range []struct {
		want string
		ok   bool
	}{
		{"Files: 2 created\n  create a\n  create b\n  build pass (TIME)", true},
		{"Files: 2 created\n...\n  build pass (1.2s)", true},
		{"Files: 3 created\n...", false},
		{"Files: 2 created\n  create a\n  build pass (TIME)", false},
		{"Files: 2 created\n...\n  create b", false},
	} {
		if ok := matchLines(normalize(tt.want, nil), got); ok != tt.ok {
			t.Errorf("match(%q) = %v, want %v (got %q)", tt.want, ok, tt.ok, got)
		}
	}
	cmds := parseReadme("x\n```sh\nmake demo   # a comment\n# only a comment\n```\n```\n$ kubewright version\nkubewright dev\n```\n")
	if len(cmds) != 2 || cmds[0].cmd != "make demo" || cmds[0].want != nil || cmds[1].cmd != "kubewright version" || len(cmds[1].want) != 1 {
		t.Errorf("parseReadme: %+v", cmds)
	}
	if w := shellWords(`do "put order-service behind Redis" --dry-run`); len(w) != 3 || w[1] != "put order-service behind Redis" {
		t.Errorf("shellWords: %q", w)
	}
}
