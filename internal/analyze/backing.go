package analyze

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Managed cloud services: recognised from their SDKs, recorded as
// Backing{External: true}, never generated.
const (
	CloudDynamoDB   = "dynamodb"
	CloudS3         = "s3"
	CloudSQS        = "sqs"
	CloudSNS        = "sns"
	CloudSpanner    = "spanner"
	CloudFirestore  = "firestore"
	CloudPubSub     = "pubsub"
	CloudGCS        = "gcs"
	CloudBigQuery   = "bigquery"
	CloudCosmosDB   = "cosmosdb"
	CloudServiceBus = "servicebus"
	CloudBlob       = "azure-blob"
	CloudEventHubs  = "eventhubs"
)

// cloudNames names each managed service for the plan.
var cloudNames = map[string]string{
	CloudDynamoDB: "AWS DynamoDB", CloudS3: "AWS S3", CloudSQS: "AWS SQS", CloudSNS: "AWS SNS",
	CloudSpanner: "Google Cloud Spanner", CloudFirestore: "Google Cloud Firestore", CloudPubSub: "Google Cloud Pub/Sub",
	CloudGCS: "Google Cloud Storage", CloudBigQuery: "Google BigQuery",
	CloudCosmosDB: "Azure Cosmos DB", CloudServiceBus: "Azure Service Bus", CloudBlob: "Azure Blob Storage", CloudEventHubs: "Azure Event Hubs",
}

// IsCloudKind reports whether kind is a managed cloud service.
func IsCloudKind(kind string) bool { _, ok := cloudNames[kind]; return ok }

// extraDeps extends backingDeps with SQL Server, Rust crates and the
// managed cloud SDKs, per ecosystem (lower-cased; "*" suffix = prefix).
var extraDeps = map[string]string{
	// SQL Server
	"microsoft.data.sqlclient": BackingSQLServer, "system.data.sqlclient": BackingSQLServer,
	"microsoft.entityframeworkcore.sqlserver": BackingSQLServer, "com.microsoft.sqlserver:mssql-jdbc": BackingSQLServer,
	"github.com/microsoft/go-mssqldb": BackingSQLServer, "github.com/denisenkom/go-mssqldb": BackingSQLServer,
	"gorm.io/driver/sqlserver": BackingSQLServer, "mssql": BackingSQLServer, "tedious": BackingSQLServer,
	"pymssql": BackingSQLServer, "tiberius": BackingSQLServer,
	// NuGet spellings the shared table lacks
	"mysql.entityframeworkcore": BackingMySQL, "mongodb.entityframeworkcore": BackingMongoDB,
	"npgsql.entityframeworkcore.postgresql": BackingPostgres,
	// Rust crates (sqlx and diesel are read from their features)
	"tokio-postgres": BackingPostgres, "deadpool-postgres": BackingPostgres, "bb8-postgres": BackingPostgres,
	"mysql_async": BackingMySQL, "deadpool-redis": BackingRedis, "bb8-redis": BackingRedis, "fred": BackingRedis,
	"lapin": BackingRabbitMQ, "amiquip": BackingRabbitMQ, "rdkafka": BackingKafka,
	// Go module versions of the mongo driver and AWS/GCP/Azure SDKs
	"github.com/aws/aws-sdk-go-v2/service/dynamodb*": CloudDynamoDB, "github.com/aws/aws-sdk-go-v2/service/s3": CloudS3,
	"github.com/aws/aws-sdk-go-v2/service/sqs": CloudSQS, "github.com/aws/aws-sdk-go-v2/service/sns": CloudSNS,
	"cloud.google.com/go/spanner": CloudSpanner, "cloud.google.com/go/firestore": CloudFirestore,
	"cloud.google.com/go/pubsub*": CloudPubSub, "cloud.google.com/go/storage": CloudGCS, "cloud.google.com/go/bigquery": CloudBigQuery,
	"github.com/azure/azure-sdk-for-go/sdk/data/azcosmos": CloudCosmosDB, "github.com/azure/azure-sdk-for-go/sdk/messaging/azservicebus": CloudServiceBus,
	"github.com/azure/azure-sdk-for-go/sdk/storage/azblob": CloudBlob, "github.com/azure/azure-sdk-for-go/sdk/messaging/azeventhubs": CloudEventHubs,
	// Maven
	"software.amazon.awssdk:dynamodb*": CloudDynamoDB, "software.amazon.awssdk:s3": CloudS3, "software.amazon.awssdk:sqs": CloudSQS, "software.amazon.awssdk:sns": CloudSNS,
	"com.amazonaws:aws-java-sdk-dynamodb": CloudDynamoDB, "com.amazonaws:aws-java-sdk-s3": CloudS3, "com.amazonaws:aws-java-sdk-sqs": CloudSQS, "com.amazonaws:aws-java-sdk-sns": CloudSNS,
	"com.google.cloud:google-cloud-spanner*": CloudSpanner, "com.google.cloud:google-cloud-firestore": CloudFirestore,
	"com.google.cloud:google-cloud-pubsub": CloudPubSub, "com.google.cloud:google-cloud-storage": CloudGCS, "com.google.cloud:google-cloud-bigquery": CloudBigQuery,
	"com.google.cloud:spring-cloud-gcp-starter-data-spanner": CloudSpanner, "com.google.cloud:spring-cloud-gcp-starter-data-firestore": CloudFirestore,
	"com.google.cloud:spring-cloud-gcp-starter-pubsub": CloudPubSub, "com.google.cloud:spring-cloud-gcp-starter-storage": CloudGCS,
	"com.azure:azure-cosmos": CloudCosmosDB, "com.azure.spring:spring-cloud-azure-starter-data-cosmos": CloudCosmosDB,
	"com.azure:azure-messaging-servicebus": CloudServiceBus, "com.azure.spring:spring-cloud-azure-starter-servicebus*": CloudServiceBus,
	"com.azure:azure-storage-blob": CloudBlob, "com.azure:azure-messaging-eventhubs": CloudEventHubs,
	// NuGet
	"awssdk.dynamodbv2": CloudDynamoDB, "awssdk.s3": CloudS3, "awssdk.sqs": CloudSQS, "awssdk.simplenotificationservice": CloudSNS,
	"google.cloud.spanner.data": CloudSpanner, "google.cloud.firestore": CloudFirestore, "google.cloud.pubsub.v1": CloudPubSub,
	"google.cloud.storage.v1": CloudGCS, "google.cloud.bigquery.v2": CloudBigQuery,
	"microsoft.azure.cosmos": CloudCosmosDB, "azure.messaging.servicebus": CloudServiceBus, "azure.storage.blobs": CloudBlob, "azure.messaging.eventhubs": CloudEventHubs,
	// npm
	"@aws-sdk/client-dynamodb": CloudDynamoDB, "@aws-sdk/lib-dynamodb": CloudDynamoDB, "@aws-sdk/client-s3": CloudS3,
	"@aws-sdk/client-sqs": CloudSQS, "@aws-sdk/client-sns": CloudSNS,
	"@google-cloud/spanner": CloudSpanner, "@google-cloud/firestore": CloudFirestore, "@google-cloud/pubsub": CloudPubSub,
	"@google-cloud/storage": CloudGCS, "@google-cloud/bigquery": CloudBigQuery,
	"@azure/cosmos": CloudCosmosDB, "@azure/service-bus": CloudServiceBus, "@azure/storage-blob": CloudBlob, "@azure/event-hubs": CloudEventHubs,
	// PyPI (boto3 is read from the clients the code creates)
	"google-cloud-spanner": CloudSpanner, "google-cloud-firestore": CloudFirestore, "google-cloud-pubsub": CloudPubSub,
	"google-cloud-storage": CloudGCS, "google-cloud-bigquery": CloudBigQuery,
	"azure-cosmos": CloudCosmosDB, "azure-servicebus": CloudServiceBus, "azure-storage-blob": CloudBlob, "azure-eventhub": CloudEventHubs,
	// crates.io
	"aws-sdk-dynamodb": CloudDynamoDB, "aws-sdk-s3": CloudS3, "aws-sdk-sqs": CloudSQS, "aws-sdk-sns": CloudSNS,
	"azure_data_cosmos": CloudCosmosDB, "google-cloud-pubsub-rust": CloudPubSub,
}

// SetBackingFacts fills the connection facts of the backing of that kind
// (the variable carrying it, the database name) where they are still empty.
func SetBackingFacts(list []Backing, kind, envVar, database string) {
	for i := range list {
		if list[i].Kind != kind {
			continue
		}
		if list[i].EnvVar == "" {
			list[i].EnvVar = envVar
		}
		if list[i].Database == "" {
			list[i].Database = database
		}
	}
}

var (
	dbNameRe       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$`)
	dbPlaceholder  = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_.-]*(?::-?([^}]*))?\}`)
	dbKeyValueName = regexp.MustCompile(`(?i)(?:^|;)\s*(?:database|initial catalog|databasename|dbname)\s*=\s*([^;]+)`)
	dbURLSchemes   = map[string]bool{"postgres": true, "postgresql": true, "mysql": true, "mariadb": true, "mongodb": true, "mongodb+srv": true,
		"sqlserver": true, "mssql": true, "postgresql+asyncpg": true, "postgresql+psycopg": true, "postgresql+psycopg2": true, "mysql+pymysql": true, "mysql+aiomysql": true}
)

// DatabaseOf reads the database name of a connection value: a URL
// ("postgres://u@h:5432/orders", "jdbc:mariadb://h:3306/users"), a
// key=value connection string ("Host=h;Database=catalog"), or a JDBC SQL
// Server URL (";databaseName=x"). Placeholders with defaults
// ("${DB_NAME:users}") resolve to their default; "" when none is visible.
func DatabaseOf(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 1024 {
		return ""
	}
	v = dbPlaceholder.ReplaceAllString(v, "$1")
	if m := dbKeyValueName.FindStringSubmatch(v); m != nil {
		return dbValid(strings.TrimSpace(m[1]))
	}
	v = strings.TrimPrefix(v, "jdbc:")
	v = strings.TrimPrefix(v, "r2dbc:")
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok || !dbURLSchemes[strings.ToLower(scheme)] {
		return ""
	}
	u, err := url.Parse("db://" + rest)
	if err != nil {
		// a host list or an unparsable authority: take the path by hand
		_, p, ok := strings.Cut(rest, "/")
		if !ok {
			return ""
		}
		p, _, _ = strings.Cut(p, "?")
		return dbValid(p)
	}
	p := strings.Trim(u.Path, "/")
	p, _, _ = strings.Cut(p, "/")
	return dbValid(p)
}

func dbValid(s string) string {
	if dbNameRe.MatchString(s) {
		return s
	}
	return ""
}

// connectionWords are the words a variable carrying a connection to each
// kind contains; sqlWords apply to every SQL database.
var (
	connectionWords = map[string][]string{
		BackingPostgres: {"POSTGRES", "PG", "PSQL"}, BackingMySQL: {"MYSQL"}, BackingMariaDB: {"MARIADB", "MYSQL"},
		BackingSQLServer: {"SQLSERVER", "MSSQL", "SQL_SERVER"}, BackingMongoDB: {"MONGO"}, BackingRedis: {"REDIS", "VALKEY", "CACHE"},
		BackingRabbitMQ: {"RABBIT", "AMQP", "EVENTBUS", "BROKER"}, BackingKafka: {"KAFKA", "BROKER"},
	}
	sqlKinds        = map[string]bool{BackingPostgres: true, BackingMySQL: true, BackingMariaDB: true, BackingSQLServer: true}
	connSuffixes    = []string{"_URL", "_URI", "_DSN", "_ADDR", "_ADDRESS", "_HOST", "_CONNECTION", "_CONNECTION_STRING", "_SERVERS", "_BROKERS", "_BOOTSTRAP_SERVERS"}
	sqlGenericNames = []string{"DATABASE_URL", "DB_URL", "DB_DSN", "DATABASE_DSN", "DB_CONNECTION", "SPRING_DATASOURCE_URL", "SQLALCHEMY_DATABASE_URI", "DB_HOST", "DATABASE_HOST"}
	dbNameVars      = []string{"DB_NAME", "DATABASE_NAME", "DB_DATABASE", "POSTGRES_DB", "PGDATABASE", "MYSQL_DATABASE", "MARIADB_DATABASE", "MONGO_DB", "MONGODB_DATABASE", "MONGO_DATABASE", "MONGO_DB_NAME"}
)

// connectBacking records, for each backing service of s, the variable that
// carries its connection and the database name, from the variables the
// code reads. A value the detector already found is kept.
func connectBacking(s *Service) {
	sqlCount := 0
	for _, b := range s.Backing {
		if sqlKinds[b.Kind] {
			sqlCount++
		}
	}
	for i := range s.Backing {
		b := &s.Backing[i]
		if b.External {
			continue
		}
		if b.EnvVar == "" {
			b.EnvVar = connectionVar(b.Kind, s.Env, sqlCount == 1)
		}
		if b.Database == "" && b.EnvVar != "" {
			for _, e := range s.Env {
				if e.Name == b.EnvVar {
					b.Database = e.Database
				}
			}
		}
		if b.Database == "" && (sqlKinds[b.Kind] || b.Kind == BackingMongoDB) {
			for _, want := range dbNameVars {
				for _, e := range s.Env {
					if strings.EqualFold(e.Name, want) && !e.Secret && dbValid(e.Default) != "" {
						b.Database = e.Default
					}
				}
				if b.Database != "" {
					break
				}
			}
		}
	}
}

// connectionVar picks the environment variable carrying a connection to
// kind: a name with the kind's word and a connection suffix, then (for the
// only SQL database of a service) the generic DATABASE_URL-style names,
// then a .NET connection string naming the kind.
func connectionVar(kind string, env []EnvVar, onlySQL bool) string {
	words := connectionWords[kind]
	for _, e := range env {
		u := strings.ToUpper(e.Name)
		if strings.HasPrefix(u, "CONNECTIONSTRINGS__") {
			continue
		}
		for _, w := range words {
			if !strings.Contains(u, w) {
				continue
			}
			for _, suf := range connSuffixes {
				if strings.HasSuffix(u, suf) {
					return e.Name
				}
			}
		}
	}
	if sqlKinds[kind] && onlySQL {
		for _, g := range sqlGenericNames {
			for _, e := range env {
				if strings.EqualFold(e.Name, g) {
					return e.Name
				}
			}
		}
	}
	var cs []string
	for _, e := range env {
		if strings.HasPrefix(strings.ToUpper(e.Name), "CONNECTIONSTRINGS__") {
			cs = append(cs, e.Name)
		}
	}
	for _, n := range cs {
		u := strings.ToUpper(n)
		for _, w := range append(words, strings.ToUpper(kind)) {
			if strings.Contains(u, w) {
				return n
			}
		}
	}
	if !sqlKinds[kind] || !onlySQL {
		return ""
	}
	// The only SQL database takes the only connection string that names
	// no other kind (ConnectionStrings__Inventory beside ConnectionStrings__Redis).
	var free []string
	for _, n := range cs {
		u, other := strings.ToUpper(n), false
		for k, ws := range connectionWords {
			if sqlKinds[k] {
				continue
			}
			for _, w := range ws {
				if strings.Contains(u, w) {
					other = true
				}
			}
		}
		if !other {
			free = append(free, n)
		}
	}
	if len(free) == 1 {
		return free[0]
	}
	return ""
}

// shareStores finds the backing stores several services use and records
// them in the model, marking each user's Backing.Store. Two backing
// services of one kind are the same store when they name the same database,
// or read the same connection variable without naming different databases
// (an API and its worker both reading REDIS_URL).
func shareStores(m *SystemModel) {
	type use struct{ svc, b int }
	var uses []use
	for i := range m.Services {
		for j, b := range m.Services[i].Backing {
			if !b.External && (b.Database != "" || b.EnvVar != "") {
				uses = append(uses, use{i, j})
			}
		}
	}
	parent := make([]int, len(uses))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	reason := map[int]string{}
	bk := func(u use) Backing { return m.Services[u.svc].Backing[u.b] }
	for i := range uses {
		for j := i + 1; j < len(uses); j++ {
			a, b := bk(uses[i]), bk(uses[j])
			if a.Kind != b.Kind || uses[i].svc == uses[j].svc {
				continue
			}
			why := ""
			switch {
			case a.Database != "" && a.Database == b.Database:
				why = "same database " + a.Database
			case a.EnvVar != "" && a.EnvVar == b.EnvVar && (a.Database == "" || b.Database == "" || a.Database == b.Database):
				why = "same variable " + a.EnvVar
			default:
				continue
			}
			ri, rj := find(i), find(j)
			if ri != rj {
				parent[rj] = ri
			}
			if reason[find(i)] == "" {
				reason[find(i)] = why
			}
		}
	}
	groups := map[int][]use{}
	var roots []int
	for i, u := range uses {
		r := find(i)
		if _, ok := groups[r]; !ok {
			roots = append(roots, r)
		}
		groups[r] = append(groups[r], u)
	}
	used := map[string]bool{}
	for _, r := range roots {
		g := groups[r]
		if len(g) < 2 {
			continue
		}
		st := Store{Kind: bk(g[0]).Kind, Reason: reason[r]}
		for _, u := range g {
			st.Users = append(st.Users, m.Services[u.svc].Name)
			if d := bk(u).Database; d != "" && st.Database == "" {
				st.Database = d
			}
		}
		sort.Strings(st.Users)
		st.Owner = storeOwner(m.Services, st)
		name := DNSLabel(st.Owner + "-" + st.Kind)
		for k := 2; used[name]; k++ {
			name = DNSLabel(st.Owner+"-"+st.Kind) + "-" + itoa(k)
		}
		used[name] = true
		st.Name = name
		for _, u := range g {
			m.Services[u.svc].Backing[u.b].Store = name
			if m.Services[u.svc].Backing[u.b].Database == "" {
				m.Services[u.svc].Backing[u.b].Database = st.Database
			}
		}
		m.Stores = append(m.Stores, st)
	}
	sort.Slice(m.Stores, func(i, j int) bool { return m.Stores[i].Name < m.Stores[j].Name })
}

// storeOwner picks the service that owns a shared store: the one whose name
// matches the database, else the first serving a port, else the first user.
func storeOwner(svcs []Service, st Store) string {
	byName := map[string]Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	if st.Database != "" {
		db := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(st.Database))
		for _, u := range st.Users {
			n := strings.ReplaceAll(u, "-", "")
			if n == db || strings.TrimSuffix(n, "service") == db || strings.TrimSuffix(n, "api") == db {
				return u
			}
		}
	}
	for _, u := range st.Users {
		if byName[u].Port > 0 {
			return u
		}
	}
	return st.Users[0]
}
