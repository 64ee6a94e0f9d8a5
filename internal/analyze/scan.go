package analyze

import (
	"bufio"
	"bytes"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Detector finds the services of one ecosystem. Each detector reads only
// through the Repo, reports a broken project as a ServiceError naming file
// and line, and goes on with the other projects it finds.
type Detector interface {
	// Name is the detector's identifier (go, maven, gradle, dotnet, node, python).
	Name() string
	// Detect returns the services it found and the projects it could not read.
	Detect(r *Repo) ([]Service, []ServiceError)
}

func itoa(i int) string { return strconv.Itoa(i) }

// LineOf returns the 1-based line number of byte offset off in content.
func LineOf(content []byte, off int) int {
	if off > len(content) {
		off = len(content)
	}
	return bytes.Count(content[:off], []byte{'\n'}) + 1
}

// Source formats a "file:line" reference.
func Source(file string, line int) string { return file + ":" + strconv.Itoa(line) }

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)
var camelBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// DNSLabel turns a project name ("ProductService", "user_service",
// "@shop/web") into a DNS-1123 label ("product-service", "user-service", "web").
func DNSLabel(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	s = camelBoundary.ReplaceAllString(s, "${1}-${2}")
	s = strings.ToLower(s)
	s = strings.NewReplacer("_", "-", ".", "-", " ", "-").Replace(s)
	s = nonLabel.ReplaceAllString(s, "")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		s = "app"
	}
	return s
}

var secretWords = []string{"PASSWORD", "PASSWD", "PWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE_KEY", "CREDENTIAL", "CONNECTIONSTRING", "CONNECTION_STRING", "CONNECTIONSTRINGS", "DSN", "DATABASE_URL", "MONGODB_URI", "MONGO_URI", "AMQP_URL", "RABBITMQ_URL", "REDIS_URL", "ACCESS_KEY"}

// IsSecretName reports whether an environment variable name carries a
// credential and must come from a Secret.
func IsSecretName(name string) bool {
	u := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	return strings.HasSuffix(u, "_KEY") || strings.HasSuffix(u, "_URI")
}

// backingDeps maps dependency coordinates (lower-cased; Go module paths,
// Maven groupId:artifactId, NuGet ids, npm and PyPI names) to backing kinds.
// A key ending in "*" matches as a prefix.
var backingDeps = map[string]string{
	// Go
	"github.com/jackc/pgx*": BackingPostgres, "github.com/lib/pq": BackingPostgres,
	"gorm.io/driver/postgres":        BackingPostgres,
	"github.com/go-sql-driver/mysql": BackingMySQL, "gorm.io/driver/mysql": BackingMySQL,
	"go.mongodb.org/mongo-driver*": BackingMongoDB,
	"github.com/redis/go-redis*":   BackingRedis, "github.com/go-redis/redis*": BackingRedis, "github.com/gomodule/redigo": BackingRedis,
	"github.com/rabbitmq/amqp091-go": BackingRabbitMQ, "github.com/streadway/amqp": BackingRabbitMQ,
	"github.com/segmentio/kafka-go": BackingKafka, "github.com/ibm/sarama": BackingKafka, "github.com/shopify/sarama": BackingKafka,
	"github.com/twmb/franz-go*": BackingKafka, "github.com/confluentinc/confluent-kafka-go*": BackingKafka,
	// Maven / Gradle (group:artifact)
	"org.postgresql:postgresql": BackingPostgres, "org.postgresql:r2dbc-postgresql": BackingPostgres,
	"org.mariadb.jdbc:mariadb-java-client": BackingMariaDB, "org.mariadb:r2dbc-mariadb": BackingMariaDB,
	"com.mysql:mysql-connector-j": BackingMySQL, "mysql:mysql-connector-java": BackingMySQL,
	"org.springframework.boot:spring-boot-starter-data-mongodb*": BackingMongoDB, "org.mongodb:*": BackingMongoDB,
	"org.springframework.boot:spring-boot-starter-data-redis*": BackingRedis, "redis.clients:jedis": BackingRedis, "io.lettuce:lettuce-core": BackingRedis,
	"org.springframework.boot:spring-boot-starter-amqp": BackingRabbitMQ, "com.rabbitmq:amqp-client": BackingRabbitMQ,
	"org.springframework.kafka:spring-kafka": BackingKafka, "org.apache.kafka:kafka-clients": BackingKafka,
	// NuGet
	"npgsql*": BackingPostgres, "pomelo.entityframeworkcore.mysql": BackingMySQL, "mysqlconnector": BackingMySQL, "mysql.data": BackingMySQL,
	"mongodb.driver": BackingMongoDB, "stackexchange.redis": BackingRedis, "microsoft.extensions.caching.stackexchangeredis": BackingRedis,
	"rabbitmq.client": BackingRabbitMQ, "masstransit.rabbitmq": BackingRabbitMQ, "confluent.kafka": BackingKafka,
	// npm
	"pg": BackingPostgres, "postgres": BackingPostgres, "mysql": BackingMySQL, "mysql2": BackingMySQL, "mariadb": BackingMariaDB,
	"mongodb": BackingMongoDB, "mongoose": BackingMongoDB, "redis": BackingRedis, "ioredis": BackingRedis,
	"amqplib": BackingRabbitMQ, "amqp-connection-manager": BackingRabbitMQ, "kafkajs": BackingKafka,
	// PyPI
	"psycopg": BackingPostgres, "psycopg2": BackingPostgres, "psycopg2-binary": BackingPostgres, "asyncpg": BackingPostgres, "psycopg-binary": BackingPostgres,
	"pymysql": BackingMySQL, "mysqlclient": BackingMySQL, "aiomysql": BackingMySQL, "mysql-connector-python": BackingMySQL,
	"pymongo": BackingMongoDB, "motor": BackingMongoDB, "redis-py": BackingRedis,
	"pika": BackingRabbitMQ, "aio-pika": BackingRabbitMQ, "kombu": BackingRabbitMQ, "kafka-python": BackingKafka, "confluent-kafka": BackingKafka, "aiokafka": BackingKafka,
}

// BackingFor maps one dependency coordinate to a backing service kind.
func BackingFor(dep string) (string, bool) {
	d := strings.ToLower(strings.TrimSpace(dep))
	if k, ok := backingDeps[d]; ok {
		return k, true
	}
	if k, ok := extraDeps[d]; ok {
		return k, true
	}
	best, kind := 0, ""
	for _, table := range []map[string]string{backingDeps, extraDeps} {
		for key, k := range table {
			if p, ok := strings.CutSuffix(key, "*"); ok && strings.HasPrefix(d, p) && (len(p) > best || len(p) == best && k < kind) {
				best, kind = len(p), k
			}
		}
	}
	return kind, best > 0
}

// AddBacking appends a backing service unless that kind is already listed,
// keeping the slice sorted by kind.
func AddBacking(list []Backing, kind, evidence string) []Backing {
	for _, b := range list {
		if b.Kind == kind {
			return list
		}
	}
	b := Backing{Kind: kind, Evidence: evidence}
	if name, ok := cloudNames[kind]; ok {
		b.External, b.Name = true, name
	}
	list = append(list, b)
	sort.Slice(list, func(i, j int) bool { return list[i].Kind < list[j].Kind })
	return list
}

// envPatterns are the ways each language reads an environment variable.
// The first capture group is the name, the optional second the default.
var envPatterns = map[string][]*regexp.Regexp{
	LangGo: {
		regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)`),
		// common helpers: getenv("X", "default"), envOr("X", "d")
		regexp.MustCompile(`(?i)\b(?:getenv|envOr|envOrDefault|getEnv|env)\(\s*"([A-Z_][A-Z0-9_]*)"\s*,\s*"([^"]*)"\s*\)`),
		// other helpers named after the environment: mustMapEnv(&port, "PORT"), mustGetEnv("X")
		regexp.MustCompile(`\b[A-Za-z_]*(?:Env|ENV|env)[A-Za-z_]*\(\s*(?:&?[A-Za-z_][A-Za-z0-9_.]*\s*,\s*)?"([A-Z][A-Z0-9_]*)"\s*[,)]`),
	},
	LangJava: {
		regexp.MustCompile(`System\.getenv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)`),
	},
	LangKotlin: {
		regexp.MustCompile(`System\.getenv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)`),
	},
	// Spring application.yml / .properties placeholders: ${VAR} or ${VAR:default}
	"spring": {
		regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)(?::([^}]*))?\}`),
	},
	LangCSharp: {
		regexp.MustCompile(`Environment\.GetEnvironmentVariable\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)`),
		regexp.MustCompile(`GetConnectionString\(\s*"([A-Za-z0-9_]+)"\s*\)`), // mapped to ConnectionStrings__X below
		regexp.MustCompile(`Configuration\[\s*"([A-Za-z_][A-Za-z0-9_:]*)"\s*\]`),
	},
	LangJavaScript: {
		regexp.MustCompile(`process\.env\.([A-Za-z_][A-Za-z0-9_]*)(?:\s*(?:\|\||\?\?)\s*['"]?([^'"\s;,)]*)['"]?)?`),
		regexp.MustCompile(`process\.env\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]`),
	},
	LangPython: {
		regexp.MustCompile(`os\.environ\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]`),
		regexp.MustCompile(`os\.(?:environ\.get|getenv)\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(?:,\s*['"]?([^'")]*)['"]?)?\)`),
		// helpers named after the environment: must_map_env('PORT'), get_env("X")
		regexp.MustCompile(`\b[A-Za-z_]*(?:env|Env|ENV)[A-Za-z_]*\(\s*['"]([A-Z][A-Z0-9_]*)['"]\s*[,)]`),
	},
}

// envHelperRes are the envPatterns that match helpers named after the
// environment; they are skipped for content without "nv"/"NV".
var envHelperRes = map[*regexp.Regexp]bool{envPatterns[LangGo][2]: true, envPatterns[LangPython][2]: true}

// ScanEnv finds the environment variables content reads. lang is a Lang*
// constant or "spring" for Spring configuration files; file is the path
// recorded as the source (relative to the service).
func ScanEnv(lang, file string, content []byte) []EnvVar {
	pats := envPatterns[lang]
	if lang == LangTypeScript {
		pats = envPatterns[LangJavaScript]
	}
	var out []EnvVar
	for _, re := range pats {
		if envHelperRes[re] && !bytes.Contains(content, []byte("nv")) && !bytes.Contains(content, []byte("NV")) {
			continue // the helper patterns need an "env" in a function name
		}
		if !re.Match(content) {
			continue // the fast matcher first: most files read no variable
		}
		for _, m := range re.FindAllSubmatchIndex(content, -1) {
			name := string(content[m[2]:m[3]])
			def := ""
			if len(m) > 5 && m[4] >= 0 {
				def = string(content[m[4]:m[5]])
			}
			if lang == LangCSharp {
				switch {
				case strings.Contains(re.String(), "GetConnectionString"):
					name = "ConnectionStrings__" + name
				case strings.Contains(name, ":"):
					name = strings.ReplaceAll(name, ":", "__")
				}
			}
			secret := IsSecretName(name)
			db := DatabaseOf(def)
			if secret {
				def = "" // a secret's value never leaves the repository
			}
			out = append(out, EnvVar{Name: name, Default: def, Secret: secret, Database: db, Source: Source(file, LineOf(content, m[0]))})
		}
	}
	return out
}

// MergeEnv adds vars to list, keeping the first occurrence of each name
// (and the first non-empty default), sorted by name.
func MergeEnv(list []EnvVar, vars ...EnvVar) []EnvVar {
	idx := map[string]int{}
	for i, v := range list {
		idx[v.Name] = i
	}
	for _, v := range vars {
		if i, ok := idx[v.Name]; ok {
			if list[i].Default == "" && v.Default != "" && !list[i].Secret && !v.Secret {
				list[i].Default = v.Default
			}
			if list[i].Database == "" {
				list[i].Database = v.Database
			}
			continue
		}
		idx[v.Name] = len(list)
		list = append(list, v)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}

var healthRe = regexp.MustCompile(`["'](/(?:api/)?(?:healthz|health|livez|readyz|ready|ping|status)(?:/live|/ready|/liveness|/readiness)?)["']`)

// FindHealthPath returns the first health-like HTTP route literal in content
// ("/healthz", "/health", "/api/health", ...), preferring /healthz and /health.
func FindHealthPath(content []byte) string {
	var found []string
	for _, m := range healthRe.FindAllSubmatch(content, -1) {
		found = append(found, string(m[1]))
	}
	for _, pref := range []string{"/healthz", "/health", "/livez", "/readyz", "/health/ready", "/health/live", "/ready"} {
		for _, f := range found {
			if f == pref {
				return f
			}
		}
	}
	if len(found) > 0 {
		return found[0]
	}
	return ""
}

// ParseDotEnv reads KEY=VALUE lines of a .env file. Values are returned for
// defaults of non-secret names only; secret values are never kept.
func ParseDotEnv(file string, content []byte) []EnvVar {
	var out []EnvVar
	sc := bufio.NewScanner(bytes.NewReader(content))
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		ev := EnvVar{Name: k, Secret: IsSecretName(k), Database: DatabaseOf(v), Source: Source(file, line)}
		if !ev.Secret {
			ev.Default = v
		}
		out = append(out, ev)
	}
	return out
}

// PortFromEnv returns the PORT default among vars, if it is a valid port.
func PortFromEnv(vars []EnvVar) (int, string) {
	for _, v := range vars {
		if v.Name == "PORT" || v.Name == "HTTP_PORT" || v.Name == "SERVER_PORT" {
			if p, err := strconv.Atoi(v.Default); err == nil && p > 0 && p < 65536 {
				return p, v.Source
			}
		}
	}
	return 0, ""
}
