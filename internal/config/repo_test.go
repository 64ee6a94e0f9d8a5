package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseRepo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // the whole error, or "" for success
		check   func(*testing.T, *Repo)
	}{
		{name: "empty", in: ""},
		{name: "comments only", in: "# nothing yet\n"},
		{name: "null document", in: "~\n"},
		{name: "full", in: "containerize:\n  env: staging\n  registry: ghcr.io/acme\n  services: [a, b]\n  only: [k8s]\nallowWorkflows: true\n",
			check: func(t *testing.T, r *Repo) {
				if r.Containerize.Env != "staging" || r.Containerize.Registry != "ghcr.io/acme" || len(r.Containerize.Services) != 2 || !r.AllowWorkflows {
					t.Errorf("parsed %+v", r)
				}
			}},
		{name: "JSON is YAML", in: `{"containerize": {"env": "dev", "only": ["gitops"]}, "pullRequest": {"closeIssue": true}}`,
			check: func(t *testing.T, r *Repo) {
				if r.Containerize.Env != "dev" || r.Containerize.Only[0] != "gitops" || !r.PullRequest.CloseIssue {
					t.Errorf("parsed %+v", r)
				}
			}},
		{name: "numbers as strings", in: "containerize:\n  branch: 2024\n  env: 1.5\n", check: func(t *testing.T, r *Repo) {
			if r.Containerize.Branch != "2024" || r.Containerize.Env != "1.5" {
				t.Errorf("parsed %+v", r.Containerize)
			}
		}},
		{name: "anchors and aliases", in: "containerize:\n  services: &s [a, b]\nvalidate:\n  allowedSources: *s\n", check: func(t *testing.T, r *Repo) {
			if !reflect.DeepEqual(r.Validate.AllowedSources, []string{"a", "b"}) {
				t.Errorf("parsed %+v", r.Validate)
			}
		}},

		// Keys.
		{name: "unknown key", in: "containerize:\n  regsitry: x\n",
			wantErr: ".github/kubewright.yaml:2: unknown setting containerize.regsitry (did you mean registry? containerize takes branch, ci, env, ingressClass, ingressHost, namespacePrefix, only, registry, repoURL, services)"},
		{name: "unknown top-level key", in: "replicas: 3\n",
			wantErr: ".github/kubewright.yaml:1: unknown setting replicas (remove it or correct it; this file takes agents, allowWorkflows, commands, containerize, pullRequest, review, validate)"},
		{name: "agents misspelt", in: "agents:\n  maxAttempt: 2\n",
			wantErr: ".github/kubewright.yaml:2: unknown setting agents.maxAttempt (did you mean maxAttempts? agents takes maxAttempts, paths, servicesDir, tokensPerJob)"},
		{name: "duplicate key", in: "containerize:\n  env: a\n  env: b\n",
			wantErr: ".github/kubewright.yaml:3: containerize.env: is set twice (first on line 2): keep one"},
		{name: "merge key", in: "base: &b {env: x}\n", wantErr: ".github/kubewright.yaml:1: unknown setting base"},
		{name: "merge key inside", in: "containerize:\n  <<: {env: x}\n", wantErr: ".github/kubewright.yaml:2: containerize: merge keys (<<) are not supported here: write the settings out"},
		{name: "second document", in: "containerize: {}\n---\nvalidate: {}\n",
			wantErr: ".github/kubewright.yaml:2: a second YAML document starts here (.github/kubewright.yaml holds one document: remove the ---)"},
		{name: "not a mapping", in: "- containerize\n",
			wantErr: ".github/kubewright.yaml:1: expected settings as key: value lines (agents, allowWorkflows, commands, containerize, pullRequest, review, validate), got a list"},
		{name: "bad yaml", in: "containerize:\n  env: [\n", wantErr: ".github/kubewright.yaml:2: not valid YAML"},

		// Types: the errors speak YAML, not Go.
		{name: "string for a list", in: "containerize:\n  services: web\n",
			wantErr: `.github/kubewright.yaml:2: containerize.services: expected a list of strings (e.g. [a, b], or one "- item" per line), got "web"`},
		{name: "mapping in a list", in: "agents:\n  paths:\n    - {a: b}\n",
			wantErr: ".github/kubewright.yaml:3: agents.paths: expected a list of strings (e.g. [a, b]), but item 1 is a mapping"},
		{name: "list for a string", in: "containerize:\n  env: [a]\n", wantErr: ".github/kubewright.yaml:2: containerize.env: expected a string, got a list"},
		{name: "boolean for a string", in: "containerize:\n  env: true\n",
			wantErr: `.github/kubewright.yaml:2: containerize.env: expected a string, got true (a boolean) (quote it, "true", if you mean the word)`},
		{name: "yes is no boolean", in: "allowWorkflows: yes\n", wantErr: `.github/kubewright.yaml:1: allowWorkflows: expected true or false, got "yes"`},
		{name: "require dry-run", in: "validate:\n  require: [dry-run]\n", check: func(t *testing.T, r *Repo) {
			if !r.Validate.Requires(RequireDryRun) || r.Validate.Requires("build") {
				t.Errorf("require: %v", r.Validate.Require)
			}
		}},
		{name: "require unknown stage", in: "validate:\n  require: [dryrun]\n", wantErr: `.github/kubewright.yaml:2: validate.require[0]: "dryrun" is not a stage that can be required (use dry-run)`},
		{name: "string for a number", in: "agents:\n  maxAttempts: three\n", wantErr: `.github/kubewright.yaml:2: agents.maxAttempts: expected a whole number, got "three"`},
		{name: "huge number", in: "agents:\n  tokensPerJob: 99999999999999999999\n", wantErr: "agents.tokensPerJob: expected a whole number, got 99999999999999999999 (a number)"},
		{name: "mapping for a section", in: "validate: strict\n", wantErr: `.github/kubewright.yaml:1: validate: expected a mapping of allowedSources, crds, require, rules, got "strict"`},

		// Values.
		{name: "bad only", in: "containerize:\n  only: [k8s, helm]\n", wantErr: `.github/kubewright.yaml:2: containerize.only[1]: "helm" is not a part (use dockerfile, k8s or gitops)`},
		{name: "bad team", in: "commands:\n  teams:\n    - acme\n", wantErr: `.github/kubewright.yaml:3: commands.teams[0]: "acme" is not a team (use org/team-slug)`},
		{name: "agents", in: "agents:\n  maxAttempts: 5\n  paths: [libs/shared]\n  servicesDir: services\n  tokensPerJob: 50000\n",
			check: func(t *testing.T, r *Repo) {
				if r.Agents.Attempts() != 5 || r.Agents.Paths[0] != "libs/shared" || r.Agents.ServicesDir != "services" || r.Agents.TokensPerJob != 50000 {
					t.Errorf("parsed %+v", r.Agents)
				}
			}},
		{name: "agents default attempts", in: "agents: {}\n", check: func(t *testing.T, r *Repo) {
			if r.Agents.Attempts() != DefaultMaxAttempts {
				t.Errorf("attempts %d", r.Agents.Attempts())
			}
		}},
		{name: "agents too many attempts", in: "agents:\n  maxAttempts: 50\n", wantErr: ".github/kubewright.yaml:2: agents.maxAttempts: 50 is out of range (use 1 to 10; the default is 3)"},
		{name: "agents negative budget", in: "agents:\n  tokensPerJob: -1\n", wantErr: ".github/kubewright.yaml:2: agents.tokensPerJob: -1 is negative"},

		// Rules: severities as the README writes them, IDs from one table.
		{name: "off as the README writes it", in: "validate:\n  rules:\n    KW-POL-030: off        # no NetworkPolicy per namespace here\n    KW-DOCKER-012: error\n",
			check: wantRules(map[string]string{"KW-POL-030": "off", "KW-DOCKER-012": "error"})},
		{name: "severities in any case", in: "validate:\n  rules: {KW-POL-010: Off, KW-POL-011: WARNING, KW-POL-012: Info}\n",
			check: wantRules(map[string]string{"KW-POL-010": "off", "KW-POL-011": "warning", "KW-POL-012": "info"})},
		{name: "false and no mean off", in: "validate:\n  rules: {KW-POL-010: false, KW-POL-011: no, KW-POL-012: \"off\"}\n",
			check: wantRules(map[string]string{"KW-POL-010": "off", "KW-POL-011": "off", "KW-POL-012": "off"})},
		{name: "true is no severity", in: "validate:\n  rules:\n    KW-POL-030: true\n",
			wantErr: ".github/kubewright.yaml:3: validate.rules.KW-POL-030: true is not a severity: write error, warning or info to set one, or off to turn the rule off"},
		{name: "on is no severity", in: "validate:\n  rules:\n    KW-POL-030: on\n", wantErr: "validate.rules.KW-POL-030: on is not a severity"},
		{name: "unknown severity", in: "validate:\n  rules:\n    KW-POL-030: fatal\n",
			wantErr: `.github/kubewright.yaml:3: validate.rules.KW-POL-030: "fatal" is not a severity (use error, warning, info or off)`},
		{name: "unknown rule ID", in: "validate:\n  rules:\n    KW-POL-010: off\n    KW-POL-03: off\n",
			wantErr: `.github/kubewright.yaml:4: validate.rules: unknown rule ID "KW-POL-03" (did you mean KW-POL-030, no NetworkPolicy in the namespace?)`},
		{name: "rule ID in lower case", in: "validate:\n  rules: {kw-docker-012: error}\n", wantErr: `unknown rule ID "kw-docker-012" (did you mean KW-DOCKER-012, USER is a name, not a numeric UID?)`},
		{name: "rule ID far off", in: "validate:\n  rules: {no-network-policy: off}\n",
			wantErr: "unknown rule ID \"no-network-policy\" (IDs look like KW-POL-030; `kubewright validate` prints the ID of every finding)"},
		{name: "rules as a list", in: "validate:\n  rules: [KW-POL-030]\n", wantErr: ".github/kubewright.yaml:2: validate.rules: expected rule IDs with severities (e.g. KW-POL-030: off), got a list"},

		// Paths: relative, cleaned, inside the repository, never .git.
		{name: "crds cleaned", in: "validate:\n  crds: [./deploy/crds/, deploy//more, a/../b]\n",
			check: func(t *testing.T, r *Repo) {
				if !reflect.DeepEqual(r.Validate.CRDs, []string{"deploy/crds", "deploy/more", "b"}) {
					t.Errorf("crds %q", r.Validate.CRDs)
				}
			}},
		{name: "crds escape to /dev/zero", in: "validate:\n  crds: [../../../../dev/zero]\n",
			wantErr: `.github/kubewright.yaml:2: validate.crds[0]: "../../../../dev/zero" leaves the repository (remove the ..; use a path inside the repository)`},
		{name: "crds escape after cleaning", in: "validate:\n  crds:\n    - deploy/crds\n    - deploy/../../x\n", wantErr: ".github/kubewright.yaml:4: validate.crds[1]: \"deploy/../../x\" leaves the repository"},
		{name: "crds absolute", in: "validate:\n  crds: [/dev/zero]\n", wantErr: `validate.crds[0]: "/dev/zero" is absolute (use a path relative to the repository root, e.g. deploy/crds)`},
		{name: "crds drive letter", in: "validate:\n  crds: ['C:/crds']\n", wantErr: "is absolute"},
		{name: "crds backslashes", in: "validate:\n  crds: ['deploy\\crds']\n", wantErr: "uses backslashes (use forward slashes: deploy/crds)"},
		{name: "crds in .git", in: "validate:\n  crds: [.git/objects]\n", wantErr: `validate.crds[0]: ".git/objects" is inside .git`},
		{name: "crds in .GIT of a service", in: "validate:\n  crds: [svc/.GIT]\n", wantErr: "is inside .git"},
		{name: "crds empty", in: "validate:\n  crds: ['']\n", wantErr: `validate.crds[0]: "" is empty`},
		{name: "crds too long", in: "validate:\n  crds: [" + strings.Repeat("a/", 200) + "x]\n", wantErr: "is 401 bytes long (at most 256)"},
		{name: "crds control character", in: "validate:\n  crds: [\"a\\tb\"]\n", wantErr: "holds control characters"},
		{name: "crds root and .github allowed", in: "validate:\n  crds: [., .github/crds]\n", check: func(t *testing.T, r *Repo) {
			if !reflect.DeepEqual(r.Validate.CRDs, []string{".", ".github/crds"}) {
				t.Errorf("crds %q", r.Validate.CRDs)
			}
		}},
		{name: "agents paths cleaned", in: "agents:\n  paths: [./libs/shared/]\n  servicesDir: ./services/\n", check: func(t *testing.T, r *Repo) {
			if r.Agents.Paths[0] != "libs/shared" || r.Agents.ServicesDir != "services" {
				t.Errorf("agents %+v", r.Agents)
			}
		}},
		{name: "servicesDir root is the default", in: "agents:\n  servicesDir: .\n", check: func(t *testing.T, r *Repo) {
			if r.Agents.ServicesDir != "" {
				t.Errorf("servicesDir %q", r.Agents.ServicesDir)
			}
		}},
		{name: "review settings", in: "review:\n  drafts: true\n  paths: [./charts/, helm/values.yaml]\n", check: func(t *testing.T, r *Repo) {
			if !r.Review.Drafts || r.Review.Off || strings.Join(r.Review.Paths, ",") != "charts,helm/values.yaml" {
				t.Errorf("review = %+v", r.Review)
			}
		}},
		{name: "review path escapes", in: "review:\n  paths: [../x]\n", wantErr: `.github/kubewright.yaml:2: review.paths[0]: "../x" leaves the repository`},
		{name: "review typo", in: "review:\n  draft: true\n", wantErr: "review.draft"},
		{name: "image CI", in: "containerize:\n  ci: github-actions\n", check: func(t *testing.T, r *Repo) {
			if r.Containerize.CI != CIGitHubActions || !r.Containerize.ImageCI() {
				t.Errorf("containerize.ci = %q, ImageCI %v", r.Containerize.CI, r.Containerize.ImageCI())
			}
		}},
		{name: "image CI off by default", in: "containerize:\n  env: dev\n", check: func(t *testing.T, r *Repo) {
			if r.Containerize.ImageCI() {
				t.Error("ImageCI() is true without containerize.ci")
			}
		}},
		{name: "image CI unknown system", in: "containerize:\n  env: dev\n  ci: gitlab\n",
			wantErr: `.github/kubewright.yaml:3: containerize.ci: "gitlab" is not a CI system kubewright writes for (use github-actions, or leave it out for none)`},
		{name: "image CI letter case", in: "containerize:\n  ci: GitHub-Actions\n", wantErr: `containerize.ci: "GitHub-Actions" is not a CI system`},
		{name: "image CI not a string", in: "containerize:\n  ci: [github-actions]\n", wantErr: ".github/kubewright.yaml:2: containerize.ci"},
		{name: "image CI misspelt key", in: "containerize:\n  cl: github-actions\n", wantErr: "unknown setting containerize.cl (did you mean ci?"},
		{name: "agents path escapes", in: "agents:\n  paths: [../other]\n", wantErr: `.github/kubewright.yaml:2: agents.paths[0]: "../other" leaves the repository`},
		{name: "agents absolute path", in: "agents:\n  paths: [/etc]\n", wantErr: "is absolute"},
		{name: "agents whole repository", in: "agents:\n  paths: [.]\n", wantErr: `agents.paths[0]: "." is the whole repository`},
		{name: "agents workflows path", in: "agents:\n  paths: [.github/workflows]\n", wantErr: "may not be under .github (workflows are governed by allowWorkflows)"},
		{name: "agents .GitHub path", in: "agents:\n  paths: [.GitHub/actions]\n", wantErr: "may not be under .github"},
		{name: "agents .git path", in: "agents:\n  paths: [libs/.Git]\n", wantErr: "is inside .git"},
		{name: "servicesDir escapes", in: "agents:\n  servicesDir: ../../srv\n", wantErr: `.github/kubewright.yaml:2: agents.servicesDir: "../../srv" leaves the repository`},
		{name: "too many paths", in: "agents:\n  paths: [" + strings.Repeat("a,", 300) + "a]\n", wantErr: "agents.paths: has 301 items (at most 200)"},

		// Budgets.
		{name: "alias bomb", in: billionLaughs, wantErr: ".github/kubewright.yaml:"},
		{name: "too large", in: "# " + strings.Repeat("x", MaxRepoConfigBytes) + "\n", wantErr: ".github/kubewright.yaml: the settings file is over 64 KiB; kubewright.yaml holds a few settings, keep it short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRepo(RepoConfigPath, []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v\nwant it to contain %q", err, tt.wantErr)
				}
				noGoTypes(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`

func wantRules(want map[string]string) func(*testing.T, *Repo) {
	return func(t *testing.T, r *Repo) {
		t.Helper()
		if !reflect.DeepEqual(r.Validate.Rules, want) {
			t.Errorf("rules %v, want %v", r.Validate.Rules, want)
		}
	}
}

// noGoTypes: errors are for people who write YAML.
func noGoTypes(t *testing.T, err error) {
	t.Helper()
	for _, leak := range []string{"Go struct", "json:", "unmarshal", "config.", "[]string", "map[", "reflect", "yaml: unmarshal"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error leaks %q: %v", leak, err)
		}
	}
}

func TestLoadRepo(t *testing.T) {
	write := func(t *testing.T, dir, rel, content string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
		check   func(*testing.T, *Repo)
	}{
		{name: "missing file", setup: func(*testing.T, string) {}},
		{name: "missing .github", setup: func(t *testing.T, dir string) { write(t, dir, "README.md", "x") }},
		{name: "regular file", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "containerize: {env: dev}\nvalidate:\n  crds: [./deploy/crds/]\n")
			write(t, dir, "deploy/crds/a.yaml", "kind: CustomResourceDefinition\n")
		}, check: func(t *testing.T, r *Repo) {
			if r.Containerize.Env != "dev" || r.Validate.CRDs[0] != "deploy/crds" {
				t.Errorf("loaded %+v", r)
			}
		}},
		{name: "config is a symlink to /dev/zero", setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
			symlink(t, "/dev/zero", filepath.Join(dir, RepoConfigPath))
		}, wantErr: ".github/kubewright.yaml: .github/kubewright.yaml is a symlink; kubewright reads its settings only from a regular file committed at .github/kubewright.yaml (put the file itself there)"},
		{name: "config is a symlink inside the repository", setup: func(t *testing.T, dir string) {
			write(t, dir, "settings.yaml", "containerize: {env: dev}\n")
			os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
			symlink(t, "../settings.yaml", filepath.Join(dir, RepoConfigPath))
		}, wantErr: "is a symlink"},
		{name: ".github is a symlink", setup: func(t *testing.T, dir string) {
			other := t.TempDir()
			write(t, other, "kubewright.yaml", "containerize: {env: dev}\n")
			symlink(t, other, filepath.Join(dir, ".github"))
		}, wantErr: ".github/kubewright.yaml: .github is a symlink"},
		{name: "config is a FIFO", setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, ".github"), 0o755)
			if err := syscall.Mkfifo(filepath.Join(dir, RepoConfigPath), 0o644); err != nil {
				t.Skip("no FIFOs here:", err)
			}
		}, wantErr: ".github/kubewright.yaml is not a regular file or directory"},
		{name: "config is a directory", setup: func(t *testing.T, dir string) {
			os.MkdirAll(filepath.Join(dir, RepoConfigPath), 0o755)
		}, wantErr: "a directory, not a file"},
		{name: "config too large", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "# "+strings.Repeat("x", 1<<20)+"\n")
		}, wantErr: ".github/kubewright.yaml: the settings file is over 64 KiB"},
		{name: "crds escape", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "validate:\n  crds: [../../../../dev/zero]\n")
		}, wantErr: `.github/kubewright.yaml:2: validate.crds[0]: "../../../../dev/zero" leaves the repository`},
		{name: "crds directory is a symlink to /dev", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "validate:\n  crds:\n    - deploy/crds\n")
			os.MkdirAll(filepath.Join(dir, "deploy"), 0o755)
			symlink(t, "/dev", filepath.Join(dir, "deploy", "crds"))
		}, wantErr: `.github/kubewright.yaml:3: validate.crds[0]: "deploy/crds": deploy/crds is a symlink (point it at a directory committed in the repository, not a link or a device)`},
		{name: "crds file is a symlink to /dev/zero", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "validate:\n  crds: [crds.yaml]\n")
			symlink(t, "/dev/zero", filepath.Join(dir, "crds.yaml"))
		}, wantErr: `validate.crds[0]: "crds.yaml": crds.yaml is a symlink`},
		{name: "crds not there yet", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "validate:\n  crds: [deploy/crds]\n")
		}},
		{name: "agents path is a file", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "agents:\n  paths: [libs]\n")
			write(t, dir, "libs", "x")
		}, wantErr: `.github/kubewright.yaml:2: agents.paths[0]: "libs": libs is not a directory`},
		{name: "servicesDir through a symlink", setup: func(t *testing.T, dir string) {
			write(t, dir, RepoConfigPath, "agents:\n  servicesDir: srv/go\n")
			symlink(t, t.TempDir(), filepath.Join(dir, "srv"))
		}, wantErr: `agents.servicesDir: "srv/go": srv is a symlink`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			start := time.Now()
			r, err := LoadRepo(dir)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("LoadRepo took %s: it must refuse at once, not read", d)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v\nwant it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || r == nil {
				t.Fatalf("LoadRepo: %v %v", r, err)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
}

func FuzzParseRepo(f *testing.F) {
	for _, s := range []string{
		"containerize:\n  env: staging\n",
		"allowWorkflows: true\n",
		"{",
		"validate:\n  crds: [../../../../dev/zero]\n",
		"validate:\n  crds: [./deploy/crds/, /dev/zero, 'a\\b', .git/x, svc/.GIT]\n",
		"validate:\n  rules:\n    KW-POL-030: off\n    KW-DOCKER-012: error\n",
		"validate:\n  rules: {KW-POL-03: off, KW-POL-010: false, KW-POL-011: true, KW-POL-012: on}\n",
		"agents:\n  paths: [libs/shared, ../x, ., .github/workflows]\n  servicesDir: ./services/\n  maxAttempts: 3\n",
		"containerize:\n  services: web\n",
		"containerize:\n  env: a\n  env: b\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"containerize:\n  <<: {env: x}\n",
		"x: 1\n---\ny: 2\n",
		billionLaughs,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRepo("x.yaml", data)
		if err != nil {
			if r != nil {
				t.Fatal("a config with an error")
			}
			if !strings.HasPrefix(err.Error(), "x.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			noGoTypes(t, err)
			return
		}
		if r == nil {
			t.Fatal("nil config without error")
		}
		paths := append(append([]string{}, r.Validate.CRDs...), r.Agents.Paths...)
		if r.Agents.ServicesDir != "" {
			paths = append(paths, r.Agents.ServicesDir)
		}
		for _, p := range paths {
			if _, err := cleanRepoPath(p, false); err != nil || strings.HasPrefix(p, "/") || p == ".." || strings.HasPrefix(p, "../") ||
				filepath.ToSlash(filepath.Clean(p)) != p || len(p) > MaxPathBytes {
				t.Fatalf("accepted path %q (%v)", p, err)
			}
			for _, seg := range strings.Split(p, "/") {
				if strings.EqualFold(strings.TrimRight(seg, ". "), ".git") {
					t.Fatalf("accepted a path in .git: %q", p)
				}
			}
		}
		for id, sev := range r.Validate.Rules {
			if err := checkRule(id, sev); err != nil {
				t.Fatalf("accepted rule %s: %s (%v)", id, sev, err)
			}
		}
	})
}
