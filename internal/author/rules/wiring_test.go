package rules

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
)

// wiringModel is a small system: an API owning a PostgreSQL database and a
// Redis that a worker shares, a Spring service with its own MariaDB, a .NET
// service on SQL Server, a gRPC service, and a managed cloud store.
func wiringModel() *analyze.SystemModel {
	return &analyze.SystemModel{
		Name: "shop",
		Services: []analyze.Service{
			{Name: "api", Language: analyze.LangJavaScript, Port: 3000, Env: []analyze.EnvVar{
				{Name: "DATABASE_URL", Secret: true}, {Name: "REDIS_URL", Secret: true}, {Name: "PGHOST"}, {Name: "API_TOKEN", Secret: true},
			}, Backing: []analyze.Backing{
				{Kind: analyze.BackingPostgres, EnvVar: "DATABASE_URL", Database: "links", Store: "api-postgresql"},
				{Kind: analyze.BackingRedis, EnvVar: "REDIS_URL", Store: "api-redis"},
			}},
			{Name: "worker", Language: analyze.LangPython, Env: []analyze.EnvVar{
				{Name: "DATABASE_URL", Secret: true}, {Name: "REDIS_URL", Secret: true}, {Name: "API_URL"}, {Name: "PRICING_ADDR"},
			}, Backing: []analyze.Backing{
				{Kind: analyze.BackingPostgres, EnvVar: "DATABASE_URL", Store: "api-postgresql"},
				{Kind: analyze.BackingRedis, EnvVar: "REDIS_URL", Store: "api-redis"},
				{Kind: "dynamodb", External: true, Name: "AWS DynamoDB", EnvVar: "DYNAMODB_TABLE", Evidence: "requirements.txt: boto3"},
			}, Calls: []string{"api", "pricing"}},
			{Name: "users", Language: analyze.LangJava, Framework: "spring-boot", Port: 8081, HealthPath: "/actuator/health", SlowStart: true,
				Env:     []analyze.EnvVar{{Name: "DB_HOST"}},
				Backing: []analyze.Backing{{Kind: analyze.BackingMariaDB, EnvVar: "SPRING_DATASOURCE_URL", Database: "accounts"}}},
			{Name: "stock", Language: analyze.LangCSharp, Port: 8080, Env: []analyze.EnvVar{{Name: "ConnectionStrings__Stock", Secret: true}},
				Backing: []analyze.Backing{{Kind: analyze.BackingSQLServer, EnvVar: "ConnectionStrings__Stock"}}},
			{Name: "pricing", Language: analyze.LangGo, Port: 50051, GRPC: true, GRPCHealth: true, PortSource: ".env:3 (PRICING_PORT, read at main.go:9)",
				Env: []analyze.EnvVar{{Name: "PRICING_PORT"}}},
		},
		Stores: []analyze.Store{
			{Name: "api-postgresql", Kind: analyze.BackingPostgres, Owner: "api", Users: []string{"api", "worker"}, Database: "links"},
			{Name: "api-redis", Kind: analyze.BackingRedis, Owner: "api", Users: []string{"api", "worker"}},
		},
	}
}

func wiringSystem(t *testing.T, opts author.Options) *system {
	t.Helper()
	m := wiringModel()
	opts, _ = Defaults(m, opts)
	sys := &system{m: m, opts: opts, all: map[string]analyze.Service{}, uid: map[string]int64{}}
	for _, s := range m.Services {
		sys.all[s.Name] = s
		sys.svcs = append(sys.svcs, s)
	}
	return sys
}

// envText renders a container's env list as NAME=value or NAME<-secret/key.
func envText(env []corev1.EnvVar) []string {
	var out []string
	for _, e := range env {
		if e.ValueFrom != nil {
			out = append(out, fmt.Sprintf("%s<-%s/%s", e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
			continue
		}
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

func configText(c map[string]string) []string {
	var out []string
	for k, v := range c {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func TestWire(t *testing.T) {
	for _, tc := range []struct {
		svc     string
		f       flavor
		env     []string
		config  []string
		secrets []string // keys of the service's own credentials Secret
	}{
		{
			svc: "api", f: flavorRaw,
			env: []string{
				"API_POSTGRESQL_USERNAME<-api-db-credentials/username",
				"API_POSTGRESQL_PASSWORD<-api-db-credentials/password",
				"API_TOKEN<-api-credentials/API_TOKEN",
				"DATABASE_URL=postgresql://$(API_POSTGRESQL_USERNAME):$(API_POSTGRESQL_PASSWORD)@api-postgresql.api.svc.cluster.local:5432/links",
			},
			config:  []string{"PGHOST=api-postgresql.api.svc.cluster.local", "REDIS_URL=redis://api-redis.api.svc.cluster.local:6379"},
			secrets: []string{"API_TOKEN"},
		},
		{
			// The worker shares the API's stores: same instance in the API's
			// namespace, credentials from a Secret of the same name in its own.
			svc: "worker", f: flavorGitops,
			env: []string{
				"API_POSTGRESQL_USERNAME<-api-db-credentials/username",
				"API_POSTGRESQL_PASSWORD<-api-db-credentials/password",
				"DATABASE_URL=postgresql://$(API_POSTGRESQL_USERNAME):$(API_POSTGRESQL_PASSWORD)@api-db-rw.api.svc.cluster.local:5432/links",
			},
			config: []string{
				"API_URL=http://api.api.svc.cluster.local",
				"PRICING_ADDR=pricing.pricing.svc.cluster.local:50051",
				"REDIS_URL=redis://api-redis.api.svc.cluster.local:6379",
			},
		},
		{
			// Spring binds SPRING_DATASOURCE_URL; with no credential variables
			// of its own it gets the datasource user and password too.
			svc: "users", f: flavorRaw,
			env: []string{"SPRING_DATASOURCE_USERNAME<-users-db-credentials/username", "SPRING_DATASOURCE_PASSWORD<-users-db-credentials/password"},
			config: []string{
				"DB_HOST=users-mariadb.users.svc.cluster.local",
				"MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED=true",
				"SPRING_DATASOURCE_URL=jdbc:mariadb://users-mariadb.users.svc.cluster.local:3306/accounts",
			},
		},
		{
			svc: "stock", f: flavorRaw,
			env: []string{
				"STOCK_SQLSERVER_PASSWORD<-stock-db-credentials/password",
				"ConnectionStrings__Stock=Server=stock-sqlserver.stock.svc.cluster.local,1433;Database=stock;User ID=sa;Password=$(STOCK_SQLSERVER_PASSWORD);TrustServerCertificate=True",
			},
		},
		{
			svc: "pricing", f: flavorRaw, config: []string{"PRICING_PORT=50051"},
		},
	} {
		t.Run(tc.svc, func(t *testing.T) {
			sys := wiringSystem(t, author.Options{Registry: "ghcr.io/acme"})
			w := sys.wire(sys.all[tc.svc], tc.f)
			if got := envText(w.env); strings.Join(got, "\n") != strings.Join(tc.env, "\n") {
				t.Errorf("env:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.env, "\n"))
			}
			if got := configText(w.config); strings.Join(got, "\n") != strings.Join(tc.config, "\n") {
				t.Errorf("config:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.config, "\n"))
			}
			if strings.Join(w.secretKeys, ",") != strings.Join(tc.secrets, ",") {
				t.Errorf("credentials Secret keys %v, want %v", w.secretKeys, tc.secrets)
			}
		})
	}
}

func TestStoreUse(t *testing.T) {
	sys := wiringSystem(t, author.Options{Registry: "ghcr.io/acme"})
	for _, tc := range []struct {
		svc, kind string
		f         flavor
		want      string
	}{
		{"api", analyze.BackingPostgres, flavorRaw, "api-postgresql api api [api worker] links secret=api-db-credentials shared"},
		{"worker", analyze.BackingPostgres, flavorGitops, "api-db api api [api worker] links secret=api-db-credentials shared"},
		{"worker", analyze.BackingRedis, flavorRaw, "api-redis api api [api worker]  secret= shared"},
		{"users", analyze.BackingMariaDB, flavorGitops, "users-db users users [users] accounts secret=users-db-credentials own"},
		{"stock", analyze.BackingSQLServer, flavorGitops, "stock-sqlserver stock stock [stock] stock secret=stock-db-credentials own"},
	} {
		var got string
		for _, u := range sys.storeUses(sys.all[tc.svc], tc.f) {
			if u.kind == tc.kind {
				got = fmt.Sprintf("%s %s %s %v %s secret=%s %s", u.name, u.ns, u.owner, u.users, u.db, u.secret, map[bool]string{true: "shared", false: "own"}[u.shared])
			}
		}
		if got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.svc, tc.kind, got, tc.want)
		}
	}
	// A managed cloud store is never a store the author runs.
	for _, u := range sys.storeUses(sys.all["worker"], flavorRaw) {
		if u.kind == "dynamodb" {
			t.Errorf("dynamodb resolved as an in-cluster store: %+v", u)
		}
	}
}

func TestConnect(t *testing.T) {
	pg := storeUse{kind: analyze.BackingPostgres, name: "a-postgresql", owner: "a", host: "a-postgresql.a.svc.cluster.local", port: 5432, db: "orders", secret: "a-db-credentials"}
	mongo := storeUse{kind: analyze.BackingMongoDB, name: "a-db", owner: "a", host: "a-db-svc.a.svc.cluster.local", port: 27017, db: "orders", secret: "a-db-credentials"}
	kafka := storeUse{kind: analyze.BackingKafka, name: "kafka", host: "kafka.messaging.svc.cluster.local", port: 9092}
	rabbit := storeUse{kind: analyze.BackingRabbitMQ, name: "rabbitmq", host: "rabbitmq.messaging.svc.cluster.local", port: 5672}
	goSvc := analyze.Service{Language: analyze.LangGo}
	for _, tc := range []struct {
		u    storeUse
		name string
		want string
	}{
		{pg, "DB_USER", "secret username"},
		{pg, "POSTGRES_PASSWORD", "secret password"},
		{pg, "DB_NAME", "plain orders"},
		{pg, "PGPORT", "plain 5432"},
		{pg, "POSTGRES_DSN", "composed postgresql://$(A_POSTGRESQL_USERNAME):$(A_POSTGRESQL_PASSWORD)@a-postgresql.a.svc.cluster.local:5432/orders"},
		{pg, "JDBC_DATABASE_URL", "plain jdbc:postgresql://a-postgresql.a.svc.cluster.local:5432/orders"},
		{pg, "ConnectionStrings__Orders", "composed Host=a-postgresql.a.svc.cluster.local;Port=5432;Database=orders;Username=$(A_POSTGRESQL_USERNAME);Password=$(A_POSTGRESQL_PASSWORD)"},
		{pg, "DB_POOL_SIZE", "none "},
		{mongo, "MONGODB_URI", "composed mongodb://$(A_MONGODB_USERNAME):$(A_MONGODB_PASSWORD)@a-db-svc.a.svc.cluster.local:27017/orders?authSource=admin&replicaSet=a-db"},
		{kafka, "KAFKA_BROKERS", "plain kafka.messaging.svc.cluster.local:9092"},
		{kafka, "ConnectionStrings__kafka", "plain kafka.messaging.svc.cluster.local:9092"},
		// The broker's credentials live in another namespace: a URL with
		// them is left to the service's own credentials Secret.
		{rabbit, "RABBITMQ_URL", "none "},
		{rabbit, "RABBITMQ_HOST", "plain rabbitmq.messaging.svc.cluster.local"},
	} {
		c := connect(goSvc, tc.u, tc.name)
		got := map[connKind]string{connNone: "none", connPlain: "plain", connSecret: "secret", connComposed: "composed"}[c.kind] + " " + c.value + c.key
		if got != tc.want {
			t.Errorf("%s of %s: got %q, want %q", tc.name, tc.u.kind, got, tc.want)
		}
	}
}

func TestProbes(t *testing.T) {
	sys := &system{}
	describe := func(p *corev1.Probe) string {
		switch {
		case p == nil:
			return "-"
		case p.HTTPGet != nil:
			return "http " + p.HTTPGet.Path
		case p.GRPC != nil:
			return fmt.Sprint("grpc ", p.GRPC.Port)
		case p.TCPSocket != nil:
			return "tcp " + p.TCPSocket.Port.String()
		}
		return "?"
	}
	for _, tc := range []struct {
		name string
		svc  analyze.Service
		want string // readiness | liveness | startup
	}{
		{"http health", analyze.Service{Port: 8080, HealthPath: "/healthz"}, "http /healthz | tcp http | -"},
		{"spring groups", analyze.Service{Port: 8081, Framework: "spring-boot", HealthPath: "/actuator/health", SlowStart: true},
			"http /actuator/health/readiness | http /actuator/health/liveness | http /actuator/health/liveness"},
		{"grpc health", analyze.Service{Port: 50051, GRPC: true, GRPCHealth: true, SlowStart: true}, "grpc 50051 | tcp grpc | tcp grpc"},
		{"grpc without health", analyze.Service{Port: 50051, GRPC: true}, "tcp grpc | - | -"},
		{"no health check, slow", analyze.Service{Port: 8080, SlowStart: true}, "tcp http | - | tcp http"},
		{"worker", analyze.Service{}, "- | - | -"},
	} {
		r, l, s := sys.probes(tc.svc)
		got := describe(r) + " | " + describe(l) + " | " + describe(s)
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if r != nil && l != nil && (l.FailureThreshold*l.PeriodSeconds <= r.FailureThreshold*r.PeriodSeconds) {
			t.Errorf("%s: liveness (%ds) is not more tolerant than readiness (%ds)", tc.name, l.FailureThreshold*l.PeriodSeconds, r.FailureThreshold*r.PeriodSeconds)
		}
	}
}

func TestDefaultsFromRemote(t *testing.T) {
	for _, tc := range []struct {
		remote        *analyze.Remote
		conv          string
		registry, url string
	}{
		{&analyze.Remote{Host: "github.com", Owner: "Acme", Name: "Shop", URL: "https://github.com/Acme/Shop"}, "", "ghcr.io/acme", "https://github.com/Acme/Shop"},
		{&analyze.Remote{Host: "gitlab.com", Owner: "group/sub", Name: "shop", URL: "https://gitlab.com/group/sub/shop"}, "", "registry.gitlab.com/group/sub/shop", "https://gitlab.com/group/sub/shop"},
		{&analyze.Remote{Host: "git.example.com", Owner: "acme", Name: "shop", URL: "https://git.example.com/acme/shop"}, "", "ghcr.io/shop", "https://git.example.com/acme/shop"},
		{&analyze.Remote{Host: "github.com", Owner: "acme", Name: "shop", URL: "https://github.com/acme/shop"}, "registry.example.com/team", "registry.example.com/team", "https://github.com/acme/shop"},
		{nil, "", "ghcr.io/shop", "https://github.com/OWNER/shop"},
	} {
		m := &analyze.SystemModel{Name: "shop", Repository: tc.remote, Conventions: analyze.Conventions{Registry: tc.conv}}
		o, _ := Defaults(m, author.Options{})
		if o.Registry != tc.registry || o.RepoURL != tc.url {
			t.Errorf("%+v: got %s and %s, want %s and %s", tc.remote, o.Registry, o.RepoURL, tc.registry, tc.url)
		}
	}
}

func TestDockerfilePathWiderContext(t *testing.T) {
	m := &analyze.SystemModel{Services: []analyze.Service{
		{Name: "api", Path: "src/Api", Language: analyze.LangCSharp},
		{Name: "quotes", Path: ".", Language: analyze.LangRust, Project: "crates/quotes/Cargo.toml"},
		{Name: "mail", Path: ".", Language: analyze.LangRust, Project: "crates/mail/Cargo.toml"},
	}}
	for _, tc := range []struct {
		svc, ctx, df, ignore string
	}{
		{"api", "src", "src/Api/Dockerfile", "src/Api/Dockerfile.dockerignore"},
		{"api", "src/Api", "src/Api/Dockerfile", "src/Api/.dockerignore"},
		{"quotes", ".", "crates/quotes/Dockerfile", ".dockerignore"},
	} {
		var s analyze.Service
		for _, c := range m.Services {
			if c.Name == tc.svc {
				s = c
			}
		}
		df, ig := dockerfilePath(s, m, tc.ctx)
		if df != tc.df || ig != tc.ignore {
			t.Errorf("%s in %s: got %s, %s; want %s, %s", tc.svc, tc.ctx, df, ig, tc.df, tc.ignore)
		}
	}
}

// TestNoServicesWritesNothing: a repository with nothing to deploy (Sock
// Shop's deployment-only repository) gets no cluster setup either.
func TestNoServicesWritesNothing(t *testing.T) {
	d, err := New().Author(context.Background(), &analyze.SystemModel{Name: "deploy-only"}, author.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 0 {
		t.Errorf("wrote %d files for a repository without services, first %s", len(d.Files), d.Files[0].Path)
	}
}
