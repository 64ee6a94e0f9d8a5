package rules

import (
	"fmt"

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
	uid     int64
	dataDir string
	// scratch are extra writable directories (the root filesystem is read-only).
	scratch []string
	args    []string
	// env builds the container environment; secret is the credentials Secret.
	env     func(db, secret, host string) []corev1.EnvVar
	storage string
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

func plainEnv(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

var storeSpecs = map[string]storeSpec{
	analyze.BackingPostgres: {
		image: "postgres:16.4", uid: 999, dataDir: "/var/lib/postgresql/data", scratch: []string{"/var/run/postgresql"}, storage: "5Gi",
		env: func(db, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("POSTGRES_DB", db), secretEnv("POSTGRES_USER", secret, "username"), secretEnv("POSTGRES_PASSWORD", secret, "password"), plainEnv("PGDATA", "/var/lib/postgresql/data/pgdata")}
		},
	},
	analyze.BackingMariaDB: {
		image: "mariadb:11.4", uid: 999, dataDir: "/var/lib/mysql", scratch: []string{"/run/mysqld"}, storage: "5Gi",
		env: func(db, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("MARIADB_DATABASE", db), secretEnv("MARIADB_USER", secret, "username"), secretEnv("MARIADB_PASSWORD", secret, "password"), secretEnv("MARIADB_ROOT_PASSWORD", secret, "root-password")}
		},
	},
	analyze.BackingMongoDB: {
		image: "mongo:7.0", uid: 999, dataDir: "/data/db", scratch: []string{"/data/configdb"}, storage: "5Gi",
		env: func(db, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{plainEnv("MONGO_INITDB_DATABASE", db), secretEnv("MONGO_INITDB_ROOT_USERNAME", secret, "username"), secretEnv("MONGO_INITDB_ROOT_PASSWORD", secret, "password")}
		},
	},
	analyze.BackingRedis: {
		image: "redis:7.4", uid: 999, dataDir: "/data", storage: "1Gi",
		args: []string{"--appendonly", "yes", "--dir", "/data"},
		env:  func(string, string, string) []corev1.EnvVar { return nil },
	},
	analyze.BackingRabbitMQ: {
		image: "rabbitmq:3.13-management", uid: 999, dataDir: "/var/lib/rabbitmq", storage: "2Gi",
		env: func(_, secret, _ string) []corev1.EnvVar {
			return []corev1.EnvVar{secretEnv("RABBITMQ_DEFAULT_USER", secret, "username"), secretEnv("RABBITMQ_DEFAULT_PASS", secret, "password")}
		},
	},
	analyze.BackingKafka: {
		image: "apache/kafka:3.8.0", uid: 1000, dataDir: "/var/lib/kafka/data", scratch: []string{"/opt/kafka/config"}, storage: "5Gi",
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
	podSec, ctrSec := hardenedPod(spec.uid)
	vols := []corev1.Volume{}
	mounts := []corev1.VolumeMount{{Name: "data", MountPath: spec.dataDir}}
	for i, dir := range append([]string{"/tmp"}, spec.scratch...) {
		v, m := emptyDir(fmt.Sprintf("scratch-%d", i), dir)
		vols = append(vols, v)
		mounts = append(mounts, m)
	}
	ctr := corev1.Container{
		Name: kind, Image: spec.image, Args: spec.args, Env: spec.env(db, secret, name+"-0."+name+"."+ns+".svc.cluster.local"),
		Ports:           []corev1.ContainerPort{{Name: kind, ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}},
		ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(kind)}}, PeriodSeconds: 10},
		LivenessProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(kind)}}, PeriodSeconds: 20, InitialDelaySeconds: 30},
		Resources:       resourcesFor(""),
		SecurityContext: ctrSec,
		VolumeMounts:    mounts,
	}
	ctr.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("1Gi")
	ctr.Resources.Requests[corev1.ResourceMemory] = resource.MustParse("256Mi")
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
