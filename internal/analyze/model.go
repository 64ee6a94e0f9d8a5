// Package analyze walks a repository and describes the deployable services
// it holds as a SystemModel. It knows nothing of GitHub, git or Kubernetes
// objects: it reads files and reports what it found and where.
package analyze

// SystemModel is the contract between analysis and authoring. It serializes
// to JSON (`kubewright analyze --format json`); field order and slice order
// are deterministic so the same repository always yields the same bytes.
type SystemModel struct {
	// Name is the repository's name (its directory name), used for the app
	// namespace and the Flux GitRepository.
	Name        string         `json:"name"`
	Services    []Service      `json:"services"`
	Errors      []ServiceError `json:"errors,omitempty"`
	Conventions Conventions    `json:"conventions"`
}

// Language identifiers used in Service.Language.
const (
	LangGo         = "go"
	LangJava       = "java"
	LangKotlin     = "kotlin"
	LangCSharp     = "csharp"
	LangJavaScript = "javascript"
	LangTypeScript = "typescript"
	LangPython     = "python"
)

// Service is one deployable unit: something that becomes one container
// image and one workload.
type Service struct {
	// Name is a DNS-1123 label derived from the project (module/artifactId/
	// assembly/package name or directory), unique within the model.
	Name string `json:"name"`
	// Path is the service's build context, relative to the repository root,
	// slash-separated; "." for the root.
	Path string `json:"path"`
	// Detector names the detector that found it: go, maven, gradle, dotnet, node, python.
	Detector string `json:"detector"`
	// Language is one of the Lang* constants; LanguageVersion is the
	// version the project targets ("1.22", "21", "8.0", "20", "3.12").
	Language        string `json:"language"`
	LanguageVersion string `json:"languageVersion,omitempty"`
	// Framework: "net/http", "gin", "spring-boot", "aspnetcore", "worker",
	// "express", "fastify", "nestjs", "next", "fastapi", "flask", "django", ...
	Framework string `json:"framework,omitempty"`
	// BuildTool: "go", "maven", "gradle", "dotnet", "npm", "yarn", "pnpm",
	// "pip", "poetry", "uv".
	BuildTool string `json:"buildTool"`
	// Wrapper is true when the build tool wrapper (mvnw, gradlew) is committed.
	Wrapper bool `json:"wrapper,omitempty"`
	// Entrypoint is what the runtime image executes:
	//   go: the main package relative to Path ("." or "./cmd/api");
	//   maven/gradle: the jar file name ("user-service-1.0.0.jar");
	//   dotnet: the dll name ("ProductService.dll");
	//   node: the start command ("node dist/server.js" or "npm start");
	//   python: the server command ("uvicorn app.main:app").
	Entrypoint string `json:"entrypoint"`
	// Project is the primary build file relative to Path (go.mod, pom.xml,
	// build.gradle.kts, ProductService.csproj, package.json, pyproject.toml).
	Project string `json:"project"`
	// Lockfile names the dependency lock file relative to Path, if any
	// (go.sum, package-lock.json, yarn.lock, pnpm-lock.yaml, poetry.lock, uv.lock).
	Lockfile string `json:"lockfile,omitempty"`
	// Port is the TCP port the service listens on; 0 when it listens on none
	// (a worker). PortSource says where it came from ("main.go:12",
	// "default for spring-boot").
	Port       int    `json:"port,omitempty"`
	PortSource string `json:"portSource,omitempty"`
	// HealthPath is an HTTP path that answers when the service is healthy,
	// empty when none was found (probes fall back to TCP).
	HealthPath string `json:"healthPath,omitempty"`
	// Env lists the environment variables the code reads, sorted by name.
	Env []EnvVar `json:"env,omitempty"`
	// Backing lists backing services found from dependencies, sorted by kind.
	Backing []Backing `json:"backing,omitempty"`
	// Calls lists other services of this model that this one calls, sorted.
	Calls []string `json:"calls,omitempty"`
	// UserFacing is true for services that should get an Ingress (web
	// frameworks serving HTTP that no other service of the model calls
	// exclusively; see the analyzer's rules).
	UserFacing bool `json:"userFacing,omitempty"`
	// Dockerfile is the existing Dockerfile for this service, relative to the
	// repository root, if one exists. Existing files are kept.
	Dockerfile string `json:"dockerfile,omitempty"`
	// DockerfileUser is the USER the existing Dockerfile's final stage runs
	// as ("65532", "10001:10001", "app"), so manifests can match it.
	DockerfileUser string `json:"dockerfileUser,omitempty"`
	// Assumptions records every default the analyzer chose because the code
	// did not say (port, version, entrypoint), for the plan and the PR body.
	Assumptions []string `json:"assumptions,omitempty"`
}

// EnvVar is one environment variable the code reads.
type EnvVar struct {
	Name string `json:"name"`
	// Default is the default the code or config supplies, if visible.
	Default string `json:"default,omitempty"`
	// Secret marks names that carry credentials (PASSWORD, SECRET, TOKEN,
	// KEY, connection strings); they are wired to Secret references, never
	// to literal values.
	Secret bool `json:"secret,omitempty"`
	// Source is "file:line" of the first place it was seen, relative to the
	// service path.
	Source string `json:"source"`
}

// Backing service kinds.
const (
	BackingPostgres = "postgresql"
	BackingMySQL    = "mysql"
	BackingMariaDB  = "mariadb"
	BackingMongoDB  = "mongodb"
	BackingRedis    = "redis"
	BackingRabbitMQ = "rabbitmq"
	BackingKafka    = "kafka"
)

// Backing is a backing service the code depends on.
type Backing struct {
	Kind string `json:"kind"`
	// Evidence names the dependency that revealed it
	// ("pom.xml: org.mariadb.jdbc:mariadb-java-client").
	Evidence string `json:"evidence"`
}

// ServiceError is a per-service analysis failure. It names the file and line
// and says how to fix it; the other services are still analyzed.
type ServiceError struct {
	Path    string `json:"path"`
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func (e ServiceError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + itoa(e.Line)
	}
	s += ": " + e.Message
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Conventions are what the repository already has and does; authors respect
// them and never overwrite existing files unless forced.
type Conventions struct {
	Dockerfiles  []string `json:"dockerfiles,omitempty"`
	ComposeFiles []string `json:"composeFiles,omitempty"`
	// K8sFiles and GitopsFiles list existing manifests under k8s/ and gitops/.
	K8sFiles []string `json:"k8sFiles,omitempty"`
	// Workloads names the Deployments/StatefulSets already defined there, as
	// "namespace/name" (namespace empty when unset).
	Workloads   []string `json:"workloads,omitempty"`
	GitopsFiles []string `json:"gitopsFiles,omitempty"`
	// Namespaces, Registry, IngressClass and Labels are read from existing
	// manifests and compose files.
	Namespaces   []string          `json:"namespaces,omitempty"`
	Registry     string            `json:"registry,omitempty"`
	IngressClass string            `json:"ingressClass,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}
