package analyze

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

func names(m *SystemModel) []string {
	var out []string
	for _, s := range m.Services {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

func TestNonServiceDirectories(t *testing.T) {
	m := analyzeTree(t, map[string]string{
		"api/go.mod":                   "module example.com/api\n\ngo 1.22\n",
		"api/main.go":                  "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n",
		"tests/e2e/go.mod":             "module example.com/e2e\n\ngo 1.22\n",
		"tests/e2e/main.go":            "package main\n\nfunc main() {}\n",
		"examples/client/package.json": `{"name": "client", "scripts": {"start": "node index.js"}}`,
		"tools/gen/requirements.txt":   "flask\n",
		"tools/gen/app.py":             "from flask import Flask\napp = Flask(__name__)\n",
		"scripts/seed/pom.xml":         "<project><artifactId>seed</artifactId><broken></project>",
		"docs/site/package.json":       `{"name": "site", "scripts": {"start": "node serve.js"}, "dependencies": {"express": "^4"}}`,
		"benchmarks/load/Cargo.toml":   "[package]\nname = \"load\"\n",
		"benchmarks/load/src/main.rs":  "fn main() {}\n",
		"hack/tool/go.mod":             "module example.com/tool\n\ngo 1.22\n",
		"hack/tool/main.go":            "package main\n\nfunc main() {}\n",
		"e2e/package.json":             `{"name": "e2e", "scripts": {"start": "playwright test"}}`,
		"src/test-utils/package.json":  `{"name": "test-utils", "main": "index.js"}`,
	})
	if got := names(m); !reflect.DeepEqual(got, []string{"api"}) {
		t.Errorf("services %v, want [api]", got)
	}
	if len(m.Errors) != 0 {
		t.Errorf("errors %v: a broken project under scripts/ is not reported", m.Errors)
	}
}

func TestDualBuildIsOneService(t *testing.T) {
	pom := `<project><groupId>x</groupId><artifactId>orders</artifactId><version>1.0</version>
<parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.3.0</version></parent>
<dependencies><dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency></dependencies></project>`
	gradle := "plugins { id 'org.springframework.boot' version '3.3.0' }\nversion = '1.0'\ndependencies { implementation 'org.springframework.boot:spring-boot-starter-web' }\n"
	tests := []struct {
		name  string
		extra map[string]string
		tool  string
	}{
		{"maven by default", nil, "maven"},
		{"maven wrapper committed", map[string]string{"mvnw": "#!/bin/sh\n"}, "maven"},
		{"only the gradle wrapper committed", map[string]string{"gradlew": "#!/bin/sh\n"}, "gradle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"svc/pom.xml": pom, "svc/build.gradle": gradle, "svc/settings.gradle": "rootProject.name = 'orders'\n"}
			for k, v := range tt.extra {
				files["svc/"+k] = v
			}
			m := analyzeTree(t, files)
			if len(m.Services) != 1 {
				t.Fatalf("services %v, want one", names(m))
			}
			s := m.Services[0]
			if s.Name != "orders" || s.BuildTool != tt.tool || len(s.Assumptions) == 0 {
				t.Errorf("got %s built with %s (assumptions %v), want orders with %s and a note", s.Name, s.BuildTool, s.Assumptions, tt.tool)
			}
		})
	}
}

// TestNestedRepositories: a directory with its own .git (clone or
// submodule) is reported, and none of its files are read.
func TestNestedRepositories(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "api", "go.mod"), "module example.com/api\n\ngo 1.22\n")
	mustWrite(t, filepath.Join(dir, "api", "main.go"), "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n")
	mustWrite(t, filepath.Join(dir, "vendor-svc", ".git", "HEAD"), "ref: refs/heads/main\n")
	mustWrite(t, filepath.Join(dir, "vendor-svc", "go.mod"), "module example.com/other\n\ngo 1.22\n")
	mustWrite(t, filepath.Join(dir, "vendor-svc", "main.go"), "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":9090\", nil) }\n")
	mustWrite(t, filepath.Join(dir, "libs", "sub", ".git"), "gitdir: ../../.git/modules/sub\n")
	mustWrite(t, filepath.Join(dir, "libs", "sub", "package.json"), `{"name": "sub", "scripts": {"start": "node x.js"}}`)
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := New().Analyze(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(m); !reflect.DeepEqual(got, []string{"api"}) {
		t.Errorf("services %v, want [api]", got)
	}
	var nested []string
	for _, e := range m.Errors {
		if e.Kind != ErrNestedRepository || e.Hint == "" {
			t.Errorf("unexpected error %+v", e)
			continue
		}
		nested = append(nested, e.Path)
	}
	if !reflect.DeepEqual(nested, []string{"libs/sub", "vendor-svc"}) {
		t.Errorf("nested repositories %v, want [libs/sub vendor-svc]", nested)
	}
}

func TestUnsupportedLanguages(t *testing.T) {
	m := analyzeTree(t, map[string]string{
		"shop/Gemfile":                "source 'https://rubygems.org'\ngem 'rails', '~> 7.1'\n",
		"rack/Gemfile":                "source 'https://rubygems.org'\n",
		"rack/config.ru":              "run ->(env) { [200, {}, ['ok']] }\n",
		"site/Gemfile":                "source 'https://rubygems.org'\ngem 'jekyll'\n",
		"billing/composer.json":       `{"require": {"laravel/framework": "^11.0"}}`,
		"legacy/composer.json":        `{"require": {"php": ">=8.1"}}`,
		"legacy/index.php":            "<?php echo 'hi';\n",
		"lib/composer.json":           `{"type": "library", "require": {"php": ">=8.1"}}`,
		"lib/index.php":               "<?php\n",
		"broken-php/composer.json":    `{"require": {"slim/slim": `,
		"broken-php/public/index.php": "<?php\n",
	})
	got := map[string]string{}
	for _, e := range m.Errors {
		if e.Kind != ErrUnsupported || e.Hint == "" || e.File == "" {
			t.Errorf("unexpected error %+v", e)
		}
		got[e.Path] = e.Language
	}
	want := map[string]string{"shop": "ruby", "rack": "ruby", "billing": "php", "legacy": "php", "broken-php": "php"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unsupported %v, want %v", got, want)
	}
	if len(m.Services) != 0 {
		t.Errorf("services %v, want none", names(m))
	}
}
