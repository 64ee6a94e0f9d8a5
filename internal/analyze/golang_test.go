package analyze

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestGoDetector(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []Service
		errs  []ServiceError
	}{
		{
			name: "single main with getenv default port and mongo driver",
			files: map[string]string{
				"go.mod": "module github.com/acme/order-service/v2\n\ngo 1.22.3\n\ntoolchain go1.23.1\n\nrequire (\n\tgo.mongodb.org/mongo-driver v1.15.0\n\tgithub.com/google/uuid v1.6.0\n\tgithub.com/redis/go-redis/v9 v9.5.1 // indirect\n)\n",
				"go.sum": "",
				"main.go": `package main

import (
	"net/http"
	"os"

	"github.com/acme/order-service/v2/internal/store"
)

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	port := getenv("PORT", "8082")
	s := store.New(os.Getenv("MONGO_URI"))
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	http.Handle("/orders", s)
	http.ListenAndServe(":"+port, nil)
}
`,
				"internal/store/store.go":      "package store\n\nimport \"os\"\n\nvar db = os.Getenv(\"DB_NAME\")\n",
				"internal/store/store_test.go": "package store\n\nimport \"os\"\n\nvar x = os.Getenv(\"TEST_ONLY\")\n",
			},
			want: []Service{{
				Name: "order-service", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.22",
				Framework: "net/http", BuildTool: "go", Entrypoint: ".", Project: "go.mod", Lockfile: "go.sum",
				Port: 8082, PortSource: "main.go:18", HealthPath: "/healthz",
				Env: []EnvVar{
					{Name: "DB_NAME", Source: "internal/store/store.go:5"},
					{Name: "MONGO_URI", Secret: true, Source: "main.go:19"},
					{Name: "PORT", Default: "8082", Source: "main.go:18"},
				},
				Backing: []Backing{{Kind: BackingMongoDB, Evidence: "go.mod: go.mongodb.org/mongo-driver"}},
			}},
		},
		{
			name: "monorepo with api and worker",
			files: map[string]string{
				"go.mod": "module example.com/mono\n\ngo 1.23\n\nrequire (\n\tgithub.com/lib/pq v1.10.9\n\tgithub.com/rabbitmq/amqp091-go v1.9.0\n)\n",
				"cmd/api/main.go": `package main

import (
	"net/http"

	"example.com/mono/internal/db"
)

func main() {
	db.Open()
	srv := &http.Server{
		Addr: ":8080",
	}
	srv.ListenAndServe()
}
`,
				"cmd/worker/main.go": `package main

import (
	"os"

	_ "github.com/rabbitmq/amqp091-go"
)

func main() {
	_ = os.Getenv("AMQP_URL")
	select {}
}
`,
				"internal/db/db.go":      "package db\n\nimport (\n\t\"os\"\n\n\t_ \"github.com/lib/pq\"\n)\n\nfunc Open() { _ = os.Getenv(\"DATABASE_URL\") }\n",
				"tools/gen.go":           "//go:build ignore\n\npackage main\n\nfunc main() {}\n",
				"tools/tools.go":         "//go:build tools\n\npackage tools\n\nimport _ \"golang.org/x/tools/cmd/stringer\"\n",
				"cmd/api/run_windows.go": "package main\n\nfunc init() {}\n",
				"examples/hello/main.go": "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":1234\", nil) }\n",
			},
			want: []Service{
				{
					Name: "api", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.23",
					Framework: "net/http", BuildTool: "go", Entrypoint: "./cmd/api", Project: "go.mod",
					Port: 8080, PortSource: "cmd/api/main.go:12",
					Env:     []EnvVar{{Name: "DATABASE_URL", Secret: true, Source: "internal/db/db.go:9"}},
					Backing: []Backing{{Kind: BackingPostgres, Evidence: "go.mod: github.com/lib/pq"}},
				},
				{
					Name: "worker", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.23",
					Framework: "worker", BuildTool: "go", Entrypoint: "./cmd/worker", Project: "go.mod",
					Env: []EnvVar{
						{Name: "AMQP_URL", Secret: true, Source: "cmd/worker/main.go:10"},
						{Name: "DATABASE_URL", Secret: true, Source: "internal/db/db.go:9"},
					},
					Backing: []Backing{{Kind: BackingRabbitMQ, Evidence: "go.mod: github.com/rabbitmq/amqp091-go"}},
				},
			},
		},
		{
			name: "nested module not double counted",
			files: map[string]string{
				"go.mod":                   "module example.com/outer\n\ngo 1.22\n",
				"main.go":                  "package main\n\nimport \"net\"\n\nfunc main() { net.Listen(\"tcp\", \":9000\") }\n",
				"tools/inner/go.mod":       "module example.com/inner\n",
				"tools/inner/main.go":      "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hi\") }\n",
				"testdata/fixture/go.mod":  "module example.com/fixture\n",
				"testdata/fixture/main.go": "package main\n\nfunc main() {}\n",
			},
			want: []Service{
				{
					Name: "outer", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.22",
					Framework: "tcp", BuildTool: "go", Entrypoint: ".", Project: "go.mod",
					Port: 9000, PortSource: "main.go:5",
				},
				{
					Name: "inner", Path: "tools/inner", Detector: "go", Language: LangGo, LanguageVersion: "1.26",
					Framework: "worker", BuildTool: "go", Entrypoint: ".", Project: "go.mod",
					Assumptions: []string{"Go 1.26 assumed: go.mod has no go directive"},
				},
			},
		},
		{
			name: "malformed go.mod with a healthy sibling",
			files: map[string]string{
				"broken/go.mod":  "module example.com/broken\n\ngo 1.22\n\nrequire github.com/x/y\n",
				"broken/main.go": "package main\n\nfunc main() {}\n",
				"good/go.mod":    "module example.com/good\n\ngo 1.21rc2\n",
				"good/main.go":   "package main\n\nimport (\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() {\n\tport := os.Getenv(\"PORT\")\n\tif port == \"\" {\n\t\tport = \"8081\"\n\t}\n\thttp.ListenAndServe(\":\"+port, nil)\n}\n",
			},
			want: []Service{{
				Name: "good", Path: "good", Detector: "go", Language: LangGo, LanguageVersion: "1.21",
				Framework: "net/http", BuildTool: "go", Entrypoint: ".", Project: "go.mod",
				Port: 8081, PortSource: "main.go:11",
				Env: []EnvVar{{Name: "PORT", Default: "8081", Source: "main.go:9"}},
			}},
			errs: []ServiceError{{
				Path: "broken", File: "broken/go.mod", Line: 5,
				Message: "invalid go.mod: usage: require module/path v1.2.3",
				Hint:    "run `go mod tidy` or fix the directive on that line",
			}},
		},
		{
			name: "gin router run with literal",
			files: map[string]string{
				"go.mod":  "module github.com/acme/catalog\n\ngo 1.22.3\n\nrequire github.com/gin-gonic/gin v1.10.0\n",
				"main.go": "package main\n\nimport \"github.com/gin-gonic/gin\"\n\nfunc main() {\n\tr := gin.Default()\n\tr.GET(\"/health\", nil)\n\tr.Run(\":9000\")\n}\n",
			},
			want: []Service{{
				Name: "catalog", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.22",
				Framework: "gin", BuildTool: "go", Entrypoint: ".", Project: "go.mod",
				Port: 9000, PortSource: "main.go:8", HealthPath: "/health",
			}},
		},
		{
			name: "server with no visible port, cmp.Or env default and flag",
			files: map[string]string{
				"go.mod":        "module example.com/svc\n\ngo 1.22\n",
				"cmd/a/main.go": "package main\n\nimport (\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() { http.ListenAndServe(os.Args[1], nil) }\n",
				"cmd/b/main.go": "package main\n\nimport (\n\t\"cmp\"\n\t\"net/http\"\n\t\"os\"\n)\n\nfunc main() {\n\taddr := \":\" + cmp.Or(os.Getenv(\"PORT\"), \"7070\")\n\thttp.ListenAndServe(addr, nil)\n}\n",
				"cmd/c/main.go": "package main\n\nimport (\n\t\"flag\"\n\t\"net/http\"\n)\n\nvar addr = flag.String(\"listen-addr\", \":6060\", \"address\")\n\nfunc main() { http.ListenAndServe(*addr, nil) }\n",
			},
			want: []Service{
				{
					Name: "a", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.22",
					Framework: "net/http", BuildTool: "go", Entrypoint: "./cmd/a", Project: "go.mod",
					Port: 8080, PortSource: "default for net/http",
					Assumptions: []string{"port 8080 assumed: no listen address or PORT default is visible"},
				},
				{
					Name: "b", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.22",
					Framework: "net/http", BuildTool: "go", Entrypoint: "./cmd/b", Project: "go.mod",
					Port: 7070, PortSource: "cmd/b/main.go:10",
					Env: []EnvVar{{Name: "PORT", Default: "7070", Source: "cmd/b/main.go:10"}},
				},
				{
					Name: "c", Path: ".", Detector: "go", Language: LangGo, LanguageVersion: "1.22",
					Framework: "net/http", BuildTool: "go", Entrypoint: "./cmd/c", Project: "go.mod",
					Port: 6060, PortSource: "cmd/c/main.go:8",
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := writeTree(t, tt.files)
			got, errs := GoDetector{}.Detect(r)
			if g, w := goJSON(t, got), goJSON(t, tt.want); g != w {
				t.Errorf("services:\n got %s\nwant %s", g, w)
			}
			if g, w := goJSON(t, errs), goJSON(t, tt.errs); g != w {
				t.Errorf("errors:\n got %s\nwant %s", g, w)
			}
		})
	}
}

func goJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if s == "[]" {
		s = "null"
	}
	return strings.TrimSpace(s)
}

func TestGoMajorMinor(t *testing.T) {
	for in, want := range map[string]string{"1.22.3": "1.22", "1.22": "1.22", "1.21rc1": "1.21", "1.26.0": "1.26", "2": "2"} {
		if got := goMajorMinor(in); got != want {
			t.Errorf("goMajorMinor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGoFileNameMatches(t *testing.T) {
	for name, want := range map[string]bool{
		"main.go": true, "linux.go": true, "x_linux.go": true, "x_windows.go": false,
		"x_linux_arm64.go": true, "x_darwin_amd64.go": false, "x_386.go": false, "x_test_helper.go": true,
	} {
		if got := goFileNameMatches(name); got != want {
			t.Errorf("goFileNameMatches(%q) = %v, want %v", name, got, want)
		}
	}
}
