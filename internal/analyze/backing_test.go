package analyze

import (
	"reflect"
	"testing"
)

func TestDatabaseOf(t *testing.T) {
	tests := map[string]string{
		"postgres://app:secret@db:5432/orders?sslmode=disable":          "orders",
		"postgresql+asyncpg://u@h/notes":                                "notes",
		"jdbc:mariadb://${DB_HOST:localhost}:3306/users":                "users",
		"jdbc:postgresql://db:5432/${DB_NAME:ledger}":                   "ledger",
		"jdbc:sqlserver://sql:1433;databaseName=inventory;encrypt=true": "inventory",
		"Server=sql;Database=inventory;User Id=app;Password=x":          "inventory",
		"Data Source=sql;Initial Catalog=billing;Integrated Security=1": "billing",
		"mongodb://mongo:27017/catalogue":                               "catalogue",
		"mongodb+srv://u:p@cluster0.example.net/shop?retryWrites=true":  "shop",
		"mysql://root@h1:3306,h2:3306/app":                              "app",
		"redis://localhost:6379/0":                                      "",
		"postgres://db:5432":                                            "",
		"http://user-service:8081/api":                                  "",
		"jdbc:postgresql://db/${DB_NAME}":                               "",
		"":                                                              "",
	}
	for in, want := range tests {
		if got := DatabaseOf(in); got != want {
			t.Errorf("DatabaseOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBackingForNewKinds(t *testing.T) {
	tests := []struct {
		dep, kind string
		external  bool
	}{
		{"Microsoft.EntityFrameworkCore.SqlServer", BackingSQLServer, false},
		{"Microsoft.Data.SqlClient", BackingSQLServer, false},
		{"com.microsoft.sqlserver:mssql-jdbc", BackingSQLServer, false},
		{"github.com/microsoft/go-mssqldb", BackingSQLServer, false},
		{"Pomelo.EntityFrameworkCore.MySql", BackingMySQL, false},
		{"MySqlConnector", BackingMySQL, false},
		{"StackExchange.Redis", BackingRedis, false},
		{"lapin", BackingRabbitMQ, false},
		{"rdkafka", BackingKafka, false},
		{"github.com/aws/aws-sdk-go-v2/service/dynamodb", CloudDynamoDB, true},
		{"software.amazon.awssdk:sqs", CloudSQS, true},
		{"cloud.google.com/go/spanner", CloudSpanner, true},
		{"cloud.google.com/go/pubsub/v2", CloudPubSub, true},
		{"@google-cloud/firestore", CloudFirestore, true},
		{"Microsoft.Azure.Cosmos", CloudCosmosDB, true},
		{"Azure.Messaging.ServiceBus", CloudServiceBus, true},
		{"google-cloud-pubsub", CloudPubSub, true},
	}
	for _, tt := range tests {
		kind, ok := BackingFor(tt.dep)
		if !ok || kind != tt.kind {
			t.Errorf("BackingFor(%q) = %q, %v; want %q", tt.dep, kind, ok, tt.kind)
			continue
		}
		b := AddBacking(nil, kind, "x")
		if b[0].External != tt.external || tt.external && b[0].Name == "" {
			t.Errorf("%s: external %v name %q, want external %v and a name", tt.dep, b[0].External, b[0].Name, tt.external)
		}
	}
}

func TestConnectionVar(t *testing.T) {
	env := func(names ...string) []EnvVar {
		var out []EnvVar
		for _, n := range names {
			out = append(out, EnvVar{Name: n})
		}
		return out
	}
	tests := []struct {
		name    string
		kind    string
		env     []EnvVar
		onlySQL bool
		want    string
	}{
		{"kind word and suffix", BackingRedis, env("LOG_LEVEL", "REDIS_URL"), true, "REDIS_URL"},
		{"generic DATABASE_URL for the only SQL store", BackingPostgres, env("DATABASE_URL", "REDIS_URL"), true, "DATABASE_URL"},
		{"generic names do not pick between two SQL stores", BackingPostgres, env("DATABASE_URL"), false, ""},
		{"connection string naming the kind", BackingRedis, env("ConnectionStrings__Redis", "ConnectionStrings__Inventory"), true, "ConnectionStrings__Redis"},
		{"the free connection string for the only SQL store", BackingSQLServer, env("ConnectionStrings__Redis", "ConnectionStrings__Inventory"), true, "ConnectionStrings__Inventory"},
		{"kafka bootstrap servers", BackingKafka, env("KAFKA_BOOTSTRAP_SERVERS"), false, "KAFKA_BOOTSTRAP_SERVERS"},
		{"nothing fits", BackingMongoDB, env("PORT"), false, ""},
	}
	for _, tt := range tests {
		if got := connectionVar(tt.kind, tt.env, tt.onlySQL); got != tt.want {
			t.Errorf("%s: connectionVar = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestShareStores(t *testing.T) {
	svc := func(name string, port int, b ...Backing) Service { return Service{Name: name, Port: port, Backing: b} }
	tests := []struct {
		name   string
		svcs   []Service
		stores []Store
		marks  map[string][]string // service -> Backing.Store per backing
	}{
		{
			name: "api and worker share REDIS_URL and a database; the API owns them",
			svcs: []Service{
				svc("linkshort-worker", 0, Backing{Kind: BackingPostgres, EnvVar: "DATABASE_URL"}, Backing{Kind: BackingRedis, EnvVar: "REDIS_URL"}),
				svc("linkshort-api", 3000, Backing{Kind: BackingPostgres, EnvVar: "DATABASE_URL", Database: "links"}, Backing{Kind: BackingRedis, EnvVar: "REDIS_URL"}),
			},
			stores: []Store{
				{Name: "linkshort-api-postgresql", Kind: BackingPostgres, Owner: "linkshort-api", Users: []string{"linkshort-api", "linkshort-worker"}, Database: "links", Reason: "same variable DATABASE_URL"},
				{Name: "linkshort-api-redis", Kind: BackingRedis, Owner: "linkshort-api", Users: []string{"linkshort-api", "linkshort-worker"}, Reason: "same variable REDIS_URL"},
			},
			marks: map[string][]string{"linkshort-worker": {"linkshort-api-postgresql", "linkshort-api-redis"}, "linkshort-api": {"linkshort-api-postgresql", "linkshort-api-redis"}},
		},
		{
			name: "same database under different variables; the owner is named after it",
			svcs: []Service{
				svc("reports", 8080, Backing{Kind: BackingSQLServer, EnvVar: "ConnectionStrings__Main", Database: "inventory"}),
				svc("inventory-api", 8080, Backing{Kind: BackingSQLServer, EnvVar: "ConnectionStrings__Inventory", Database: "inventory"}),
			},
			stores: []Store{{Name: "inventory-api-sqlserver", Kind: BackingSQLServer, Owner: "inventory-api", Users: []string{"inventory-api", "reports"}, Database: "inventory", Reason: "same database inventory"}},
			marks:  map[string][]string{"reports": {"inventory-api-sqlserver"}, "inventory-api": {"inventory-api-sqlserver"}},
		},
		{
			name: "same variable but different databases are two stores; external and unknown ones never share",
			svcs: []Service{
				svc("orders", 8080, Backing{Kind: BackingPostgres, EnvVar: "DATABASE_URL", Database: "orders"}, Backing{Kind: CloudS3, External: true}),
				svc("users", 8080, Backing{Kind: BackingPostgres, EnvVar: "DATABASE_URL", Database: "users"}, Backing{Kind: CloudS3, External: true}, Backing{Kind: BackingRedis}),
				svc("cache", 0, Backing{Kind: BackingRedis}),
			},
			marks: map[string][]string{"orders": {"", ""}, "users": {"", "", ""}, "cache": {""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &SystemModel{Services: tt.svcs}
			shareStores(m)
			if !reflect.DeepEqual(m.Stores, tt.stores) {
				t.Errorf("stores:\n got %s\nwant %s", asJSONForDiff(t, m.Stores), asJSONForDiff(t, tt.stores))
			}
			for _, s := range m.Services {
				var got []string
				for _, b := range s.Backing {
					got = append(got, b.Store)
				}
				if !reflect.DeepEqual(got, tt.marks[s.Name]) {
					t.Errorf("%s stores %v, want %v", s.Name, got, tt.marks[s.Name])
				}
			}
		})
	}
}

func FuzzDatabaseOf(f *testing.F) {
	f.Add("jdbc:mariadb://${DB_HOST:localhost}:3306/users")
	f.Add("Server=x;Database=y;Password=z")
	f.Add("mongodb+srv://u:p@h/db?x=1")
	f.Fuzz(func(t *testing.T, v string) {
		if db := DatabaseOf(v); db != "" && dbValid(db) != db {
			t.Fatalf("DatabaseOf(%q) = %q, not a valid name", v, db)
		}
	})
}
