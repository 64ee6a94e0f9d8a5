package analyze

import (
	"reflect"
	"strings"
	"testing"
)

func TestLinkCalls(t *testing.T) {
	svcs := func(names ...string) []Service {
		var out []Service
		for _, n := range names {
			out = append(out, Service{Name: n})
		}
		return out
	}
	tests := []struct {
		name  string
		svcs  []Service
		env   []string // variables the first service reads
		calls []string
	}{
		{"prefix names the whole service", svcs("linkshort-worker", "linkshort-api"), []string{"LINKSHORT_API_URL"}, []string{"linkshort-api"}},
		{"trailing noise words dropped", svcs("frontend", "userservice"), []string{"USERSERVICE_API_ADDR"}, []string{"userservice"}},
		{"hyphenated names", svcs("checkout", "product-catalog", "cart"), []string{"PRODUCT_CATALOG_ADDR", "CART_ADDRESS"}, []string{"cart", "product-catalog"}},
		{"-service suffix optional", svcs("orders", "user-service"), []string{"USER_ENDPOINT", "USER_SERVICE_HOST"}, []string{"user-service"}},
		{".NET configuration keys", svcs("web", "basket-api"), []string{"BasketApi__BaseUrl"}, []string{"basket-api"}},
		{"own address is no call", svcs("cart", "payment"), []string{"CART_ADDR"}, nil},
		{"a backing service is no call", svcs("cart", "payment"), []string{"REDIS_ADDR", "DATABASE_URL"}, nil},
		{"a noise word alone is no name", svcs("cart", "api"), []string{"SERVICE_URL"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range tt.env {
				tt.svcs[0].Env = append(tt.svcs[0].Env, EnvVar{Name: e})
			}
			linkCalls(tt.svcs)
			if !reflect.DeepEqual(tt.svcs[0].Calls, tt.calls) {
				t.Errorf("calls = %v, want %v", tt.svcs[0].Calls, tt.calls)
			}
		})
	}
}

// TestCallLiterals: addresses written in code and configuration naming
// another service are calls; tests and deployment files are not read.
func TestCallLiterals(t *testing.T) {
	m := analyzeTree(t, map[string]string{
		"checkout/go.mod": "module example.com/checkout\n\ngo 1.22\n",
		"checkout/main.go": `package main

import "net/http"

var cart = "cartservice:7070"
var pay = "dns:///payment:50051"

func main() { http.ListenAndServe(":8080", nil) }
`,
		"checkout/main_test.go":              "package main\n\nvar x = \"http://shipping:8080\"\n",
		"checkout/k8s/deploy.yaml":           "value: http://shipping:8080\n",
		"cartservice/go.mod":                 "module example.com/cartservice\n\ngo 1.22\n",
		"cartservice/main.go":                "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":7070\", nil) }\n",
		"payment/go.mod":                     "module example.com/payment\n\ngo 1.22\n",
		"payment/main.go":                    "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":50051\", nil) }\n",
		"shipping/package.json":              `{"name": "shipping", "main": "index.js", "dependencies": {"express": "^4"}}`,
		"shipping/index.js":                  "require('express')().listen(8080)\n",
		"web/appsettings.json":               `{"Services": {"Checkout": "http://checkout:8080", "Other": "http://example.com"}}`,
		"web/Web.csproj":                     `<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup></Project>`,
		"web/Properties/launchSettings.json": `{"profiles": {"x": {"applicationUrl": "http://payment:5000"}}}`,
	})
	if got := serviceNamed(t, m, "checkout").Calls; !reflect.DeepEqual(got, []string{"cartservice", "payment"}) {
		t.Errorf("checkout calls %v, want [cartservice payment]", got)
	}
	if got := serviceNamed(t, m, "web").Calls; !reflect.DeepEqual(got, []string{"checkout"}) {
		t.Errorf("web calls %v, want [checkout]", got)
	}
}

func TestOwnPortVar(t *testing.T) {
	s := &Service{Name: "payment", Path: "src/payment-svc"}
	tests := map[string]bool{
		"PORT": true, "GRPC_PORT": true, "HTTP_PORT": true, "PAYMENT_PORT": true, "SHOP_PAYMENT_PORT": true,
		"PAYMENT_SVC_PORT": true, "FLAGD_PORT": false, "REDIS_PORT": false, "DB_PORT": false, "PORTAL": false,
	}
	for name, want := range tests {
		if got := ownPortVar(name, s); got != want {
			t.Errorf("ownPortVar(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestPortsFromEnvironment: an assumed port gives way to the default of
// the service's own port variable, then to the repository's root .env.
func TestPortsFromEnvironment(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		svc    string
		port   int
		source string
	}{
		{
			name: "own variable default in a helper (SHOP_PAYMENT_PORT)",
			files: map[string]string{
				"payment/requirements.txt": "grpcio\n",
				"payment/server.py":        "import os, grpc\nport = int(os.getenv(\"SHOP_PAYMENT_PORT\", \"8088\"))\nserver = grpc.server(None)\nserver.add_insecure_port(f\"[::]:{port}\")\nif __name__ == \"__main__\":\n    server.start()\n",
			},
			svc: "payment", port: 8088, source: "server.py:2",
		},
		{
			name: "root .env names the port a Go gRPC server reads without default",
			files: map[string]string{
				".env":                "# compose\nCHECKOUT_PORT=5050\nFLAGD_PORT=8013\n",
				"src/checkout/go.mod": "module example.com/checkout\n\ngo 1.22\n",
				"src/checkout/main.go": `package main

import (
	"net"
	"os"

	"google.golang.org/grpc"
)

func mustMapEnv(target *string, key string) { *target = os.Getenv(key) }

func main() {
	var port string
	mustMapEnv(&port, "CHECKOUT_PORT")
	lis, _ := net.Listen("tcp", ":"+port)
	grpc.NewServer().Serve(lis)
}
`,
			},
			svc: "checkout", port: 5050, source: ".env:2 (CHECKOUT_PORT, read at main.go:14)",
		},
		{
			name: "a port the code states is not replaced",
			files: map[string]string{
				".env":        "PORT=9999\n",
				"api/go.mod":  "module example.com/api\n\ngo 1.22\n",
				"api/main.go": "package main\n\nimport (\"net/http\"; \"os\")\n\nfunc main() { _ = os.Getenv(\"PORT\"); http.ListenAndServe(\":8081\", nil) }\n",
			},
			svc: "api", port: 8081, source: "main.go:5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serviceNamed(t, analyzeTree(t, tt.files), tt.svc)
			if s.Port != tt.port || s.PortSource != tt.source {
				t.Errorf("port %d from %q, want %d from %q (assumptions %v)", s.Port, s.PortSource, tt.port, tt.source, s.Assumptions)
			}
			for _, a := range s.Assumptions {
				if strings.Contains(strings.ToLower(a), "port") {
					t.Errorf("stale port assumption %q", a)
				}
			}
		})
	}
}

func TestRuntimeFiles(t *testing.T) {
	m := analyzeTree(t, map[string]string{
		"api/package.json":            `{"name": "api", "main": "server.js", "dependencies": {"express": "^4"}}`,
		"api/server.js":               "require('express')().listen(3000)\n",
		"api/migrations/001_init.sql": "CREATE TABLE t (id int);\n",
		"api/views/index.ejs":         "<h1>hi</h1>\n",
		"api/static":                  "not a directory\n",
		"py/requirements.txt":         "fastapi\nalembic\n",
		"py/main.py":                  "from fastapi import FastAPI\napp = FastAPI()\n",
		"py/alembic.ini":              "[alembic]\n",
		"py/alembic/env.py":           "print(1)\n",
		"py/templates/x.html":         "<p/>\n",
	})
	if got := serviceNamed(t, m, "api").RuntimeFiles; !reflect.DeepEqual(got, []string{"migrations", "static", "views"}) {
		t.Errorf("api runtime files %v", got)
	}
	if got := serviceNamed(t, m, "py").RuntimeFiles; !reflect.DeepEqual(got, []string{"alembic", "alembic.ini", "templates"}) {
		t.Errorf("py runtime files %v", got)
	}
}

func TestLiteralCalls(t *testing.T) {
	names := []string{"cart", "user-service", "payment"}
	tests := map[string][]string{
		`addr := "cart:7070"`:                    {"cart"},
		`url = 'http://user-service:8081/api'`:   {"user-service"},
		"target: `dns:///payment:50051`":         {"payment"},
		`"grpc://cart"`:                          {"cart"},
		`http://cart.example.com/x`:              nil,
		`"cart"`:                                 nil,
		`"cartservice:7070"`:                     nil,
		`"my-cart:7070"`:                         nil,
		`"cart:123456"`:                          nil,
		`https://payment and "user-service:80/"`: {"user-service", "payment"},
	}
	for in, want := range tests {
		if got := literalCalls([]byte(in), names); !reflect.DeepEqual(got, want) {
			t.Errorf("literalCalls(%s) = %v, want %v", in, got, want)
		}
	}
}

// TestPortsFromCompose: an assumed port gives way to the container port
// the root compose file publishes, matched by build context, image or name.
func TestPortsFromCompose(t *testing.T) {
	spring := func(name string) string {
		return `<project><groupId>x</groupId><artifactId>` + name + `</artifactId><version>1.0</version>
<parent><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-parent</artifactId><version>3.3.0</version></parent>
<dependencies><dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency></dependencies></project>`
	}
	m := analyzeTree(t, map[string]string{
		"docker-compose.yml": `services:
  customers:
    image: example/petclinic-customers:1.0
    ports: ["8081:8081"]
  vets:
    build: ./vets-svc
    ports:
      - "127.0.0.1:9000:8083/tcp"
  visits:
    build: {context: ./visits}
    ports:
      - target: 8082
        published: 18082
  stated:
    build: ./stated
    ports: ["9999:9999"]
`,
		"customers/pom.xml": spring("petclinic-customers"),
		"vets-svc/pom.xml":  spring("vets"),
		"visits/pom.xml":    spring("visits"),
		"stated/pom.xml":    spring("stated"),
		"stated/src/main/resources/application.properties": "server.port=7000\n",
	})
	want := map[string]int{"petclinic-customers": 8081, "vets": 8083, "visits": 8082, "stated": 7000}
	for name, port := range want {
		if s := serviceNamed(t, m, name); s.Port != port {
			t.Errorf("%s: port %d from %q, want %d", name, s.Port, s.PortSource, port)
		}
	}
}
