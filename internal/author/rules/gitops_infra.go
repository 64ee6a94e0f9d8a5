package rules

import (
	"encoding/json"
	"fmt"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	iauv1 "github.com/fluxcd/image-automation-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
)

// The cluster's infrastructure in gitops/: operators installed by Helm,
// the secret store, the shared broker, image automation.

// operator is a Helm-installed controller the apps need.
type operator struct {
	name, namespace string
	repo, repoURL   string
	oci             bool
	releases        []release
}

type release struct {
	name, chart, version string
	values               map[string]any
	dependsOn            string
	// dependsOnNS is the namespace of dependsOn when it is not the release's own.
	dependsOnNS string
}

// operators lists every operator kubewright knows, keyed by what needs it.
// Each chart is pinned to one minor series: the one that installs the
// operator version whose CRDs the server-side dry-run validates against
// (../shared/crds, see SOURCES.md there). Bitnami's RabbitMQ chart stops
// at cluster-operator 2.16: its 4.4 series is the newest there is, and the
// RabbitmqCluster fields used here exist in 2.16 and 2.22 alike.
var operators = map[string]operator{
	analyze.BackingPostgres: {name: "cloudnative-pg", namespace: "cnpg-system", repo: "cnpg", repoURL: "https://cloudnative-pg.github.io/charts",
		// chart 0.29 installs CloudNativePG 1.30
		releases: []release{{name: "cloudnative-pg", chart: "cloudnative-pg", version: ">=0.29.0 <0.30.0"}}},
	analyze.BackingMariaDB: {name: "mariadb-operator", namespace: "mariadb-operator", repo: "mariadb-operator", repoURL: "https://helm.mariadb.com/mariadb-operator",
		releases: []release{
			{name: "mariadb-operator-crds", chart: "mariadb-operator-crds", version: ">=26.6.0 <26.7.0"},
			{name: "mariadb-operator", chart: "mariadb-operator", version: ">=26.6.0 <26.7.0", dependsOn: "mariadb-operator-crds"},
		}},
	analyze.BackingMongoDB: {name: "mongodb-operator", namespace: "mongodb-operator", repo: "mongodb", repoURL: "https://mongodb.github.io/helm-charts",
		releases: []release{{name: "mongodb-kubernetes", chart: "mongodb-kubernetes", version: ">=1.10.0 <1.11.0",
			values: map[string]any{"operator": map[string]any{"watchNamespace": "*"}}}}},
	analyze.BackingRabbitMQ: {name: "rabbitmq-cluster-operator", namespace: "rabbitmq-system", repo: "bitnami", repoURL: "oci://registry-1.docker.io/bitnamicharts", oci: true,
		releases: []release{{name: "rabbitmq-cluster-operator", chart: "rabbitmq-cluster-operator", version: ">=4.4.0 <4.5.0"}}},
	"external-secrets": {name: "external-secrets", namespace: "external-secrets", repo: "external-secrets", repoURL: "https://charts.external-secrets.io",
		releases: []release{{name: "external-secrets", chart: "external-secrets", version: ">=2.9.0 <2.10.0", values: map[string]any{"installCRDs": true}}}},
	"istio": {name: "istio", namespace: "istio-system", repo: "istio", repoURL: "https://istio-release.storage.googleapis.com/charts",
		releases: []release{
			{name: "istio-base", chart: "base", version: istioVersion},
			{name: "istiod", chart: "istiod", version: istioVersion, dependsOn: "istio-base"},
		}},
}

// istioVersion pins the Istio charts (base, istiod, gateway) together.
const istioVersion = ">=1.30.0 <1.31.0"

func helmRepository(op operator) *sourcev1.HelmRepository {
	r := &sourcev1.HelmRepository{
		TypeMeta:   typeMeta(sourcev1.GroupVersion.String(), sourcev1.HelmRepositoryKind),
		ObjectMeta: metav1.ObjectMeta{Name: op.repo, Namespace: fluxNS},
		Spec:       sourcev1.HelmRepositorySpec{URL: op.repoURL, Interval: duration(24 * time.Hour)},
	}
	if op.oci {
		r.Spec.Type = sourcev1.HelmRepositoryTypeOCI
	}
	return r
}

func helmRelease(op operator, r release) *helmv2.HelmRelease {
	hr := &helmv2.HelmRelease{
		TypeMeta:   typeMeta(helmv2.GroupVersion.String(), helmv2.HelmReleaseKind),
		ObjectMeta: metav1.ObjectMeta{Name: r.name, Namespace: op.namespace},
		Spec: helmv2.HelmReleaseSpec{
			Interval: duration(30 * time.Minute),
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: r.chart, Version: r.version,
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: op.repo, Namespace: fluxNS},
			}},
			Install: &helmv2.Install{CRDs: helmv2.CreateReplace, Remediation: &helmv2.InstallRemediation{Retries: 3}},
			Upgrade: &helmv2.Upgrade{CRDs: helmv2.CreateReplace, Remediation: &helmv2.UpgradeRemediation{Retries: 3}},
		},
	}
	if r.dependsOn != "" {
		hr.Spec.DependsOn = []helmv2.DependencyReference{{Name: r.dependsOn, Namespace: r.dependsOnNS}}
	}
	if r.values != nil {
		raw, _ := json.Marshal(r.values)
		hr.Spec.Values = &apiextensionsv1.JSON{Raw: raw}
	}
	return hr
}

// secretStoreObjects is the ClusterSecretStore every ExternalSecret reads
// from. It starts on the Kubernetes provider (secrets kept in one locked-down
// namespace) so a cluster works on day one; swap the provider for Vault or a
// cloud secret manager without touching the apps.
func (sys *system) secretStoreObjects() []any {
	ns := sys.namespaceObject(secretsNS, flavorRaw)
	sa := &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: metav1.ObjectMeta{Name: "external-secrets-reader", Namespace: secretsNS}}
	role := &rbacv1.Role{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "Role"),
		ObjectMeta: metav1.ObjectMeta{Name: "external-secrets-reader", Namespace: secretsNS},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}}},
	}
	rb := &rbacv1.RoleBinding{
		TypeMeta:   typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
		ObjectMeta: metav1.ObjectMeta{Name: "external-secrets-reader", Namespace: secretsNS},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "external-secrets-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "external-secrets-reader", Namespace: secretsNS}},
	}
	css := &clusterSecretStore{TypeMeta: typeMeta("external-secrets.io/v1", "ClusterSecretStore"), ObjectMeta: metav1.ObjectMeta{Name: secretStore}}
	k := &css.Spec.Provider.Kubernetes
	k.RemoteNamespace = secretsNS
	k.Server.CAProvider.Type, k.Server.CAProvider.Name, k.Server.CAProvider.Key, k.Server.CAProvider.Namespace = "ConfigMap", "kube-root-ca.crt", "ca.crt", secretsNS
	k.Auth.ServiceAccount.Name, k.Auth.ServiceAccount.Namespace = "external-secrets-reader", secretsNS
	return []any{ns, sa, role, rb, css}
}

// externalSecretFor materializes Secret name in ns from the store entry
// remoteKey, one key per property.
func externalSecretFor(name, ns, remoteKey string, keys []string, labels map[string]string, secretType string) *externalSecret {
	es := &externalSecret{TypeMeta: typeMeta("external-secrets.io/v1", "ExternalSecret"), ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}}
	es.Spec.RefreshInterval = "1h"
	es.Spec.SecretStoreRef.Kind, es.Spec.SecretStoreRef.Name = "ClusterSecretStore", secretStore
	es.Spec.Target.Name, es.Spec.Target.CreationPolicy = name, "Owner"
	if secretType != "" {
		es.Spec.Target.Template = &struct {
			Type string `json:"type"`
		}{Type: secretType}
	}
	for _, k := range keys {
		d := externalSecretData{SecretKey: k}
		d.RemoteRef.Key, d.RemoteRef.Property = remoteKey, k
		es.Spec.Data = append(es.Spec.Data, d)
	}
	return es
}

func (sys *system) rabbitmqObjects(users []string) []any {
	ns := sys.namespace(messagingName)
	rc := &rabbitmqCluster{TypeMeta: typeMeta("rabbitmq.com/v1beta1", "RabbitmqCluster"), ObjectMeta: metav1.ObjectMeta{Name: analyze.BackingRabbitMQ, Namespace: ns, Labels: sys.labels(analyze.BackingRabbitMQ, "messaging")}}
	rc.Spec.Replicas = 3
	rc.Spec.Persistence.Storage = "5Gi"
	rc.Spec.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("512Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	// The operator labels the broker pods app.kubernetes.io/name=rabbitmq,
	// which is what the policy selects.
	var from []networkingv1.NetworkPolicyPeer
	for _, u := range users {
		from = append(from, sys.peer(u))
	}
	return []any{rc, sys.networkPolicy(analyze.BackingRabbitMQ, ns, sys.labels(analyze.BackingRabbitMQ, "messaging"), 5672, from)}
}

func (sys *system) imageUpdateAutomation() *iauv1.ImageUpdateAutomation {
	return &iauv1.ImageUpdateAutomation{
		TypeMeta:   typeMeta(iauv1.GroupVersion.String(), "ImageUpdateAutomation"),
		ObjectMeta: metav1.ObjectMeta{Name: sys.m.Name, Namespace: fluxNS},
		Spec: iauv1.ImageUpdateAutomationSpec{
			Interval:  duration(10 * time.Minute),
			SourceRef: iauv1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: sys.m.Name},
			GitSpec: &iauv1.GitSpec{
				Checkout: &iauv1.GitCheckoutSpec{Reference: sourcev1.GitRepositoryRef{Branch: sys.opts.Branch}},
				Commit: iauv1.CommitSpec{
					Author:          iauv1.CommitUser{Name: "fluxcdbot", Email: "fluxcdbot@users.noreply.github.com"},
					MessageTemplate: "chore(images): update {{ range .Changed.Changes }}{{ .OldValue }} -> {{ .NewValue }} {{ end }}",
				},
				Push: &iauv1.PushSpec{Branch: sys.opts.Branch},
			},
			Update: &iauv1.UpdateStrategy{Strategy: iauv1.UpdateStrategySetters, Path: "./gitops/apps"},
		},
	}
}

// withImageSetter marks every container image of a rendered workload with a
// Flux image policy setter comment, editing the YAML with kyaml so the
// comment is attached to the node rather than glued onto text.
func withImageSetter(doc []byte, setter string) ([]byte, error) {
	node, err := kyaml.Parse(string(doc))
	if err != nil {
		return nil, err
	}
	containers, err := node.Pipe(kyaml.Lookup("spec", "template", "spec", "containers"))
	if err != nil || containers == nil {
		return nil, fmt.Errorf("no containers to mark: %v", err)
	}
	err = containers.VisitElements(func(el *kyaml.RNode) error {
		img := el.Field("image")
		if img == nil {
			return nil
		}
		img.Value.YNode().LineComment = setter
		return nil
	})
	if err != nil {
		return nil, err
	}
	s, err := node.String()
	return []byte(s), err
}
