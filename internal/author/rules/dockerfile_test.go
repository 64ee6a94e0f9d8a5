package rules

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kubewright/kubewright/internal/analyze"
)

// dockerCases are representative services, one golden directory each under
// testdata/dockerfile/<name>/.
var dockerCases = []struct {
	name string
	svc  analyze.Service
}{
	{"go-single", analyze.Service{
		Name: "api", Path: ".", Detector: "go", Language: analyze.LangGo, LanguageVersion: "1.22",
		Framework: "net/http", BuildTool: "go", Entrypoint: ".", Project: "go.mod", Lockfile: "go.sum",
		Port: 8080, HealthPath: "/healthz", Env: []analyze.EnvVar{{Name: "PORT", Source: "main.go:12"}},
	}},
	{"go-monorepo-worker", analyze.Service{
		Name: "worker", Path: ".", Detector: "go", Language: analyze.LangGo, LanguageVersion: "1.23.4",
		BuildTool: "go", Entrypoint: "./cmd/worker", Project: "go.mod", Lockfile: "go.sum",
	}},
	{"maven-spring-boot-wrapper", analyze.Service{
		Name: "user-service", Path: "user-service", Detector: "maven", Language: analyze.LangJava, LanguageVersion: "21",
		Framework: "spring-boot", BuildTool: "maven", Wrapper: true, Entrypoint: "user-service-1.0.0.jar",
		Project: "pom.xml", Port: 8081, HealthPath: "/actuator/health",
	}},
	{"gradle-kotlin", analyze.Service{
		Name: "order-service", Path: "services/order", Detector: "gradle", Language: analyze.LangKotlin, LanguageVersion: "17",
		Framework: "spring-boot", BuildTool: "gradle", Project: "build.gradle.kts", Port: 8080,
	}},
	{"dotnet-aspnetcore", analyze.Service{
		Name: "product-service", Path: "ProductService", Detector: "dotnet", Language: analyze.LangCSharp, LanguageVersion: "8.0",
		Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "ProductService.dll", Project: "ProductService.csproj",
		Port: 8080, HealthPath: "/health",
	}},
	{"dotnet-worker", analyze.Service{
		Name: "email-worker", Path: "src/EmailWorker", Detector: "dotnet", Language: analyze.LangCSharp, LanguageVersion: "9.0",
		Framework: "worker", BuildTool: "dotnet", Project: "EmailWorker.csproj",
	}},
	{"node-npm-js", analyze.Service{
		Name: "web", Path: "web", Detector: "node", Language: analyze.LangJavaScript, LanguageVersion: "20",
		Framework: "express", BuildTool: "npm", Entrypoint: "node server.js", Project: "package.json",
		Lockfile: "package-lock.json", Port: 3000, Env: []analyze.EnvVar{{Name: "PORT", Default: "3000", Source: "server.js:4"}},
	}},
	{"node-pnpm-typescript", analyze.Service{
		Name: "gateway", Path: "gateway", Detector: "node", Language: analyze.LangTypeScript,
		Framework: "fastify", BuildTool: "pnpm", Entrypoint: "node dist/index.js", Project: "package.json",
		Lockfile: "pnpm-lock.yaml", Port: 3000, Env: []analyze.EnvVar{{Name: "PORT", Source: "src/index.ts:9"}},
	}},
	{"node-next-yarn", analyze.Service{
		Name: "storefront", Path: "apps/storefront", Detector: "node", Language: analyze.LangTypeScript, LanguageVersion: ">=18.17",
		Framework: "next", BuildTool: "yarn", Entrypoint: "next start", Project: "package.json", Lockfile: "yarn.lock", Port: 3000,
	}},
	{"python-fastapi-pip", analyze.Service{
		Name: "inventory", Path: "inventory", Detector: "python", Language: analyze.LangPython, LanguageVersion: "3.12",
		Framework: "fastapi", BuildTool: "pip", Entrypoint: "uvicorn app.main:app", Project: "requirements.txt",
		Port: 8000, HealthPath: "/health",
	}},
	{"python-flask-poetry", analyze.Service{
		Name: "billing", Path: "billing", Detector: "python", Language: analyze.LangPython, LanguageVersion: "3.11",
		Framework: "flask", BuildTool: "poetry", Entrypoint: "gunicorn app:create_app()", Project: "pyproject.toml",
		Lockfile: "poetry.lock", Port: 5000,
	}},
	{"dotnet-solution-sdk-pinned", analyze.Service{
		Name: "inventory-api", Path: "src/Inventory.Api", Detector: "dotnet", Language: analyze.LangCSharp, LanguageVersion: "8.0",
		Framework: "aspnetcore", BuildTool: "dotnet", Entrypoint: "Inventory.Api.dll", Project: "Inventory.Api.csproj",
		Port: 8080, HealthPath: "/health/ready", SlowStart: true, SDKVersion: "8.0.404",
		BuildFiles: []string{"Directory.Build.props", "Directory.Packages.props", "global.json", "nuget.config",
			"src/EventBus/EventBus.csproj", "src/Inventory.Shared/Inventory.Shared.csproj"},
	}},
	{"fsharp-grpc", analyze.Service{
		Name: "pricing", Path: "Pricing", Detector: "dotnet", Language: "fsharp", LanguageVersion: "9.0",
		Framework: "aspnetcore", BuildTool: "dotnet", Project: "Pricing.fsproj", Port: 7070, GRPC: true, GRPCHealth: true,
	}},
	{"rust-workspace-member", analyze.Service{
		Name: "quotes", Path: ".", Detector: "rust", Language: analyze.LangRust, LanguageVersion: "1.86", SDKVersion: "1.88.0",
		Framework: "axum", BuildTool: "cargo", Entrypoint: "quotes", Project: "crates/quotes/Cargo.toml", Lockfile: "Cargo.lock",
		Port: 8080, HealthPath: "/healthz", RuntimeFiles: []string{"migrations"},
	}},
	{"rust-tonic-unlocked", analyze.Service{
		Name: "shipping", Path: "src/shipping", Detector: "rust", Language: analyze.LangRust, LanguageVersion: "1.80",
		Framework: "tonic", BuildTool: "cargo", Entrypoint: "shipping", Project: "Cargo.toml",
		Port: 50050, GRPC: true, GRPCHealth: true,
	}},
	{"static-vite", analyze.Service{
		Name: "frontend", Path: "src/frontend", Detector: "node", Language: analyze.LangStatic, LanguageVersion: "20",
		Framework: "vite", BuildTool: "npm", Project: "package.json", Lockfile: "package-lock.json",
		Port: 8080, HealthPath: "/", BuildCommand: "npm run build", OutputDir: "dist",
	}},
	{"static-angular-pnpm", analyze.Service{
		Name: "shop", Path: "web", Detector: "node", Language: analyze.LangStatic, LanguageVersion: "22",
		Framework: "angular", BuildTool: "pnpm", Project: "package.json", Lockfile: "pnpm-lock.yaml",
		Port: 8080, HealthPath: "/", BuildCommand: "pnpm run build", OutputDir: "dist/shop/browser",
	}},
	{"go-runtime-files", analyze.Service{
		Name: "mailer", Path: "mailer", Detector: "go", Language: analyze.LangGo, LanguageVersion: "1.23",
		BuildTool: "go", Entrypoint: ".", Project: "go.mod", Lockfile: "go.sum", Port: 8080, HealthPath: "/healthz",
		RuntimeFiles: []string{"migrations", "templates"},
	}},
	{"node-build-runtime-files", analyze.Service{
		Name: "links", Path: "api", Detector: "node", Language: analyze.LangTypeScript, LanguageVersion: "20",
		Framework: "express", BuildTool: "npm", Entrypoint: "node dist/server.js", Project: "package.json",
		Lockfile: "package-lock.json", Port: 3000, RuntimeFiles: []string{"migrations"},
	}},
	{"python-django", analyze.Service{
		Name: "cms", Path: ".", Detector: "python", Language: analyze.LangPython, LanguageVersion: ">=3.10",
		Framework: "django", BuildTool: "pip", Entrypoint: "gunicorn mysite.wsgi:application --workers 2",
		Project: "requirements.txt", Port: 8000,
	}},
}

func TestDockerfileGolden(t *testing.T) {
	for _, tc := range dockerCases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := DockerfileFor(tc.svc)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "testdata/dockerfile/"+tc.name+"/Dockerfile", res.Dockerfile)
			checkGolden(t, "testdata/dockerfile/"+tc.name+"/.dockerignore", res.Dockerignore)
		})
	}
}

// TestDockerfileInvariants checks what must hold for every rendered
// Dockerfile, independent of the golden files.
func TestDockerfileInvariants(t *testing.T) {
	userRe := regexp.MustCompile(`^USER (\d+):(\d+)$`)
	for _, tc := range dockerCases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := DockerfileFor(tc.svc)
			if err != nil {
				t.Fatal(err)
			}
			again, err := DockerfileFor(tc.svc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.Dockerfile, again.Dockerfile) || !bytes.Equal(res.Dockerignore, again.Dockerignore) {
				t.Error("two renders of the same service differ")
			}
			lines := dockerInstructions(string(res.Dockerfile))
			if !strings.HasPrefix(string(res.Dockerfile), "# syntax=docker/dockerfile:1\n") {
				t.Error("first line is not the syntax directive")
			}
			if strings.Contains(string(res.Dockerfile), ":latest") {
				t.Error("uses a :latest image")
			}
			var froms []string
			stages := map[string]bool{}
			last := 0
			for i, l := range lines {
				f := strings.Fields(l)
				if f[0] != "FROM" {
					continue
				}
				f = f[1:]
				for len(f) > 0 && strings.HasPrefix(f[0], "--") {
					f = f[1:]
				}
				img := f[0]
				if len(f) == 3 && strings.EqualFold(f[1], "AS") {
					stages[f[2]] = true
				}
				name := img[strings.LastIndex(img, "/")+1:]
				_, tag, tagged := strings.Cut(name, ":")
				if !tagged || tag == "" || tag == "latest" {
					t.Errorf("FROM %s has no pinned tag", img)
				}
				froms = append(froms, img)
				last = i
			}
			if len(froms) < 2 {
				t.Fatalf("want a multi-stage build, got %d FROM lines", len(froms))
			}
			if len(stages) == 0 {
				t.Error("no named build stage")
			}
			if froms[len(froms)-1] != res.RuntimeImage {
				t.Errorf("last stage is %s, RuntimeImage says %s", froms[len(froms)-1], res.RuntimeImage)
			}
			if !strings.Contains(strings.Join(froms, " "), res.BuilderImage) {
				t.Errorf("BuilderImage %s is not a FROM image", res.BuilderImage)
			}
			var user, entry string
			expose := []string{}
			for _, l := range lines[last:] {
				switch f := strings.Fields(l); f[0] {
				case "USER":
					user = l
				case "ENTRYPOINT":
					entry = strings.TrimSpace(strings.TrimPrefix(l, "ENTRYPOINT"))
				case "EXPOSE":
					expose = append(expose, f[1:]...)
				case "HEALTHCHECK", "CMD":
					t.Errorf("unexpected %s in the final stage", f[0])
				}
			}
			m := userRe.FindStringSubmatch(user)
			if m == nil {
				t.Fatalf("final stage has no numeric USER uid:gid, got %q", user)
			}
			if m[1] == "0" || m[2] == "0" || m[1] != strconv.FormatInt(res.UID, 10) {
				t.Errorf("USER %s:%s, UID %d: want the non-root UID", m[1], m[2], res.UID)
			}
			// kube-score's container-security-context-user-group-id wants
			// both at least 10000, so pods can run the image as built.
			if uid, _ := strconv.Atoi(m[1]); uid < 10000 {
				t.Errorf("USER %s: want a UID of at least 10000", m[1])
			}
			if gid, _ := strconv.Atoi(m[2]); gid < 10000 {
				t.Errorf("USER %s:%s: want a GID of at least 10000", m[1], m[2])
			}
			var argv []string
			if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 {
				t.Errorf("ENTRYPOINT %s is not an exec-form JSON array: %v", entry, err)
			}
			wantExpose := []string{}
			if tc.svc.Port > 0 {
				wantExpose = []string{strconv.Itoa(tc.svc.Port)}
			}
			if strings.Join(expose, " ") != strings.Join(wantExpose, " ") {
				t.Errorf("EXPOSE %v, want %v", expose, wantExpose)
			}
			for _, l := range lines {
				f := strings.Fields(l)
				if f[0] != "COPY" {
					continue
				}
				for _, a := range f[1:] {
					if from, ok := strings.CutPrefix(a, "--from="); ok && !stages[from] {
						t.Errorf("COPY from unknown stage %q", from)
					}
					if strings.Contains(a, ".env") {
						t.Errorf("copies an env file: %s", l)
					}
				}
			}
			for _, want := range []string{"**/.env", ".git", "**/*.pem"} {
				if !bytes.Contains(res.Dockerignore, []byte("\n"+want+"\n")) {
					t.Errorf(".dockerignore misses %s", want)
				}
			}
		})
	}
}

// dockerInstructions joins continuation lines and drops comments and blanks.
func dockerInstructions(df string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(df, "\n") {
		t := strings.TrimSpace(l)
		if cur == "" && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(t, "\\"); ok {
			cur += s + " "
			continue
		}
		out = append(out, cur+t)
		cur = ""
	}
	return out
}

func TestDockerfileErrors(t *testing.T) {
	base := analyze.Service{Name: "svc", Path: ".", Language: analyze.LangPython, BuildTool: "pip", Project: "requirements.txt", Port: 8000}
	for _, tc := range []struct {
		name string
		edit func(*analyze.Service)
		want string
	}{
		{"unknown language", func(s *analyze.Service) { s.Language = "cobol" }, `service "svc": no Dockerfile rules for language "cobol"`},
		{"rust without binary", func(s *analyze.Service) { s.Language, s.BuildTool, s.Project = analyze.LangRust, "cargo", "Cargo.toml" }, `no binary name for the Rust crate`},
		{"static build needs a shell", func(s *analyze.Service) {
			s.Language, s.BuildTool, s.Project, s.BuildCommand = analyze.LangStatic, "npm", "package.json", "npm run build && cp -r x y"
		}, `needs a shell`},
		{"static output escapes", func(s *analyze.Service) {
			s.Language, s.BuildTool, s.Project, s.OutputDir = analyze.LangStatic, "npm", "package.json", "../dist"
		}, `output directory "../dist" is not a plain relative path`},
		{"runtime file escapes", func(s *analyze.Service) { s.RuntimeFiles = []string{"../secrets"} }, `file "../secrets" is not a plain relative path`},
		{"build file with a space", func(s *analyze.Service) { s.BuildFiles = []string{"My Dir/x.csproj"} }, `file "My Dir/x.csproj"`},
		{"shell entrypoint", func(s *analyze.Service) { s.Entrypoint = "uvicorn app:app && echo hi" }, `needs a shell`},
		{"quoted entrypoint", func(s *analyze.Service) { s.Entrypoint = `gunicorn "app:app"` }, `needs a shell`},
		{"parenthesis outside a factory", func(s *analyze.Service) { s.Entrypoint = "python $(which app)" }, `needs a shell`},
		{"path escapes context", func(s *analyze.Service) { s.Project = "../requirements.txt" }, `project "../requirements.txt" is not a plain relative path`},
		{"newline in lockfile", func(s *analyze.Service) { s.Lockfile = "a\nRUN evil" }, `lockfile`},
		{"unknown python tool", func(s *analyze.Service) { s.BuildTool = "pipenv" }, `Python build tool "pipenv"`},
		{"dotnet without csproj", func(s *analyze.Service) { s.Language, s.BuildTool = analyze.LangCSharp, "dotnet" }, `is not a .csproj`},
		{"bun", func(s *analyze.Service) { s.Language, s.BuildTool = analyze.LangJavaScript, "bun" }, `package manager "bun"`},
		{"bad port", func(s *analyze.Service) { s.Port = 70000 }, `port 70000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			_, err := DockerfileFor(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestDockerfileChoices(t *testing.T) {
	for _, tc := range []struct {
		name    string
		svc     analyze.Service
		builder string
		runtime string
		uid     int64
		entry   string   // ENTRYPOINT line, when checked
		has     []string // substrings of the Dockerfile
		assume  string   // substring of one assumption, when expected
	}{
		{
			name:    "maven without wrapper",
			svc:     analyze.Service{Name: "a", Path: ".", Language: analyze.LangJava, LanguageVersion: "1.8", BuildTool: "maven", Project: "pom.xml", Entrypoint: "a.jar"},
			builder: "maven:3.9-eclipse-temurin-8", runtime: "eclipse-temurin:8-jre", uid: 10001,
			has: []string{"mvn -B -q dependency:go-offline", "cp target/a.jar /out/app.jar"},
		},
		{
			name:    "gradle wrapper java 25",
			svc:     analyze.Service{Name: "a", Path: ".", Language: analyze.LangJava, LanguageVersion: "25", BuildTool: "gradle", Wrapper: true, Project: "build.gradle", Entrypoint: "a.jar"},
			builder: "eclipse-temurin:25-jdk", runtime: "eclipse-temurin:25-jre", uid: 10001,
			has: []string{"COPY gradlew build.gradle settings.gradle* gradle.propertie[s] ./", "target=/root/.gradle", "cp build/libs/a.jar"},
		},
		{
			name:    "gradle java 25 no wrapper",
			svc:     analyze.Service{Name: "a", Path: ".", Language: analyze.LangJava, LanguageVersion: "25", BuildTool: "gradle", Project: "build.gradle", Entrypoint: "a.jar"},
			builder: "gradle:9.1-jdk25", runtime: "eclipse-temurin:25-jre", uid: 10001,
		},
		{
			name:    "quarkus",
			svc:     analyze.Service{Name: "q", Path: ".", Language: analyze.LangJava, LanguageVersion: "21", Framework: "quarkus", BuildTool: "maven", Project: "pom.xml", Port: 8080},
			builder: "maven:3.9-eclipse-temurin-21", runtime: "eclipse-temurin:21-jre", uid: 10001,
			entry: `ENTRYPOINT ["java", "-jar", "/app/quarkus-run.jar"]`,
		},
		{
			name:    "dotnet 6 creates a user",
			svc:     analyze.Service{Name: "a", Path: ".", Language: analyze.LangCSharp, LanguageVersion: "net6.0", Framework: "aspnetcore", BuildTool: "dotnet", Project: "src/Api/Api.csproj", Port: 5000},
			builder: "mcr.microsoft.com/dotnet/sdk:6.0", runtime: "mcr.microsoft.com/dotnet/aspnet:6.0", uid: 10001,
			entry: `ENTRYPOINT ["dotnet", "Api.dll"]`, has: []string{"COPY src/Api/Api.csproj src/Api/", "ENV ASPNETCORE_URLS=http://+:5000", "useradd"},
			assume: "Api.dll assumed",
		},
		{
			name:    "next with yarn",
			svc:     analyze.Service{Name: "site", Path: ".", Language: analyze.LangTypeScript, LanguageVersion: "18", Framework: "next", BuildTool: "yarn", Entrypoint: "npm start", Lockfile: "yarn.lock", Port: 3000},
			builder: "node:18-bookworm-slim", runtime: "node:18-bookworm-slim", uid: 10001,
			entry:  `ENTRYPOINT ["/app/node_modules/.bin/next", "start"]`,
			has:    []string{"yarn install --frozen-lockfile --production", "ENV PORT=3000", "COPY --from=builder --chown=10001:10001 /app/.next ./.next", "package.json next.config.* ./"},
			assume: "runs a package.json script",
		},
		{
			name:    "node 25 pnpm without lock",
			svc:     analyze.Service{Name: "w", Path: ".", Language: analyze.LangJavaScript, LanguageVersion: "25", BuildTool: "pnpm", Entrypoint: "NODE_OPTIONS=--enable-source-maps node worker.js"},
			builder: "node:25-bookworm-slim", runtime: "node:25-bookworm-slim", uid: 10001,
			entry:  `ENTRYPOINT ["node", "worker.js"]`,
			has:    []string{"npm install --global pnpm@10", "pnpm install --prod", "ENV NODE_OPTIONS=--enable-source-maps"},
			assume: "without a lock file",
		},
		{
			name:    "ts-node start is compiled",
			svc:     analyze.Service{Name: "t", Path: ".", Language: analyze.LangTypeScript, LanguageVersion: ">=18", BuildTool: "npm", Entrypoint: "ts-node src/main.ts", Lockfile: "package-lock.json"},
			builder: "node:22-bookworm-slim", runtime: "node:22-bookworm-slim", uid: 10001,
			entry: `ENTRYPOINT ["node", "dist/index.js"]`, assume: "runs a development tool",
		},
		{
			name:    "uv",
			svc:     analyze.Service{Name: "u", Path: ".", Language: analyze.LangPython, LanguageVersion: "3.13", Framework: "fastapi", BuildTool: "uv", Entrypoint: "fastapi run app/main.py", Project: "pyproject.toml", Lockfile: "uv.lock", Port: 8000},
			builder: "python:3.13-slim", runtime: "python:3.13-slim", uid: 10001,
			entry: `ENTRYPOINT ["fastapi", "run", "app/main.py", "--host", "0.0.0.0", "--port", "8000"]`,
			has:   []string{"uv sync --frozen --no-dev --no-install-project", "COPY pyproject.toml uv.lock ./"},
		},
		{
			name:    "pip pyproject django runserver",
			svc:     analyze.Service{Name: "d", Path: ".", Language: analyze.LangPython, Framework: "django", BuildTool: "pip", Entrypoint: "python manage.py runserver", Project: "pyproject.toml", Port: 8000},
			builder: "python:3.12-slim", runtime: "python:3.12-slim", uid: 10001,
			entry: `ENTRYPOINT ["python", "manage.py", "runserver", "0.0.0.0:8000"]`,
			has:   []string{"pip install ."}, assume: "Python 3.12 assumed",
		},
		{
			name: "dotnet SDK pin older than the target falls back",
			svc: analyze.Service{Name: "a", Path: "src/A", Language: analyze.LangCSharp, LanguageVersion: "9.0", Framework: "worker", BuildTool: "dotnet",
				Project: "A.csproj", SDKVersion: "8.0.404", BuildFiles: []string{"src/Lib/Lib.csproj"}},
			builder: "mcr.microsoft.com/dotnet/sdk:9.0", runtime: "mcr.microsoft.com/dotnet/runtime:9.0", uid: 10001,
			has:    []string{"docker build -f src/A/Dockerfile -t a src", "COPY A/A.csproj A/", "COPY Lib/Lib.csproj Lib/", "dotnet restore A/A.csproj", "dotnet publish A/A.csproj"},
			assume: "older than the target framework",
		},
		{
			name: "dotnet restore files inside the project directory keep its context",
			svc: analyze.Service{Name: "a", Path: "svc", Language: analyze.LangCSharp, LanguageVersion: "8.0", Framework: "aspnetcore", BuildTool: "dotnet",
				Project: "Api.csproj", Port: 8080, SDKVersion: "8.0.100-rc.1.23455.8", BuildFiles: []string{"svc/NuGet.config"}},
			builder: "mcr.microsoft.com/dotnet/sdk:8.0", runtime: "mcr.microsoft.com/dotnet/aspnet:8.0", uid: 10001,
			has:    []string{"docker build -t a svc\n", "COPY Api.csproj NuGet.config ./"},
			assume: "has no image tag of its own",
		},
		{
			name:    "rust toolchain channel is not a version",
			svc:     analyze.Service{Name: "r", Path: ".", Language: analyze.LangRust, SDKVersion: "stable", BuildTool: "cargo", Entrypoint: "r", Project: "Cargo.toml", Lockfile: "Cargo.lock"},
			builder: "rust:1.85-bookworm", runtime: "gcr.io/distroless/cc-debian12:nonroot", uid: 65532,
			entry: `ENTRYPOINT ["/app/r"]`, has: []string{"cargo fetch --locked", "--manifest-path Cargo.toml --bin r"},
			assume: "Rust 1.85 assumed",
		},
		{
			name:    "static without build facts and port",
			svc:     analyze.Service{Name: "site", Path: ".", Language: analyze.LangStatic, BuildTool: "yarn", Project: "package.json", Lockfile: "yarn.lock"},
			builder: "node:22-bookworm-slim", runtime: "nginxinc/nginx-unprivileged:1.30-alpine", uid: 10001,
			entry: `ENTRYPOINT ["nginx", "-g", "daemon off;"]`, has: []string{"RUN yarn run build", "listen 8080;", "/app/dist /usr/share/nginx/html", "EXPOSE 8080"},
			assume: "dist/ assumed",
		},
		{
			name:    "go without version or entrypoint",
			svc:     analyze.Service{Name: "Tool", Path: "tools/x", Language: analyze.LangGo, BuildTool: "go", Project: "go.mod"},
			builder: "golang:1.24", runtime: "gcr.io/distroless/static-debian12:nonroot", uid: 65532,
			entry: `ENTRYPOINT ["/app/tool"]`, has: []string{"COPY go.mod ./", "docker build -t tool tools/x"},
			assume: "Go 1.24 assumed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := DockerfileFor(tc.svc)
			if err != nil {
				t.Fatal(err)
			}
			df := string(res.Dockerfile)
			if res.BuilderImage != tc.builder || res.RuntimeImage != tc.runtime || res.UID != tc.uid {
				t.Errorf("got %s -> %s as %d, want %s -> %s as %d", res.BuilderImage, res.RuntimeImage, res.UID, tc.builder, tc.runtime, tc.uid)
			}
			if tc.entry != "" && !strings.Contains(df, "\n"+tc.entry+"\n") {
				t.Errorf("want %s in:\n%s", tc.entry, df)
			}
			for _, h := range tc.has {
				if !strings.Contains(df, h) {
					t.Errorf("want %q in:\n%s", h, df)
				}
			}
			if tc.assume != "" && !strings.Contains(strings.Join(res.Assumptions, "\n"), tc.assume) {
				t.Errorf("want an assumption containing %q, got %q", tc.assume, res.Assumptions)
			}
		})
	}
}

func TestDockerVersions(t *testing.T) {
	for _, tc := range []struct {
		fn, in, want string
	}{
		{"go", "1.22", "1.22"}, {"go", "1.22.3", "1.22"}, {"go", "go1.21", "1.21"}, {"go", "", "1.24"},
		{"java", "21", "21"}, {"java", "17.0.2", "17"}, {"java", "1.8", "8"}, {"java", "2.0", "21"}, {"java", "", "21"},
		{"dotnet", "8.0", "8.0"}, {"dotnet", "net9.0", "9.0"}, {"dotnet", "10", "10.0"}, {"dotnet", "", "8.0"},
		{"node", "20", "20"}, {"node", "^20.11.0", "20"}, {"node", ">=18", "22"}, {"node", ">=24", "24"}, {"node", "", "22"},
		{"python", "3.11", "3.11"}, {"python", ">=3.10", "3.12"}, {"python", "^3.13", "3.13"}, {"python", "", "3.12"},
	} {
		var got string
		switch tc.fn {
		case "go":
			got, _ = goVersion(tc.in)
		case "java":
			v, _ := javaVersion(tc.in)
			got = strconv.Itoa(v)
		case "dotnet":
			got, _, _ = dotnetVersion(tc.in)
		case "node":
			v, _ := nodeVersion(tc.in)
			got = strconv.Itoa(v)
		case "python":
			got, _ = pythonVersion(tc.in)
		}
		if got != tc.want {
			t.Errorf("%sVersion(%q) = %s, want %s", tc.fn, tc.in, got, tc.want)
		}
	}
}
