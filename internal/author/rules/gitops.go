package rules

import (
	"fmt"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/draft"
)

const (
	fluxNS        = "flux-system"
	secretStore   = "kubewright-secrets"
	secretsNS     = "kubewright-secrets"
	gatewayName   = "public"
	messagingName = "messaging"
)

func duration(d time.Duration) metav1.Duration { return metav1.Duration{Duration: d} }

func (sys *system) gitopsFiles() ([]draft.File, error) {
	env := sys.opts.Env
	var files []draft.File
	add := func(path, svc string, objs ...any) error {
		b, err := marshalObjects(objs...)
		if err != nil {
			return fmt.Errorf("render %s: %w", path, err)
		}
		files = append(files, draft.File{Path: path, Content: b, Service: svc, Part: draft.PartGitops})
		return nil
	}
	addKust := func(dir string, resources []string, extra map[string]any) error {
		b, err := kustomization(resources, extra)
		if err != nil {
			return err
		}
		files = append(files, draft.File{Path: dir + "/kustomization.yaml", Content: b, Part: draft.PartGitops})
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
				release{name: "istio-ingress", chart: "gateway", version: istioVersion, dependsOn: "istiod", dependsOnNS: op.namespace}))
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

// gitopsService renders one service's base directory.
func (sys *system) gitopsService(s analyze.Service, dir string) ([]string, []draft.File, error) {
	var res []string
	var files []draft.File
	add := func(name string, objs ...any) error {
		b, err := marshalObjects(objs...)
		if err != nil {
			return fmt.Errorf("render %s/%s: %w", dir, name, err)
		}
		if len(b) == 0 {
			return nil
		}
		files = append(files, draft.File{Path: dir + "/" + name, Content: b, Service: s.Name, Part: draft.PartGitops})
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
	files = append(files, draft.File{Path: dir + "/deployment.yaml", Content: dep, Service: s.Name, Part: draft.PartGitops})
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
		dest.Port.Number = servicePort(s)
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
	for _, u := range w.uses {
		if u.broker() || u.secret == "" && u.owner != s.Name {
			continue
		}
		if u.owner != s.Name {
			// A user of another service's store reads the same entry of the
			// secret store into a Secret of the same name in its namespace.
			if sys.namespace(s.Name) != u.ns {
				secrets = append(secrets, externalSecretFor(u.secret, ns, u.owner+"-db", credentialKeys(u.kind), labels, ""))
			}
			continue
		}
		objs, creds := sys.operatorStore(u)
		stores = append(stores, objs...)
		sys.storeNotes(u, flavorGitops)
		if creds != nil {
			secrets = append(secrets, creds)
			user := ""
			switch u.kind {
			case analyze.BackingPostgres, analyze.BackingMySQL, analyze.BackingMariaDB, analyze.BackingMongoDB:
				user = fmt.Sprintf(" (username must be %q)", u.db)
			}
			sys.assume("gitops: put %s's database credentials %v in Secret %s/%s-db%s", s.Name, credentialKeys(u.kind), secretsNS, s.Name, user)
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

// operatorStore renders a store a service owns as operator custom
// resources, and the ExternalSecret its credentials come from. Kinds
// without an operator here (Redis, SQL Server) run as StatefulSets.
func (sys *system) operatorStore(u storeUse) ([]any, *externalSecret) {
	name, ns, db := u.name, u.ns, u.db
	labels := sys.labels(name, "database")
	res := resources([2]string{"100m", "256Mi"}, [2]string{"1", "1Gi"})
	meta := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n, Namespace: ns, Labels: labels} }
	remote := u.owner + "-db"
	switch u.kind {
	case analyze.BackingPostgres:
		c := &cnpgCluster{TypeMeta: typeMeta("postgresql.cnpg.io/v1", "Cluster"), ObjectMeta: meta(name)}
		c.Spec.Instances = 1
		c.Spec.ImageName = "ghcr.io/cloudnative-pg/postgresql:16.4"
		c.Spec.Storage.Size = "5Gi"
		c.Spec.Bootstrap.InitDB.Database, c.Spec.Bootstrap.InitDB.Owner = db, db
		c.Spec.Bootstrap.InitDB.Secret.Name = u.secret
		c.Spec.Resources = res
		return []any{c}, externalSecretFor(u.secret, ns, remote, credentialKeys(u.kind), labels, "kubernetes.io/basic-auth")
	case analyze.BackingMySQL, analyze.BackingMariaDB:
		suffix := "-" + strings.ReplaceAll(db, "_", "-")
		m := &mariaDB{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "MariaDB"), ObjectMeta: meta(name)}
		m.Spec.RootPasswordSecretKeyRef = secretKeyRef{Name: u.secret, Key: "root-password"}
		m.Spec.Image, m.Spec.Port, m.Spec.Replicas, m.Spec.Storage.Size, m.Spec.Resources = "docker-registry1.mariadb.com/library/mariadb:11.4", 3306, 1, "5Gi", res
		d := &mariaDBDatabase{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "Database"), ObjectMeta: meta(name + suffix)}
		d.Spec.MariaDBRef.Name, d.Spec.Name, d.Spec.CharacterSet, d.Spec.Collate = name, db, "utf8mb4", "utf8mb4_unicode_ci"
		usr := &mariaDBUser{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "User"), ObjectMeta: meta(name + suffix)}
		usr.Spec.MariaDBRef.Name, usr.Spec.Name, usr.Spec.Host = name, db, "%"
		usr.Spec.PasswordSecretKeyRef = secretKeyRef{Name: u.secret, Key: "password"}
		g := &mariaDBGrant{TypeMeta: typeMeta("k8s.mariadb.com/v1alpha1", "Grant"), ObjectMeta: meta(name + suffix)}
		g.Spec.MariaDBRef.Name, g.Spec.Privileges, g.Spec.Database, g.Spec.Table, g.Spec.Username, g.Spec.Host = name, []string{"ALL PRIVILEGES"}, db, "*", db, "%"
		return []any{m, d, usr, g}, externalSecretFor(u.secret, ns, remote, credentialKeys(u.kind), labels, "")
	case analyze.BackingMongoDB:
		m := &mongoDBCommunity{TypeMeta: typeMeta("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"), ObjectMeta: meta(name)}
		m.Spec.Members, m.Spec.Type, m.Spec.Version = 3, "ReplicaSet", "7.0.14"
		m.Spec.Security.Authentication.Modes = []string{"SCRAM"}
		m.Spec.Users = []mongoUser{{
			Name: db, DB: "admin", PasswordSecretRef: secretKeyRef{Name: u.secret, Key: "password"},
			Roles:                      []mongoRole{{Name: "readWrite", DB: db}},
			ScramCredentialsSecretName: name + "-" + strings.ReplaceAll(db, "_", "-"),
		}}
		return []any{m}, externalSecretFor(u.secret, ns, remote, credentialKeys(u.kind), labels, "")
	}
	var creds *externalSecret
	if u.secret != "" {
		creds = externalSecretFor(u.secret, ns, remote, credentialKeys(u.kind), labels, "")
	}
	return sys.rawStore(u.kind, name, ns, db, u.secret, u.users), creds
}
