package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

const fixturesDir = "../../testdata/repos"

// TestFixtureModels pins the SystemModel of every fixture repository as
// JSON under testdata/models/<fixture>.json; -update rewrites them.
func TestFixtureModels(t *testing.T) {
	entries, err := os.ReadDir(fixturesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			m, err := New().Analyze(context.Background(), filepath.Join(fixturesDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "models", e.Name()+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `go test ./internal/analyze -update` to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("model of %s differs from %s (run with -update and read the diff):\n%s", e.Name(), golden, got)
			}
		})
	}
}

// TestPolyglotShop checks the facts the plan must get right on the main
// fixture, independent of the golden file.
func TestPolyglotShop(t *testing.T) {
	m, err := New().Analyze(context.Background(), filepath.Join(fixturesDir, "polyglot-shop"))
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		lang, version, framework, build string
		port                            int
		backing                         []string
	}
	wants := map[string]want{
		"product-service": {LangCSharp, "8.0", "aspnetcore", "dotnet", 8080, []string{BackingPostgres, BackingRabbitMQ}},
		"user-service":    {LangJava, "21", "spring-boot", "maven", 8081, []string{BackingMariaDB, BackingRabbitMQ}},
		"order-service":   {LangGo, "1.22", "net/http", "go", 8082, []string{BackingMongoDB}},
	}
	if len(m.Services) != len(wants) {
		t.Fatalf("found %d services, want %d: %+v", len(m.Services), len(wants), m.Services)
	}
	if len(m.Errors) != 0 {
		t.Errorf("unexpected errors: %v", m.Errors)
	}
	for _, s := range m.Services {
		w, ok := wants[s.Name]
		if !ok {
			t.Errorf("unexpected service %q", s.Name)
			continue
		}
		if s.Language != w.lang || s.LanguageVersion != w.version || s.Framework != w.framework || s.BuildTool != w.build || s.Port != w.port {
			t.Errorf("%s: got %s %s %s %s port %d, want %+v", s.Name, s.Language, s.LanguageVersion, s.Framework, s.BuildTool, s.Port, w)
		}
		var kinds []string
		for _, b := range s.Backing {
			kinds = append(kinds, b.Kind)
		}
		if len(kinds) != len(w.backing) {
			t.Errorf("%s: backing %v, want %v", s.Name, kinds, w.backing)
			continue
		}
		for i := range kinds {
			if kinds[i] != w.backing[i] {
				t.Errorf("%s: backing %v, want %v", s.Name, kinds, w.backing)
			}
		}
		for _, e := range s.Env {
			if e.Secret && e.Default != "" {
				t.Errorf("%s: secret %s keeps a default value", s.Name, e.Name)
			}
		}
	}
	for _, s := range m.Services {
		if s.Name == "order-service" && (len(s.Calls) != 2 || s.Calls[0] != "product-service" || s.Calls[1] != "user-service") {
			t.Errorf("order-service calls %v, want [product-service user-service]", s.Calls)
		}
	}
}

// TestBrokenRepoKeepsGoing: two malformed projects are reported with file
// and line, and the good one is still analyzed.
func TestBrokenRepoKeepsGoing(t *testing.T) {
	m, err := New().Analyze(context.Background(), filepath.Join(fixturesDir, "broken"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Services) != 1 || m.Services[0].Name != "good-api" {
		t.Errorf("services = %+v, want only good-api", m.Services)
	}
	want := map[string]int{"bad-go/go.mod": 3, "bad-java/pom.xml": 10}
	if len(m.Errors) != len(want) {
		t.Fatalf("errors = %+v, want %v", m.Errors, want)
	}
	for _, e := range m.Errors {
		if want[e.File] != e.Line || e.Hint == "" {
			t.Errorf("error %+v: want line %d and a hint", e, want[e.File])
		}
	}
}
