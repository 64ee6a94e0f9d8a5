package rules

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubewright/kubewright/internal/analyze"
)

// storeSpec describes how a backing store runs as a plain StatefulSet.
type storeSpec struct {
	image   string
	dataDir string
	// scratch are extra writable directories (the root filesystem is read-only).
	scratch []string
	args    []string
	// env builds the container environment; secret is the credentials Secret.
	env     func(db, secret, host string) []corev1.EnvVar
	storage string
	// check is the readiness command: the store's own client asking it.
	check []string
	// memory overrides the default request and limit.
	memory [2]string
}

// storeUID is the user every store runs as. The images' own users (999,
// 1000) are below 10000; their entrypoints support any user whose data
// directory is writable, which fsGroup provides (SQL Server's mssql user
// is 10001 already).
const storeUID = 10001

// Pinned store images.
const (
	imagePostgres  = "postgres:16.4"
	imageMariaDB   = "mariadb:11.4"
	imageMongo     = "mongo:7.0"
	imageRedis     = "redis:7.4"
	imageRabbitMQ  = "rabbitmq:3.13-management"
	imageKafka     = "apache/kafka:3.8.0"
	imageSQLServer = "mcr.microsoft.com/mssql/server:2022-CU16-ubuntu-22.04"
)

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

func plainEnv(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

var storeSpecs = map[string]storeSpec{
	analyze.BackingPostgres: {
		image: imagePostgres, dataDir: "/var/lib/postgresql/data", scratch: []string{"/var/run/postgresql"}, storage: "5Gi",
		env: func(db, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("POSTGRES_DB", db), secretEnv("POSTGRES_USER", secret, "username"), secretEnv("POSTGRES_PASSWORD", secret, "password"), plainEnv("PGDATA", "/var/lib/postgresql/data/pgdata")}
		},
		check: []string{"pg_isready", "--host=127.0.0.1", "--port=5432", "--username=postgres"},
	},
	analyze.BackingMariaDB: {
		image: imageMariaDB, dataDir: "/var/lib/mysql", scratch: []string{"/run/mysqld"}, storage: "5Gi",
		env: func(db, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("MARIADB_DATABASE", db), secretEnv("MARIADB_USER", secret, "username"), secretEnv("MARIADB_PASSWORD", secret, "password"), secretEnv("MARIADB_ROOT_PASSWORD", secret, "root-password")}
		},
		// ping exits 0 whenever the server answers, even "access denied".
		check: []string{"mariadb-admin", "ping", "--host=127.0.0.1"},
	},
	analyze.BackingMongoDB: {
		image: imageMongo, dataDir: "/data/db", scratch: []string{"/data/configdb"}, storage: "5Gi",
		env: func(db, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("MONGO_INITDB_DATABASE", db), secretEnv("MONGO_INITDB_ROOT_USERNAME", secret, "username"), secretEnv("MONGO_INITDB_ROOT_PASSWORD", secret, "password"),
				// mongosh keeps its history and logs under HOME.
				plainEnv("HOME", "/tmp")}
		},
		check: []string{"mongosh", "--quiet", "--norc", "--eval", "db.adminCommand('ping').ok"},
	},
	analyze.BackingRedis: {
		image: imageRedis, dataDir: "/data", storage: "1Gi",
		args:  []string{"--appendonly", "yes", "--dir", "/data"},
		env:   func(string, string, string) []corev1.EnvVar { return nil },
		check: []string{"redis-cli", "-p", "6379", "ping"},
	},
	analyze.BackingRabbitMQ: {
		image: imageRabbitMQ, dataDir: "/var/lib/rabbitmq", storage: "2Gi",
		env: func(_, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{secretEnv("RABBITMQ_DEFAULT_USER", secret, "username"), secretEnv("RABBITMQ_DEFAULT_PASS", secret, "password")}
		},
		check: []string{"rabbitmq-diagnostics", "-q", "ping"},
	},
	analyze.BackingKafka: {
		image: imageKafka, dataDir: "/var/lib/kafka/data", scratch: []string{"/opt/kafka/config", "/opt/kafka/logs"}, storage: "5Gi",
		env: func(_, _, host string) []corev1.EnvVar {
			return []corev1.EnvVar{
				plainEnv("KAFKA_NODE_ID", "1"), plainEnv("KAFKA_PROCESS_ROLES", "broker,controller"),
				plainEnv("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093"),
				plainEnv("KAFKA_ADVERTISED_LISTENERS", "PLAINTEXT://"+host+":9092"),
				plainEnv("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
				plainEnv("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093"),
				plainEnv("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"),
				plainEnv("KAFKA_LOG_DIRS", "/var/lib/kafka/data"),
			}
		},
		check: []string{"/opt/kafka/bin/kafka-broker-api-versions.sh", "--bootstrap-server", "localhost:9092"},
	},
	analyze.BackingSQLServer: {
		image: imageSQLServer, dataDir: "/var/opt/mssql", storage: "10Gi", memory: [2]string{"2Gi", "3Gi"},
		env: func(_, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("ACCEPT_EULA", "Y"), plainEnv("MSSQL_PID", "Developer"), secretEnv("MSSQL_SA_PASSWORD", secret, "password")}
		},
		// sqlcmd needs the password, which only the environment has: the
		// image's shell reads it, so it never appears in the manifest.
		check: []string{"/bin/sh", "-c", `/opt/mssql-tools18/bin/sqlcmd -S 127.0.0.1 -U sa -P "$MSSQL_SA_PASSWORD" -C -b -Q "SELECT 1"`},
	},
}

// storeSpecFor returns how a kind runs; MySQL users get MariaDB, which
// speaks the same protocol.
func storeSpecFor(kind string) storeSpec {
	if kind == analyze.BackingMySQL {
		kind = analyze.BackingMariaDB
	}
	return storeSpecs[kind]
}

// rawStore renders a backing store as a StatefulSet with a headless Service,
// a PVC template and a NetworkPolicy admitting only the services that use
// it. name is the store's object name, users the services connecting to it.
func (sys *system) rawStore(kind, name, ns, db, secret string, users []string) []any {
	spec := storeSpecFor(kind)
	port := storePort(kind)
	labels := sys.labels(name, "database")
	if shared(kind) {
		labels = sys.labels(name, "messaging")
	}
	podSec, ctrSec := hardenedPod(storeUID)
	vols := []corev1.Volume{}
	mounts := []corev1.VolumeMount{{Name: "data", MountPath: spec.dataDir}}
	for i, dir := range append([]string{"/tmp"}, spec.scratch...) {
		v, m := emptyDir(fmt.Sprintf("scratch-%d", i), dir)
		vols = append(vols, v)
		mounts = append(mounts, m)
	}
	ctr := corev1.Container{
		Name: kind, Image: spec.image, ImagePullPolicy: corev1.PullAlways, Args: spec.args,
		Env:             spec.env(db, secret, name+"-0."+name+"."+ns+".svc.cluster.local"),
		Ports:           []corev1.ContainerPort{{Name: kind, ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}},
		SecurityContext: ctrSec,
		VolumeMounts:    mounts,
	}
	ctr.ReadinessProbe, ctr.LivenessProbe = storeProbes(kind, kind, spec.check)
	mem := spec.memory
	if mem[0] == "" {
		mem = [2]string{"256Mi", "1Gi"}
	}
	ctr.Resources = resources([2]string{"100m", mem[0]}, [2]string{"500m", mem[1]})
	sts := &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			ServiceName: name,
			Replicas:    ptr(int32(1)),
			Selector:    &metav1.LabelSelector{MatchLabels: selector(name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr(false),
					SecurityContext:              podSec,
					Containers:                   []corev1.Container{ctr},
					Volumes:                      vols,
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(spec.storage)}},
				},
			}},
		},
	}
	svc := &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  selector(name),
			Ports:     []corev1.ServicePort{{Name: kind, Port: int32(port), TargetPort: intstr.FromString(kind), Protocol: corev1.ProtocolTCP}},
		},
	}
	var from []networkingv1.NetworkPolicyPeer
	for _, u := range users {
		from = append(from, sys.peer(u))
	}
	return []any{sts, svc, sys.networkPolicy(name, ns, labels, port, from)}
}

// storeNotes records what a person must know about a store the author
// renders: who shares it, and what SQL Server leaves to them.
func (sys *system) storeNotes(u storeUse, f flavor) {
	if u.shared {
		where := "k8s/"
		if f == flavorGitops {
			where = "gitops/"
		}
		sys.assume("%s: %s is one %s shared by %s, in namespace %s",
			where, u.name, u.kind, strings.Join(u.users, ", "), u.ns)
	}
	if u.kind == analyze.BackingSQLServer {
		sys.assume("%s runs SQL Server as the Developer edition (MSSQL_PID) with ACCEPT_EULA=Y: read Microsoft's license terms and set MSSQL_PID to your licensed edition for production; the only login is sa (its password needs 8+ characters from three of: upper case, lower case, digits, symbols), and database %q is not created for you (EF Core migrations or a script must create it); no SQL Server operator is installed, so it is a StatefulSet in k8s/ and gitops/", u.name, u.db)
	}
}
