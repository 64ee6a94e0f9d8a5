// Package analyze walks a repository and describes the deployable services
// it holds as a SystemModel. It knows nothing of GitHub, git or Kubernetes
// objects: it reads files and reports what it found and where.
package analyze

// SystemModel is the contract between analysis and authoring. It serializes
// to JSON (`kubewright analyze --format json`); field order and slice order
// are deterministic so the same repository always yields the same bytes.
type SystemModel struct {
	// Name is the repository's name, used for the app namespace and the
	// Flux GitRepository: the name in the git remote "origin" when there is
	// one (see Repository), else the directory name.
	Name     string    `json:"name"`
	Services []Service `json:"services"`
	// Errors lists the projects that were not analyzed: broken ones (Kind
	// empty), ones found in a language kubewright does not containerize yet
	// (Kind "unsupported") and nested git repositories (Kind
	// "nested-repository").
	Errors []ServiceError `json:"errors,omitempty"`
	// Stores lists the backing stores several services share (one instance,
	// several users); a backing service not listed here is its user's own.
	Stores []Store `json:"stores,omitempty"`
	// Repository is the git remote "origin", when .git/config names one.
	Repository  *Remote     `json:"repository,omitempty"`
	Conventions Conventions `json:"conventions"`
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
	LangRust       = "rust"
	// LangStatic is a single-page application built by Node (Vite, Create
	// React App, Angular, Vue CLI) whose build output a non-root web server
	// serves: see Service.BuildCommand and Service.OutputDir.
	LangStatic = "static"
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
	// Detector names the detector that found it: go, maven, gradle, dotnet,
	// node, python, rust.
	Detector string `json:"detector"`
	// Language is one of the Lang* constants; LanguageVersion is the
	// version the project targets ("1.22", "21", "8.0", "20", "3.12").
	Language        string `json:"language"`
	LanguageVersion string `json:"languageVersion,omitempty"`
	// Framework: "net/http", "gin", "grpc", "spring-boot", "aspnetcore",
	// "worker", "express", "fastify", "nestjs", "next", "fastapi", "flask",
	// "django", "celery", "axum", "actix-web", "tonic", "vite", "react-scripts",
	// "angular", "vue-cli", ...
	Framework string `json:"framework,omitempty"`
	// BuildTool: "go", "maven", "gradle", "dotnet", "npm", "yarn", "pnpm",
	// "pip", "poetry", "uv", "cargo".
	BuildTool string `json:"buildTool"`
	// Wrapper is true when the build tool wrapper (mvnw, gradlew) is committed.
	Wrapper bool `json:"wrapper,omitempty"`
	// Entrypoint is what the runtime image executes:
	//   go: the main package relative to Path ("." or "./cmd/api");
	//   maven/gradle: the jar file name ("user-service-1.0.0.jar");
	//   dotnet: the dll name ("ProductService.dll");
	//   node: the start command ("node dist/server.js" or "npm start");
	//   python: the server command ("uvicorn app.main:app");
	//   rust: the binary name ("shipping");
	//   static: empty (the web server serves OutputDir).
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
	// GRPC is true when the service serves gRPC on Port; GRPCHealth when it
	// registers the standard health service (grpc.health.v1), so a grpc
	// probe can ask it. GRPCHealthSource is "file:line" of that evidence.
	GRPC             bool   `json:"grpc,omitempty"`
	GRPCHealth       bool   `json:"grpcHealth,omitempty"`
	GRPCHealthSource string `json:"grpcHealthSource,omitempty"`
	// SlowStart is true for runtimes that take long to become ready (JVM,
	// .NET), which want a startup probe.
	SlowStart bool `json:"slowStart,omitempty"`
	// SDKVersion is the build SDK the repository pins (global.json
	// sdk.version for .NET, rust-toolchain channel for Rust), when pinned.
	SDKVersion string `json:"sdkVersion,omitempty"`
	// BuildFiles lists, relative to the repository root and sorted, the
	// files outside Project that restoring its dependencies reads (.NET:
	// the projects it references, transitively, and the
	// Directory.Build.props/.targets, Directory.Packages.props, global.json
	// and NuGet.config files that apply to them), so a Dockerfile can copy
	// exactly these before the sources. A path outside Path means the build
	// context must be a common parent of both.
	BuildFiles []string `json:"buildFiles,omitempty"`
	// BuildCommand and OutputDir describe a static site (Language "static"):
	// the command that builds it ("npm run build") and the directory,
	// relative to Path, the web server serves ("dist", "build",
	// "dist/shop/browser").
	BuildCommand string `json:"buildCommand,omitempty"`
	OutputDir    string `json:"outputDir,omitempty"`
	// RuntimeFiles lists files and directories, relative to Path, that the
	// running service reads and the image must contain besides the build
	// output (migrations/, templates/, static/, alembic.ini, ...), sorted.
	RuntimeFiles []string `json:"runtimeFiles,omitempty"`
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
	// Database is the database name the default names, when it is a
	// connection URL or string ("postgres://.../orders" -> "orders"); kept
	// even for secrets, as a name is not a credential.
	Database string `json:"database,omitempty"`
	// Source is "file:line" of the first place it was seen, relative to the
	// service path.
	Source string `json:"source"`
}

// Backing service kinds.
const (
	BackingPostgres  = "postgresql"
	BackingMySQL     = "mysql"
	BackingMariaDB   = "mariadb"
	BackingMongoDB   = "mongodb"
	BackingRedis     = "redis"
	BackingRabbitMQ  = "rabbitmq"
	BackingKafka     = "kafka"
	BackingSQLServer = "sqlserver"
)

// Backing is a backing service the code depends on.
type Backing struct {
	Kind string `json:"kind"`
	// Evidence names the dependency that revealed it
	// ("pom.xml: org.mariadb.jdbc:mariadb-java-client").
	Evidence string `json:"evidence"`
	// External marks a managed cloud service (DynamoDB, Spanner, Cosmos DB,
	// ...): recognised and named (Name) so the plan can say so, never
	// generated. Kind is then one of the Cloud* kinds.
	External bool   `json:"external,omitempty"`
	Name     string `json:"name,omitempty"`
	// EnvVar is the environment variable that carries the connection
	// (DATABASE_URL, REDIS_URL, ConnectionStrings__Default, SPRING_DATASOURCE_URL),
	// when one is visible.
	EnvVar string `json:"envVar,omitempty"`
	// Database is the database name when the code or configuration shows it
	// (from a JDBC URL, a connection string or a database default).
	Database string `json:"database,omitempty"`
	// Store names the entry of SystemModel.Stores when the store is shared
	// with other services; empty when it is this service's own.
	Store string `json:"store,omitempty"`
}

// Store is one backing store several services of the model share.
type Store struct {
	// Name is a DNS label for the single instance ("api-redis").
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Owner is the service that owns the store (whose name matches the
	// database, else the one serving a port, else the first by name);
	// Users lists every service using it, the owner included, sorted.
	Owner string   `json:"owner"`
	Users []string `json:"users"`
	// Database is the shared database name, when visible.
	Database string `json:"database,omitempty"`
	// Reason says why the users are taken to share it
	// ("same variable REDIS_URL", "same database users").
	Reason string `json:"reason"`
}

// Remote is the repository's git remote "origin", read from .git/config.
// Credentials embedded in the URL are never recorded.
type Remote struct {
	// Host is the git host ("github.com", "github.example.com").
	Host string `json:"host"`
	// Owner is the user, organisation or group path ("acme", "group/sub").
	Owner string `json:"owner"`
	// Name is the repository name without ".git".
	Name string `json:"name"`
	// URL is the https URL without credentials or ".git" suffix
	// ("https://github.com/acme/shop"), for Flux's GitRepository.
	URL string `json:"url"`
	// Transport is how origin is spelled: "https", "http", "ssh" or "git".
	Transport string `json:"transport"`
}

// ServiceError is a per-service analysis failure. It names the file and line
// and says how to fix it; the other services are still analyzed.
type ServiceError struct {
	// Kind is empty for a broken project, ErrUnsupported for a project in
	// a language kubewright does not containerize yet, ErrNestedRepository
	// for a directory that is a git repository of its own.
	Kind string `json:"kind,omitempty"`
	// Language names the unsupported language ("ruby", "php").
	Language string `json:"language,omitempty"`
	Path     string `json:"path"`
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
}

// ServiceError kinds.
const (
	ErrUnsupported      = "unsupported"
	ErrNestedRepository = "nested-repository"
)

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
