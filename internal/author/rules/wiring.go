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

// endpoint is where a backing store answers inside the cluster.
type endpoint struct {
	host string
	port int
}

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
	}
	return 0
}

// storeEndpoint returns the in-cluster address of a service's backing store.
func (sys *system) storeEndpoint(svc, kind string, f flavor) endpoint {
	port := storePort(kind)
	if shared(kind) {
		return endpoint{host: fmt.Sprintf("%s.%s.svc.cluster.local", kind, sys.namespace("messaging")), port: port}
	}
	host := storeName(svc, kind, f)
	if f == flavorGitops {
		switch kind {
		case analyze.BackingPostgres:
			host += "-rw" // CloudNativePG's read-write service
		case analyze.BackingMongoDB:
			host += "-svc" // the MongoDB operator's headless service
		}
	}
	return endpoint{host: fmt.Sprintf("%s.%s.svc.cluster.local", host, sys.namespace(svc)), port: port}
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
}

// storeFor finds the backing store an environment variable is about.
func storeFor(s analyze.Service, name string) (string, bool) {
	has := map[string]bool{}
	var dbs []string
	for _, b := range s.Backing {
		has[b.Kind] = true
		switch b.Kind {
		case analyze.BackingPostgres, analyze.BackingMySQL, analyze.BackingMariaDB, analyze.BackingMongoDB:
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
	// env are the container's explicit env entries (Secret references).
	env []corev1.EnvVar
}

// wire decides each environment variable the service reads: secrets come
// from the service's credentials Secret by reference, store and service
// addresses go into its ConfigMap, and anything else keeps the code's own
// default (or is reported as an assumption when it has none).
func (sys *system) wire(s analyze.Service, f flavor) wiring {
	w := wiring{config: map[string]string{}}
	for _, e := range s.Env {
		name := strings.ToUpper(e.Name)
		// The user and password of a service's own database come straight
		// from the Secret the database is created with, so they always match.
		if kind, ok := storeFor(s, name); ok && !shared(kind) && kind != analyze.BackingRedis {
			if key := credentialKey(name); key != "" {
				w.env = append(w.env, corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: storeSecret(s.Name)}, Key: key},
				}})
				continue
			}
		}
		if e.Secret {
			w.secretKeys = append(w.secretKeys, e.Name)
			w.env = append(w.env, corev1.EnvVar{Name: e.Name, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: credentialsSecret(s.Name)}, Key: e.Name},
			}})
			continue
		}
		if v, ok := sys.callValue(s, name); ok {
			w.config[e.Name] = v
			continue
		}
		if kind, ok := storeFor(s, name); ok {
			if v, ok := sys.storeValue(s, kind, name, f); ok {
				w.config[e.Name] = v
				continue
			}
		}
		if (name == "PORT" || name == "HTTP_PORT" || name == "SERVER_PORT") && s.Port > 0 {
			w.config[e.Name] = fmt.Sprint(s.Port)
			continue
		}
		if e.Default == "" && f == flavorRaw {
			sys.assume("%s reads %s (%s), which has no default: set it in the %s ConfigMap", s.Name, e.Name, e.Source, s.Name+"-config")
		}
	}
	sort.Strings(w.secretKeys)
	return w
}

// callValue wires USER_SERVICE_URL-style variables to the called service.
func (sys *system) callValue(s analyze.Service, name string) (string, bool) {
	for _, target := range s.Calls {
		t, ok := sys.all[target]
		if !ok {
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
		switch rest {
		case "_URL", "_URI", "_BASE_URL", "_ENDPOINT", "__BASEURL":
			return "http://" + host, true
		case "_HOST":
			return host, true
		case "_ADDR":
			return host + ":80", true
		}
	}
	return "", false
}

// storeValue wires host/port/database-name style variables of a store.
func (sys *system) storeValue(s analyze.Service, kind, name string, f flavor) (string, bool) {
	ep := sys.storeEndpoint(s.Name, kind, f)
	switch {
	case strings.HasSuffix(name, "BOOTSTRAP_SERVERS"), strings.HasSuffix(name, "BROKERS"), strings.HasSuffix(name, "_ADDR"), strings.HasSuffix(name, "_ADDRESS"):
		return fmt.Sprintf("%s:%d", ep.host, ep.port), true
	case strings.HasSuffix(name, "_HOST"), strings.HasSuffix(name, "_HOSTNAME"), strings.HasSuffix(name, "_SERVER"), name == "PGHOST":
		return ep.host, true
	case strings.HasSuffix(name, "_PORT"):
		return fmt.Sprint(ep.port), true
	case !shared(kind) && (strings.HasSuffix(name, "_NAME") || strings.HasSuffix(name, "_DATABASE") || strings.HasSuffix(name, "_DB")):
		return databaseName(s.Name), true
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
