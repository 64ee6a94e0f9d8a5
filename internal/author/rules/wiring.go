package rules

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/analyze"
)

// flavor says which setup a manifest is for: plain manifests under k8s/
// (backing stores as StatefulSets) or Flux under gitops/ (operators).
type flavor int

const (
	flavorRaw flavor = iota
	flavorGitops
)

// storeName is the object name of a service's own backing store.
func storeName(svc, kind string, f flavor) string {
	if f == flavorGitops {
		switch kind {
		case analyze.BackingPostgres, analyze.BackingMySQL, analyze.BackingMariaDB:
			return svc + "-db"
		}
	}
	return svc + "-" + kind
}

// shared reports whether a backing kind is one shared broker for the whole
// system rather than a store owned by each service.
func shared(kind string) bool { return kind == analyze.BackingRabbitMQ || kind == analyze.BackingKafka }

func storePort(kind string) int {
	switch kind {
	case analyze.BackingPostgres:
		return 5432
	case analyze.BackingMySQL, analyze.BackingMariaDB:
		return 3306
	case analyze.BackingMongoDB:
		return 27017
	case analyze.BackingRedis:
		return 6379
	case analyze.BackingRabbitMQ:
		return 5672
	case analyze.BackingKafka:
		return 9092
	case analyze.BackingSQLServer:
		return 1433
	}
	return 0
}

// databaseName is the database a service's own store creates for it.
func databaseName(svc string) string {
	return strings.ReplaceAll(strings.TrimSuffix(svc, "-service"), "-", "_")
}

// credentialsSecret holds every secret environment variable of a service.
func credentialsSecret(svc string) string { return svc + "-credentials" }

// storeSecret holds the credentials a service's own store is created with.
func storeSecret(svc string) string { return svc + "-db-credentials" }

var storeKeywords = []struct{ word, kind string }{
	{"POSTGRES", analyze.BackingPostgres}, {"PGHOST", analyze.BackingPostgres}, {"PG_", analyze.BackingPostgres},
	{"MARIADB", analyze.BackingMariaDB}, {"MYSQL", analyze.BackingMySQL},
	{"MONGO", analyze.BackingMongoDB}, {"REDIS", analyze.BackingRedis},
	{"RABBIT", analyze.BackingRabbitMQ}, {"AMQP", analyze.BackingRabbitMQ}, {"KAFKA", analyze.BackingKafka},
	{"MSSQL", analyze.BackingSQLServer}, {"SQLSERVER", analyze.BackingSQLServer},
}

// storeFor finds the backing store an environment variable is about.
func storeFor(s analyze.Service, name string) (string, bool) {
	has := map[string]bool{}
	var dbs []string
	for _, b := range s.Backing {
		has[b.Kind] = true
		switch b.Kind {
		case analyze.BackingPostgres, analyze.BackingMySQL, analyze.BackingMariaDB, analyze.BackingMongoDB, analyze.BackingSQLServer:
			dbs = append(dbs, b.Kind)
		}
	}
	for _, k := range storeKeywords {
		if strings.Contains(name, k.word) {
			if has[k.kind] {
				return k.kind, true
			}
			if (k.kind == analyze.BackingMySQL && has[analyze.BackingMariaDB]) || (k.kind == analyze.BackingMariaDB && has[analyze.BackingMySQL]) {
				return dbs[0], true
			}
			return "", false
		}
	}
	if (strings.HasPrefix(name, "DB_") || strings.HasPrefix(name, "DATABASE_")) && len(dbs) == 1 {
		return dbs[0], true
	}
	return "", false
}

// wiring is how one service's environment is set in the cluster.
type wiring struct {
	// config is the ConfigMap data (non-secret values this author knows).
	config map[string]string
	// secretKeys are the keys the credentials Secret must hold, sorted.
	secretKeys []string
	// env are the container's explicit env entries: Secret references
	// first, then values composed from them with $(VAR).
	env []corev1.EnvVar
	// uses are the service's backing stores.
	uses []storeUse
}

// wire decides each environment variable the service reads: connection
// variables of its stores get the store's in-cluster address (credentials
// by reference to the Secret the store is created with, composed into
// URLs and connection strings with $(VAR)); other secrets come from the
// service's credentials Secret; service addresses go into its ConfigMap;
// anything else keeps the code's own default (or is reported as an
// assumption when it has none).
func (sys *system) wire(s analyze.Service, f flavor) wiring {
	w := wiring{config: map[string]string{}, uses: sys.storeUses(s, f)}
	byVar := map[string]storeUse{}
	byKind := map[string]storeUse{}
	for _, u := range w.uses {
		byKind[u.kind] = u
		if u.backing.EnvVar != "" {
			byVar[u.backing.EnvVar] = u
		}
	}
	// The analyzer's connection variables count even when the code reads
	// them only through configuration (Spring's relaxed binding).
	env := append([]analyze.EnvVar(nil), s.Env...)
	seen := map[string]bool{}
	for _, e := range env {
		seen[e.Name] = true
	}
	for _, u := range w.uses {
		if v := u.backing.EnvVar; v != "" && !seen[v] {
			seen[v] = true
			env = append(env, analyze.EnvVar{Name: v, Source: u.backing.Evidence})
		}
	}
	sort.SliceStable(env, func(i, j int) bool { return env[i].Name < env[j].Name })

	var refs, helpers, composed []corev1.EnvVar
	helper := map[string]bool{}
	needHelper := func(u storeUse, key string) {
		name := helperVar(u, key)
		if !helper[name] {
			helper[name] = true
			helpers = append(helpers, secretEnv(name, u.secret, key))
		}
	}
	credsWired := map[string]bool{}
	var springs []storeUse
	for _, e := range env {
		name := strings.ToUpper(e.Name)
		u, ok := byVar[e.Name]
		if !ok {
			if kind, found := storeFor(s, name); found {
				u, ok = byKind[kind]
			}
		}
		if ok {
			c := connect(s, u, e.Name)
			switch c.kind {
			case connSecret:
				refs = append(refs, secretEnv(e.Name, u.secret, c.key))
				credsWired[u.kind] = true
				continue
			case connPlain:
				w.config[e.Name] = c.value
				if strings.HasPrefix(name, "SPRING_DATASOURCE_") && strings.HasPrefix(c.value, "jdbc:") {
					springs = append(springs, u)
				}
				continue
			case connComposed:
				for _, k := range []string{"username", "password"} {
					if strings.Contains(c.value, "$("+helperVar(u, k)+")") {
						needHelper(u, k)
					}
				}
				composed = append(composed, corev1.EnvVar{Name: e.Name, Value: c.value})
				if c.urlSafe {
					sys.assume("%s: %s embeds the password of Secret %s: use one without URL-reserved characters (: / @ ? # %% ;)", s.Name, e.Name, u.secret)
				}
				continue
			}
		}
		if e.Secret {
			w.secretKeys = append(w.secretKeys, e.Name)
			refs = append(refs, secretEnv(e.Name, credentialsSecret(s.Name), e.Name))
			continue
		}
		if v, ok := sys.callValue(s, name); ok {
			w.config[e.Name] = v
			continue
		}
		if (name == "PORT" || name == "HTTP_PORT" || name == "SERVER_PORT" || name == "GRPC_PORT") && s.Port > 0 {
			w.config[e.Name] = fmt.Sprint(s.Port)
			continue
		}
		if sys.ownPortVar(s, name) {
			w.config[e.Name] = fmt.Sprint(s.Port)
			continue
		}
		if e.Default == "" && f == flavorRaw {
			sys.assume("%s reads %s (%s), which has no default: set it in the %s ConfigMap", s.Name, e.Name, e.Source, s.Name+"-config")
		}
	}
	if s.Framework == "spring-boot" && s.HealthPath != "" && s.Port > 0 {
		// The liveness and readiness health groups the probes use.
		w.config["MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED"] = "true"
	}
	for _, u := range springs {
		refs = append(refs, springCredentials(w.config, u, seen, credsWired)...)
	}
	sort.Strings(w.secretKeys)
	w.env = append(append(helpers, refs...), composed...)
	return w
}

// springCredentials gives a Spring datasource wired by URL its user and
// password when the code reads no credential variables of its own.
func springCredentials(config map[string]string, u storeUse, seen, credsWired map[string]bool) []corev1.EnvVar {
	if credsWired[u.kind] || u.secret == "" {
		return nil
	}
	credsWired[u.kind] = true
	var out []corev1.EnvVar
	if !seen["SPRING_DATASOURCE_USERNAME"] {
		if u.kind == analyze.BackingSQLServer {
			config["SPRING_DATASOURCE_USERNAME"] = sqlServerUser
		} else {
			out = append(out, secretEnv("SPRING_DATASOURCE_USERNAME", u.secret, "username"))
		}
	}
	if !seen["SPRING_DATASOURCE_PASSWORD"] {
		out = append(out, secretEnv("SPRING_DATASOURCE_PASSWORD", u.secret, "password"))
	}
	return out
}

// ownPortVar reports whether name is a <SERVICE>_PORT variable the service
// reads for its own listening port (PortSource names it).
func (sys *system) ownPortVar(s analyze.Service, name string) bool {
	return s.Port > 0 && strings.HasSuffix(name, "_PORT") && strings.Contains(s.PortSource, "("+name+",")
}

// callValue wires USER_SERVICE_URL-style variables to the called service.
func (sys *system) callValue(s analyze.Service, name string) (string, bool) {
	for _, target := range s.Calls {
		t, ok := sys.all[target]
		if !ok || t.Port == 0 {
			continue
		}
		key := strings.ReplaceAll(strings.ToUpper(target), "-", "_")
		base := strings.TrimSuffix(key, "_SERVICE")
		rest := ""
		switch {
		case strings.HasPrefix(name, key):
			rest = strings.TrimPrefix(name, key)
		case strings.HasPrefix(name, base):
			rest = strings.TrimPrefix(name, base)
		default:
			continue
		}
		host := fmt.Sprintf("%s.%s.svc.cluster.local", t.Name, sys.namespace(t.Name))
		port := servicePort(t)
		url := "http://" + host
		if port != 80 {
			url = fmt.Sprintf("http://%s:%d", host, port)
		}
		switch rest {
		case "_URL", "_URI", "_BASE_URL", "_ENDPOINT", "__BASEURL", "_API_URL", "_API_ADDR":
			if rest == "_API_ADDR" {
				return fmt.Sprintf("%s:%d", host, port), true
			}
			return url, true
		case "_HOST":
			return host, true
		case "_PORT":
			return fmt.Sprint(port), true
		case "_ADDR", "_ADDRESS", "_SERVICE_ADDR":
			return fmt.Sprintf("%s:%d", host, port), true
		}
	}
	return "", false
}

// credentialKey maps DB_USER / DB_PASSWORD style names to the keys of a
// store's credentials Secret.
func credentialKey(name string) string {
	switch {
	case strings.HasSuffix(name, "_USER"), strings.HasSuffix(name, "_USERNAME"):
		return "username"
	case strings.HasSuffix(name, "_PASSWORD"), strings.HasSuffix(name, "_PASS"), strings.HasSuffix(name, "_PWD"):
		return "password"
	}
	return ""
}
