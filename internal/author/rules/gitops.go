package rules

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	iauv1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/author"
)

const (
	fluxNS        = "flux-system"
	secretStore   = "kubewright-secrets"
	secretsNS     = "kubewright-secrets"
	gatewayName   = "public"
	messagingName = "messaging"
)

func duration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

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
var operators = map[string]operator{
	analyze.BackingPostgres: {name: "cloudnative-pg", namespace: "cnpg-system", repo: "cnpg", repoURL: "https://cloudnative-pg.github.io/charts",
		releases: []release{{name: "cloudnative-pg", chart: "cloudnative-pg", version: ">=0.26.0 <1.0.0"}}},
	analyze.BackingMariaDB: {name: "mariadb-operator", namespace: "mariadb-operator", repo: "mariadb-operator", repoURL: "https://helm.mariadb.com/mariadb-operator",
		releases: []release{
			{name: "mariadb-operator-crds", chart: "mariadb-operator-crds", version: ">=25.10.0 <27.0.0"},
			{name: "mariadb-operator", chart: "mariadb-operator", version: ">=25.10.0 <27.0.0", dependsOn: "mariadb-operator-crds"},
		}},
	analyze.BackingMongoDB: {name: "mongodb-operator", namespace: "mongodb-operator", repo: "mongodb", repoURL: "https://mongodb.github.io/helm-charts",
		releases: []release{{name: "mongodb-kubernetes", chart: "mongodb-kubernetes", version: ">=1.0.0 <2.0.0",
			values: map[string]any{"operator": map[string]any{"watchNamespace": "*"}}}}},
	analyze.BackingRabbitMQ: {name: "rabbitmq-cluster-operator", namespace: "rabbitmq-system", repo: "bitnami", repoURL: "oci://registry-1.docker.io/bitnamicharts", oci: true,
		releases: []release{{name: "rabbitmq-cluster-operator", chart: "rabbitmq-cluster-operator", version: ">=4.0.0 <5.0.0"}}},
	"external-secrets": {name: "external-secrets", namespace: "external-secrets", repo: "external-secrets", repoURL: "https://charts.external-secrets.io",
		releases: []release{{name: "external-secrets", chart: "external-secrets", version: ">=0.10.0 <3.0.0", values: map[string]any{"installCRDs": true}}}},
	"istio": {name: "istio", namespace: "istio-system", repo: "istio", repoURL: "https://istio-release.storage.googleapis.com/charts",
		releases: []release{
			{name: "istio-base", chart: "base", version: "1.30.x"},
			{name: "istiod", chart: "istiod", version: "1.30.x", dependsOn: "istio-base"},
		}},
}

func (sys *system) gitopsFiles() ([]author.File, error) {
	env := sys.opts.Env
	var files []author.File
	add := func(path, svc string, objs ...any) error {
		b, err := marshalObjects(objs...)
		if err != nil {
			return fmt.Errorf("render %s: %w", path, err)
		}
		files = append(files, author.File{Path: path, Content: b, Service: svc, Part: author.PartGitops})
		return nil
	}
	addKust := func(dir string, resources []string, extra map[string]any) error {
		b, err := kustomization(resources, extra)
		if err != nil {
			return err
		}
		files = append(files, author.File{Path: dir + "/kustomization.yaml", Content: b, Part: author.PartGitops})
		return nil
	}

	// Which operators do the selected services need?
	needs := map[string]bool{"external-secrets": true, "istio": true}
	brokers := map[string][]string{}
	for _, s := range sys.svcs {
		for _, b := range s.Backing {
			k := b.Kind
			if k == analyze.BackingMySQL {
				k = analyze.BackingMariaDB
			}
			if _, ok := operators[k]; ok {
				needs[k] = true
			}
			if shared(b.Kind) {
				brokers[b.Kind] = append(brokers[b.Kind], s.Name)
			}
		}
	}

	// Cluster entry point.
	clusterDir := "gitops/clusters/" + env
	repoName := sys.m.Name
	if err := add(clusterDir+"/source.yaml", "", &sourcev1.GitRepository{
		TypeMeta:   typeMeta(sourcev1.GroupVersion.String(), sourcev1.GitRepositoryKind),
		ObjectMeta: metav1.ObjectMeta{Name: repoName, Namespace: fluxNS},
		Spec: sourcev1.GitRepositorySpec{
			URL: sys.opts.RepoURL, Interval: duration(time.Minute),
			Reference: &sourcev1.GitRepositoryRef{Branch: sys.opts.Branch},
			SecretRef: &meta.LocalObjectReference{Name: "flux-system"},
		},
	}); err != nil {
		return nil, err
	}
	ks := func(name, path string, dependsOn string, wait bool) *kustomizev1.Kustomization {
		k := &kustomizev1.Kustomization{
			TypeMeta:   typeMeta(kustomizev1.GroupVersion.String(), kustomizev1.KustomizationKind),
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: fluxNS},
			Spec: kustomizev1.KustomizationSpec{
				Interval: duration(10 * time.Minute), RetryInterval: ptr(duration(time.Minute)), Timeout: ptr(duration(5 * time.Minute)),
				Path: "./" + path, Prune: true, Wait: wait,
				SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: repoName},
			},
		}
		if dependsOn != "" {
			k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: dependsOn}}
		}
		return k
	}
	if err := add(clusterDir+"/infrastructure.yaml", "",
		ks("infra-controllers", "gitops/infrastructure/controllers", "", true),
		ks("infra-configs", "gitops/infrastructure/configs", "infra-controllers", true)); err != nil {
		return nil, err
	}
	if err := add(clusterDir+"/apps.yaml", "", ks("apps", "gitops/apps/"+env, "infra-configs", false)); err != nil {
		return nil, err
	}
	if err := addKust(clusterDir, []string{"apps.yaml", "infrastructure.yaml", "source.yaml"}, nil); err != nil {
		return nil, err
	}

	// Infrastructure: operators.
	var ctrlRes []string
	var opNames []string
	for k := range needs {
		opNames = append(opNames, k)
	}
	sort.Strings(opNames)
	for _, k := range opNames {
		op := operators[k]
		objs := []any{sys.namespaceObject(op.namespace, flavorRaw), helmRepository(op)}
		for _, r := range op.releases {
			objs = append(objs, helmRelease(op, r))
		}
		if k == "istio" {
			objs = append(objs, sys.namespaceObject(istioIngressNS, flavorRaw), helmRelease(operator{name: "istio", namespace: istioIngressNS, repo: op.repo},
				release{name: "istio-ingress", chart: "gateway", version: "1.30.x", dependsOn: "istiod", dependsOnNS: op.namespace}))
		}
		file := op.name + ".yaml"
		if err := add("gitops/infrastructure/controllers/"+file, "", objs...); err != nil {
			return nil, err
		}
		ctrlRes = append(ctrlRes, file)
	}
	if err := addKust("gitops/infrastructure/controllers", ctrlRes, nil); err != nil {
		return nil, err
	}

	// Infrastructure: configs (secret store, ingress gateway).
	if err := add("gitops/infrastructure/configs/cluster-secret-store.yaml", "", sys.secretStoreObjects()...); err != nil {
		return nil, err
	}
	gw := &istioGateway{TypeMeta: typeMeta("networking.istio.io/v1", "Gateway"), ObjectMeta: metav1.ObjectMeta{Name: gatewayName, Namespace: istioIngressNS}}
	gw.Spec.Selector = map[string]string{"istio": "ingress"}
	srv := istioServer{Hosts: []string{"*." + sys.opts.IngressHost}}
	srv.Port.Number, srv.Port.Name, srv.Port.Protocol = 80, "http", "HTTP"
	gw.Spec.Servers = []istioServer{srv}
	if err := add("gitops/infrastructure/configs/istio-gateway.yaml", "", gw); err != nil {
		return nil, err
	}
	if err := addKust("gitops/infrastructure/configs", []string{"cluster-secret-store.yaml", "istio-gateway.yaml"}, nil); err != nil {
		return nil, err
	}

	// Apps: one base per service, plus the shared brokers.
	var envRes []string
	if sys.sharedNS != "" {
		// The repository keeps every service in one namespace; Flux must
		// create it, since k8s/ is not applied by Flux.
		dir := "gitops/apps/base/namespace"
		if err := add(dir+"/namespace.yaml", "", sys.namespaceObject(sys.sharedNS, flavorGitops)); err != nil {
			return nil, err
		}
		if err := addKust(dir, []string{"namespace.yaml"}, nil); err != nil {
			return nil, err
		}
		envRes = append(envRes, "../base/namespace")
	}
	for _, s := range sys.svcs {
		dir := "gitops/apps/base/" + s.Name
		res, fs, err := sys.gitopsService(s, dir)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
		if err := addKust(dir, res, nil); err != nil {
			return nil, err
		}
		envRes = append(envRes, "../base/"+s.Name)
	}
	if len(brokers) > 0 {
		dir := "gitops/apps/base/" + messagingName
		res := []string{}
		if sys.sharedNS == "" {
			if err := add(dir+"/namespace.yaml", "", sys.namespaceObject(sys.namespace(messagingName), flavorGitops)); err != nil {
				return nil, err
			}
			res = append(res, "namespace.yaml")
		}
		for _, kind := range []string{analyze.BackingKafka, analyze.BackingRabbitMQ} {
			users := brokers[kind]
			if len(users) == 0 {
				continue
			}
			sort.Strings(users)
			var objs []any
			if kind == analyze.BackingRabbitMQ {
				objs = sys.rabbitmqObjects(users)
			} else {
				objs = sys.rawStore(kind, kind, sys.namespace(messagingName), "", "", users)
			}
			if err := add(dir+"/"+kind+".yaml", "", objs...); err != nil {
				return nil, err
			}
			res = append(res, kind+".yaml")
		}
		if err := addKust(dir, res, nil); err != nil {
			return nil, err
		}
		envRes = append(envRes, "../base/"+messagingName)
	}

	// The environment overlay and its image automation.
	envDir := "gitops/apps/" + env
	if err := add(envDir+"/image-update-automation.yaml", "", sys.imageUpdateAutomation()); err != nil {
		return nil, err
	}
	envRes = append(envRes, "image-update-automation.yaml")
	var extra map[string]any
	if needs[analyze.BackingPostgres] && env == "production" {
		// Production runs PostgreSQL with a primary and two replicas.
		extra = map[string]any{"patches": []any{map[string]any{
			"target": map[string]any{"group": "postgresql.cnpg.io", "version": "v1", "kind": "Cluster"},
			"patch":  "- op: replace\n  path: /spec/instances\n  value: 3\n",
		}}}
	}
	if err := addKust(envDir, envRes, extra); err != nil {
		return nil, err
	}
	return files, nil
}

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

// gitopsService renders one service's base directory.
func (sys *system) gitopsService(s analyze.Service, dir string) ([]string, []author.File, error) {
	var res []string
	var files []author.File
	add := func(name string, objs ...any) error {
		b, err := marshalObjects(objs...)
		if err != nil {
			return fmt.Errorf("render %s/%s: %w", dir, name, err)
		}
		if len(b) == 0 {
			return nil
		}
		files = append(files, author.File{Path: dir + "/" + name, Content: b, Service: s.Name, Part: author.PartGitops})
		res = append(res, name)
		return nil
	}
	ns := sys.namespace(s.Name)
	labels := sys.labels(s.Name, component(s))
	w := sys.wire(s, flavorGitops)
	if sys.sharedNS == "" {
		if err := add("namespace.yaml", sys.namespaceObject(ns, flavorGitops)); err != nil {
			return nil, nil, err
		}
	}
	if err := add("configmap.yaml", sys.configMap(s, w)); err != nil {
		return nil, nil, err
	}
	// The Deployment carries the image policy setter so Flux can bump tags.
	dep, err := marshalObjects(sys.deployment(s, w, sys.image(s)))
	if err != nil {
		return nil, nil, err
	}
	dep, err = withImageSetter(dep, fmt.Sprintf(`{"$imagepolicy": "%s:%s"}`, fluxNS, s.Name))
	if err != nil {
		return nil, nil, fmt.Errorf("render %s/deployment.yaml: %w", dir, err)
	}
	files = append(files, author.File{Path: dir + "/deployment.yaml", Content: dep, Service: s.Name, Part: author.PartGitops})
	res = append(res, "deployment.yaml")
	if err := add("service.yaml", sys.service(s)); err != nil {
		return nil, nil, err
	}
	if err := add("networkpolicy.yaml", sys.serviceNetworkPolicy(s, flavorGitops)); err != nil {
		return nil, nil, err
	}
	if err := add("pdb.yaml", sys.pdb(s)); err != nil {
		return nil, nil, err
	}
	repo := &imagev1.ImageRepository{
		TypeMeta:   typeMeta(imagev1.GroupVersion.String(), imagev1.ImageRepositoryKind),
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: fluxNS, Labels: labels},
		Spec:       imagev1.ImageRepositorySpec{Image: sys.opts.Registry + "/" + s.Name, Interval: duration(5 * time.Minute)},
	}
	policy := &imagev1.ImagePolicy{
		TypeMeta:   typeMeta(imagev1.GroupVersion.String(), imagev1.ImagePolicyKind),
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: fluxNS, Labels: labels},
		Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: meta.NamespacedObjectReference{Name: s.Name},
			Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: ">=" + firstTag}},
		},
	}
	if err := add("image-automation.yaml", repo, policy); err != nil {
		return nil, nil, err
	}
	if s.UserFacing && s.Port > 0 {
		vs := &virtualService{TypeMeta: typeMeta("networking.istio.io/v1", "VirtualService"), ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: ns, Labels: labels}}
		vs.Spec.Hosts = []string{sys.host(s)}
		vs.Spec.Gateways = []string{istioIngressNS + "/" + gatewayName}
		var route httpRoute
		dest := routeDestination{Host: fmt.Sprintf("%s.%s.svc.cluster.local", s.Name, ns)}
		dest.Port.Number = 80
		route.Route = []routeTarget{{Destination: dest}}
		route.Timeout = "15s"
		vs.Spec.HTTP = []httpRoute{route}
		if err := add("virtualservice.yaml", vs); err != nil {
			return nil, nil, err
		}
	}
	var secrets []any
	if len(w.secretKeys) > 0 {
		secrets = append(secrets, externalSecretFor(credentialsSecret(s.Name), ns, s.Name, w.secretKeys, labels, ""))
		sys.assume("gitops: put %s's %v in Secret %s/%s (the ClusterSecretStore %s reads it)", s.Name, w.secretKeys, secretsNS, s.Name, secretStore)
	}
	var stores []any
	for _, b := range s.Backing {
		if shared(b.Kind) {
			continue
		}
		objs, creds := sys.operatorStore(s, b.Kind)
		stores = append(stores, objs...)
		if creds != nil {
			secrets = append(secrets, creds)
			var keys []string
			for _, d := range creds.Spec.Data {
				keys = append(keys, d.SecretKey)
			}
			sys.assume("gitops: put %s's database credentials %v in Secret %s/%s-db (username must be %q)", s.Name, keys, secretsNS, s.Name, databaseName(s.Name))
		}
	}
	if err := add("external-secrets.yaml", secrets...); err != nil {
		return nil, nil, err
	}
	if err := add("datastores.yaml", stores...); err != nil {
		return nil, nil, err
	}
	return res, files, nil
}

// operatorStore renders a service's own store as operator custom resources
// and the ExternalSecret its credentials come from. Redis has no operator
// here and runs as a StatefulSet.
func (sys *system) operatorStore(s analyze.Service, kind string) ([]any, *externalSecret) {
	ns := sys.namespace(s.Name)
	name := storeName(s.Name, kind, flavorGitops)
	db := databaseName(s.Name)
	labels := sys.labels(name, "database")
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	meta := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n, Namespace: ns, Labels: labels} }
	switch kind {
	case analyze.BackingPostgres:
		c := &cnpgCluster{TypeMeta: typeMeta("postgresql.cnpg.io/v1", "Cluster"), ObjectMeta: meta(name)}
		c.Spec.Instances = 1
		c.Spec.ImageName = "ghcr.io/cloudnative-pg/postgresql:16.4"
		c.Spec.Storage.Size = "5Gi"
		c.Spec.Bootstrap.InitDB.Database, c.Spec.Bootstrap.InitDB.Owner = db, db
		c.Spec.Bootstrap.InitDB.Secret.Name = storeSecret(s.Name)
		c.Spec.Resources = res
		return []any{c}, externalSecretFor(storeSecret(s.Name), ns, s.Name+"-db", []string{"password", "username"}, labels, "kubernetes.io/basic-auth")
	case analyze.BackingMySQL, analyze.BackingMariaDB:
		m := &mariaDB{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "MariaDB"), ObjectMeta: meta(name)}
		m.Spec.RootPasswordSecretKeyRef = secretKeyRef{Name: storeSecret(s.Name), Key: "root-password"}
		m.Spec.Image, m.Spec.Port, m.Spec.Replicas, m.Spec.Storage.Size, m.Spec.Resources = "docker-registry1.mariadb.com/library/mariadb:11.4", 3306, 1, "5Gi", res
		d := &mariaDBDatabase{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "Database"), ObjectMeta: meta(name + "-" + strings.ReplaceAll(db, "_", "-"))}
		d.Spec.MariaDBRef.Name, d.Spec.Name, d.Spec.CharacterSet, d.Spec.Collate = name, db, "utf8mb4", "utf8mb4_unicode_ci"
		u := &mariaDBUser{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "User"), ObjectMeta: meta(name + "-" + strings.ReplaceAll(db, "_", "-"))}
		u.Spec.MariaDBRef.Name, u.Spec.Name, u.Spec.Host = name, db, "%"
		u.Spec.PasswordSecretKeyRef = secretKeyRef{Name: storeSecret(s.Name), Key: "password"}
		g := &mariaDBGrant{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "Grant"), ObjectMeta: meta(name + "-" + strings.ReplaceAll(db, "_", "-"))}
		g.Spec.MariaDBRef.Name, g.Spec.Privileges, g.Spec.Database, g.Spec.Table, g.Spec.Username, g.Spec.Host = name, []string{"ALL PRIVILEGES"}, db, "*", db, "%"
		return []any{m, d, u, g}, externalSecretFor(storeSecret(s.Name), ns, s.Name+"-db", []string{"password", "root-password", "username"}, labels, "")
	case analyze.BackingMongoDB:
		m := &mongoDBCommunity{TypeMeta: typeMeta("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"), ObjectMeta: meta(name)}
		m.Spec.Members, m.Spec.Type, m.Spec.Version = 3, "ReplicaSet", "7.0.14"
		m.Spec.Security.Authentication.Modes = []string{"SCRAM"}
		m.Spec.Users = []mongoUser{{
			Name: db, DB: "admin", PasswordSecretRef: secretKeyRef{Name: storeSecret(s.Name), Key: "password"},
			Roles:                      []mongoRole{{Name: "readWrite", DB: db}},
			ScramCredentialsSecretName: name + "-" + strings.ReplaceAll(db, "_", "-"),
		}}
		return []any{m}, externalSecretFor(storeSecret(s.Name), ns, s.Name+"-db", []string{"password", "username"}, labels, "")
	}
	return sys.rawStore(kind, name, ns, db, storeSecret(s.Name), []string{s.Name}), nil
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
