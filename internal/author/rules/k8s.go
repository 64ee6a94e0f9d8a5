package rules

import (
	"fmt"
	"strings"

	"github.com/kubewright/kubewright/internal/analyze"
	"github.com/kubewright/kubewright/internal/draft"
)

// k8sFiles renders the plain-manifest setup under k8s/: one directory per
// service with its namespace, workload, networking and own backing stores,
// a shared messaging directory for brokers, and a root kustomization.
func (sys *system) k8sFiles() ([]draft.File, error) {
	var files []draft.File
	var roots []string
	brokers := map[string][]string{}
	for _, s := range sys.svcs {
		if sys.deployed(s) {
			sys.assume("%s already has a workload under k8s/: its manifests were left as they are", s.Name)
			continue
		}
		dir := "k8s/" + s.Name
		fs, err := sys.k8sService(s, dir)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
		roots = append(roots, s.Name)
		for _, b := range s.Backing {
			if shared(b.Kind) {
				brokers[b.Kind] = append(brokers[b.Kind], s.Name)
			}
		}
	}
	if len(brokers) > 0 {
		dir := "k8s/" + messagingName
		ns := sys.namespace(messagingName)
		var res []string
		if sys.sharedNS == "" {
			b, err := marshalObjects(sys.namespaceObject(ns, flavorRaw))
			if err != nil {
				return nil, err
			}
			files = append(files, draft.File{Path: dir + "/namespace.yaml", Content: b, Part: draft.PartK8s})
			res = append(res, "namespace.yaml")
		}
		for _, kind := range []string{analyze.BackingKafka, analyze.BackingRabbitMQ} {
			users := brokers[kind]
			if len(users) == 0 {
				continue
			}
			secret := ""
			if kind == analyze.BackingRabbitMQ {
				secret = "rabbitmq-credentials"
				sys.assume("RabbitMQ in k8s/ reads its user from Secret %s/rabbitmq-credentials (keys username, password): create it before applying", ns)
			}
			b, err := marshalObjects(sys.rawStore(kind, kind, ns, "", secret, users)...)
			if err != nil {
				return nil, err
			}
			files = append(files, draft.File{Path: dir + "/" + kind + ".yaml", Content: b, Part: draft.PartK8s})
			res = append(res, kind+".yaml")
		}
		k, err := kustomization(res, nil)
		if err != nil {
			return nil, err
		}
		files = append(files, draft.File{Path: dir + "/kustomization.yaml", Content: k, Part: draft.PartK8s})
		roots = append(roots, messagingName)
	}
	if len(roots) == 0 {
		return files, nil
	}
	k, err := kustomization(roots, nil)
	if err != nil {
		return nil, err
	}
	files = append(files, draft.File{Path: "k8s/kustomization.yaml", Content: k, Part: draft.PartK8s})
	return files, nil
}

// deployed reports whether the repository's existing k8s/ tree already
// defines a workload for the service.
func (sys *system) deployed(s analyze.Service) bool {
	for _, w := range sys.m.Conventions.Workloads {
		if w == "/"+s.Name || w == sys.namespace(s.Name)+"/"+s.Name || w == sys.sharedNS+"/"+s.Name {
			return true
		}
	}
	return false
}

func (sys *system) k8sService(s analyze.Service, dir string) ([]draft.File, error) {
	ns := sys.namespace(s.Name)
	w := sys.wire(s, flavorRaw)
	type named struct {
		file string
		objs []any
	}
	parts := []named{
		{"configmap.yaml", []any{sys.configMap(s, w)}},
		{"deployment.yaml", []any{sys.deployment(s, w, sys.image(s))}},
		{"service.yaml", []any{sys.service(s)}},
		{"networkpolicy.yaml", []any{sys.serviceNetworkPolicy(s, flavorRaw)}},
		{"pdb.yaml", []any{sys.pdb(s)}},
		{"ingress.yaml", []any{sys.ingress(s)}},
	}
	if sys.sharedNS == "" {
		parts = append([]named{{"namespace.yaml", []any{sys.namespaceObject(ns, flavorRaw)}}}, parts...)
	}
	if len(w.secretKeys) > 0 {
		sys.assume("%s reads %v from Secret %s/%s: create it (kubectl create secret generic %s -n %s --from-literal=...) before applying k8s/",
			s.Name, w.secretKeys, ns, credentialsSecret(s.Name), credentialsSecret(s.Name), ns)
	}
	for _, u := range w.uses {
		if u.broker() {
			continue
		}
		if u.owner == s.Name {
			parts = append(parts, named{u.kind + ".yaml", sys.rawStore(u.kind, u.name, u.ns, u.db, u.secret, u.users)})
			sys.storeNotes(u, flavorRaw)
			if u.secret != "" {
				sys.assume("%s's %s reads its credentials from Secret %s/%s (keys %s): create it before applying k8s/",
					s.Name, u.kind, u.ns, u.secret, strings.Join(credentialKeys(u.kind), ", "))
			}
			continue
		}
		if u.secret != "" && sys.namespace(s.Name) != u.ns {
			sys.assume("%s connects to %s's %s %s: create Secret %s/%s with the same %s as %s/%s before applying k8s/",
				s.Name, u.owner, u.kind, u.name, sys.namespace(s.Name), u.secret, strings.Join(credentialKeys(u.kind), ", "), u.ns, u.secret)
		}
	}
	var files []draft.File
	var res []string
	for _, p := range parts {
		b, err := marshalObjects(p.objs...)
		if err != nil {
			return nil, fmt.Errorf("render %s/%s: %w", dir, p.file, err)
		}
		if len(b) == 0 {
			continue
		}
		files = append(files, draft.File{Path: dir + "/" + p.file, Content: b, Service: s.Name, Part: draft.PartK8s})
		res = append(res, p.file)
	}
	k, err := kustomization(res, nil)
	if err != nil {
		return nil, err
	}
	files = append(files, draft.File{Path: dir + "/kustomization.yaml", Content: k, Service: s.Name, Part: draft.PartK8s})
	return files, nil
}
