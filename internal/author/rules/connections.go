package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
)

// storeUse is how one service reaches one of its backing stores: its own,
// one it shares with other services (analyze.SystemModel.Stores, one
// instance in the owner's namespace) or a cluster-wide broker.
type storeUse struct {
	kind  string
	name  string // object name of the store (StatefulSet and Service, or the operator resource)
	ns    string // the store's namespace
	owner string // the service that owns it ("" for a broker)
	// users are every service connecting to it, sorted.
	users []string
	db    string // database name; "" for kinds without databases
	host  string // in-cluster DNS name
	port  int
	// secret is the Secret holding the store's credentials, under the same
	// name in every user's namespace; "" when the store has none.
	secret  string
	shared  bool // several services use this one instance
	backing analyze.Backing
}

// broker reports whether the use is of a cluster-wide broker.
func (u storeUse) broker() bool { return shared(u.kind) }

// credentialKeys are the keys a store's credentials Secret holds.
func credentialKeys(kind string) []string {
	switch kind {
	case analyze.BackingPostgres, analyze.BackingMongoDB:
		return []string{"password", "username"}
	case analyze.BackingMySQL, analyze.BackingMariaDB:
		return []string{"password", "root-password", "username"}
	case analyze.BackingSQLServer:
		return []string{"password"}
	}
	return nil
}

// sqlServerUser is the login the SQL Server image creates: the only one.
const sqlServerUser = "sa"

// storeUses resolves every backing store of s that runs in the cluster
// (managed cloud services are not generated), sorted by kind.
func (sys *system) storeUses(s analyze.Service, f flavor) []storeUse {
	var out []storeUse
	for _, b := range s.Backing {
		if b.External {
			continue
		}
		out = append(out, sys.storeUse(s, b, f))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].kind < out[j].kind })
	return out
}

func (sys *system) storeUse(s analyze.Service, b analyze.Backing, f flavor) storeUse {
	u := storeUse{kind: b.Kind, port: storePort(b.Kind), backing: b}
	if u.broker() {
		u.name, u.ns = b.Kind, sys.namespace(messagingName)
		u.host = fmt.Sprintf("%s.%s.svc.cluster.local", u.name, u.ns)
		return u
	}
	u.owner, u.users, u.db = s.Name, []string{s.Name}, b.Database
	if st, ok := sys.sharedStore(b); ok {
		u.owner, u.users, u.shared = st.Owner, append([]string(nil), st.Users...), true
		if st.Database != "" {
			u.db = st.Database
		}
		if owner, ok := sys.all[st.Owner]; ok && u.db == "" {
			for _, ob := range owner.Backing {
				if ob.Kind == b.Kind && ob.Database != "" {
					u.db = ob.Database
				}
			}
		}
	}
	if u.db == "" {
		u.db = databaseName(u.owner)
	}
	if u.kind == analyze.BackingRedis {
		u.db = ""
	}
	u.name = storeName(u.owner, u.kind, f)
	u.ns = sys.namespace(u.owner)
	host := u.name
	if f == flavorGitops {
		switch u.kind {
		case analyze.BackingPostgres:
			host += "-rw" // CloudNativePG's read-write service
		case analyze.BackingMongoDB:
			host += "-svc" // the MongoDB operator's headless service
		}
	}
	u.host = fmt.Sprintf("%s.%s.svc.cluster.local", host, u.ns)
	if credentialKeys(u.kind) != nil {
		u.secret = storeSecret(u.owner)
	}
	return u
}

// sharedStore finds the Stores entry a backing belongs to. Brokers are
// shared cluster-wide anyway, and a store whose owner is not a service of
// the model cannot be placed: both count as the service's own.
func (sys *system) sharedStore(b analyze.Backing) (analyze.Store, bool) {
	if b.Store == "" {
		return analyze.Store{}, false
	}
	for _, st := range sys.m.Stores {
		if st.Name == b.Store && st.Kind == b.Kind {
			if _, ok := sys.all[st.Owner]; ok {
				return st, true
			}
		}
	}
	return analyze.Store{}, false
}

// helperVar names the variables that carry a store's credentials into a
// service's environment, for composing connection strings with $(VAR).
func helperVar(u storeUse, key string) string {
	base := u.owner + "-" + u.kind
	if u.owner == "" {
		base = u.kind
	}
	return envIdent(base) + "_" + envIdent(key)
}

func envIdent(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, s)
}

// connKind says how a connection variable gets its value.
type connKind int

const (
	connNone     connKind = iota
	connPlain             // a literal value, in the ConfigMap
	connSecret            // one key of the store's credentials Secret
	connComposed          // a value that embeds credentials through $(VAR) references
)

type connection struct {
	kind  connKind
	value string // connPlain, connComposed
	key   string // connSecret
	// urlSafe is set when the value embeds the password in a URL.
	urlSafe bool
}

// connect decides the value of environment variable name (upper-cased
// as upper) of service s for store u.
func connect(s analyze.Service, u storeUse, name string) connection {
	upper := strings.ToUpper(name)
	creds := u.secret != ""
	user := "$(" + helperVar(u, "username") + ")"
	pass := "$(" + helperVar(u, "password") + ")"
	if u.kind == analyze.BackingSQLServer {
		user = sqlServerUser
	}
	hostPort := fmt.Sprintf("%s:%d", u.host, u.port)
	if key := credentialKey(upper); key != "" && creds {
		if key == "username" && u.kind == analyze.BackingSQLServer {
			return connection{kind: connPlain, value: sqlServerUser}
		}
		return connection{kind: connSecret, key: key}
	}
	if strings.HasPrefix(upper, "CONNECTIONSTRINGS__") {
		v := dotnetConnString(u, user, pass)
		if v == "" {
			return connection{}
		}
		return connection{kind: connComposedOr(creds), value: v}
	}
	switch {
	case strings.HasSuffix(upper, "BOOTSTRAP_SERVERS"), strings.HasSuffix(upper, "BROKERS"), strings.HasSuffix(upper, "_ADDR"), strings.HasSuffix(upper, "_ADDRESS"):
		return connection{kind: connPlain, value: hostPort}
	case strings.HasSuffix(upper, "_HOST"), strings.HasSuffix(upper, "_HOSTNAME"), strings.HasSuffix(upper, "_SERVER"), upper == "PGHOST":
		return connection{kind: connPlain, value: u.host}
	case strings.HasSuffix(upper, "_PORT"), upper == "PGPORT":
		return connection{kind: connPlain, value: fmt.Sprint(u.port)}
	case u.db != "" && (strings.HasSuffix(upper, "_NAME") || strings.HasSuffix(upper, "_DATABASE") || strings.HasSuffix(upper, "_DB") || upper == "PGDATABASE"):
		return connection{kind: connPlain, value: u.db}
	}
	url := strings.HasSuffix(upper, "_URL") || strings.HasSuffix(upper, "_URI") || strings.HasSuffix(upper, "_DSN") ||
		strings.HasSuffix(upper, "_CONNECTION_STRING") || strings.HasSuffix(upper, "_CONN") || upper == "DATABASE_URL"
	if !url {
		return connection{}
	}
	if jdbc := jdbcURL(u); jdbc != "" && (strings.Contains(upper, "JDBC") || strings.HasPrefix(upper, "SPRING_") || s.Language == analyze.LangJava || s.Language == analyze.LangKotlin) {
		return connection{kind: connPlain, value: jdbc}
	}
	v := urlConnString(u, user, pass)
	if v == "" {
		return connection{}
	}
	return connection{kind: connComposedOr(creds), value: v, urlSafe: creds}
}

func connComposedOr(creds bool) connKind {
	if creds {
		return connComposed
	}
	return connPlain
}

// urlConnString is the URL form drivers take (libpq, node-postgres, pgx,
// SQLAlchemy, the MongoDB and Redis clients, AMQP).
func urlConnString(u storeUse, user, pass string) string {
	hp := fmt.Sprintf("%s:%d", u.host, u.port)
	switch u.kind {
	case analyze.BackingPostgres:
		return fmt.Sprintf("postgresql://%s:%s@%s/%s", user, pass, hp, u.db)
	case analyze.BackingMySQL, analyze.BackingMariaDB:
		return fmt.Sprintf("mysql://%s:%s@%s/%s", user, pass, hp, u.db)
	case analyze.BackingMongoDB:
		q := "authSource=admin"
		if strings.HasSuffix(strings.SplitN(u.host, ".", 2)[0], "-svc") {
			q += "&replicaSet=" + u.name
		}
		return fmt.Sprintf("mongodb://%s:%s@%s/%s?%s", user, pass, hp, u.db, q)
	case analyze.BackingRedis:
		return "redis://" + hp
	case analyze.BackingKafka:
		return hp
	case analyze.BackingSQLServer:
		return fmt.Sprintf("sqlserver://%s:%s@%s?database=%s", user, pass, hp, u.db)
	}
	return ""
}

// jdbcURL is the JDBC form; credentials travel separately (the driver's
// user and password properties, Spring's datasource username/password).
func jdbcURL(u storeUse) string {
	hp := fmt.Sprintf("%s:%d", u.host, u.port)
	switch u.kind {
	case analyze.BackingPostgres:
		return "jdbc:postgresql://" + hp + "/" + u.db
	case analyze.BackingMySQL:
		return "jdbc:mysql://" + hp + "/" + u.db
	case analyze.BackingMariaDB:
		return "jdbc:mariadb://" + hp + "/" + u.db
	case analyze.BackingSQLServer:
		return fmt.Sprintf("jdbc:sqlserver://%s;databaseName=%s;encrypt=true;trustServerCertificate=true", hp, u.db)
	}
	return ""
}

// dotnetConnString is the key=value form of the .NET providers (Npgsql,
// SqlClient, MySqlConnector, StackExchange.Redis, the MongoDB driver's URL).
func dotnetConnString(u storeUse, user, pass string) string {
	switch u.kind {
	case analyze.BackingPostgres:
		return fmt.Sprintf("Host=%s;Port=%d;Database=%s;Username=%s;Password=%s", u.host, u.port, u.db, user, pass)
	case analyze.BackingMySQL, analyze.BackingMariaDB:
		return fmt.Sprintf("Server=%s;Port=%d;Database=%s;User ID=%s;Password=%s", u.host, u.port, u.db, user, pass)
	case analyze.BackingSQLServer:
		return fmt.Sprintf("Server=%s,%d;Database=%s;User ID=%s;Password=%s;TrustServerCertificate=True", u.host, u.port, u.db, user, pass)
	case analyze.BackingRedis, analyze.BackingKafka:
		return fmt.Sprintf("%s:%d", u.host, u.port)
	case analyze.BackingMongoDB:
		return urlConnString(u, user, pass)
	}
	return ""
}
